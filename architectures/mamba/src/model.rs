//! HF `MambaBlock`, `MambaModel` and `MambaForCausalLM` on the GPU, running a batch of
//! sequences either as a prefill (variable lengths, packed) or as one decode token each, over
//! the recurrent-state cache of `fk-linear-attn`.
//!
//! The residual stream is kept in the model dtype and each block's norm is fused with the
//! previous block's residual add (`fused_add_rms_norm`, vLLM's layout). HF keeps the residual
//! in f32 under `residual_in_fp32`; in fp32 that is the same computation, in bf16 it rounds
//! the residual once per block more than HF. On the tiny bf16 golden the CPU reference with a
//! bf16 residual is 1.31e-2 from HF's logits against 1.22e-2 with an f32 one, both within the
//! 2e-2 bar; an f32 residual needs a mixed-dtype add+norm kernel the baselines lack.

use crate::mixer::MambaMixer;
use crate::MambaConfig;
use fk_baselines::ops::{self, SeqLens};
use fk_baselines::Context;
use fk_linear_attn::{RecurrentStateCache, StateBatch, StateCacheSpec};
use fk_runtime::linear::Linear;
use fk_runtime::{DType, Error, Result, Tensor};

pub struct MambaBlock {
    /// `norm.weight` `[hidden]`.
    pub norm: Tensor,
    pub mixer: MambaMixer,
}

pub struct MambaModel {
    /// `embeddings.weight` `[vocab, hidden]`.
    pub embeddings: Tensor,
    pub layers: Vec<MambaBlock>,
    pub norm_f: Tensor,
}

pub struct MambaForCausalLM {
    pub config: MambaConfig,
    pub dtype: DType,
    pub backbone: MambaModel,
    /// `lm_head`, sharing the embedding table's memory when tied.
    pub lm_head: Linear,
}

/// How a batch runs: packed prompts (or prompt chunks) of these lengths, or one token each.
#[derive(Clone, Copy, Debug)]
pub enum Step<'a> {
    Prefill { lens: &'a [usize] },
    Decode,
}

/// Which rows get logits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogitsRows {
    /// Every token (golden tests).
    All,
    /// The last token of each sequence (generation).
    Last,
}

/// What a step returns: logits (f32, `[rows, vocab]`), and with `debug` each block's output
/// and the final norm `[tokens, hidden]` (what the golden tests compare).
pub struct StepOutput {
    pub logits: Vec<f32>,
    pub rows: usize,
    pub layer_outputs: Vec<Vec<f32>>,
    pub final_norm: Vec<f32>,
}

impl MambaForCausalLM {
    /// Weight bytes one forward step reads from device memory (the decode step's roofline):
    /// every block's norm and mixer, the final norm and lm_head. Of the embedding table a step
    /// reads only its tokens' rows, so an untied table is not counted; a tied one is, once,
    /// as lm_head.
    pub fn streamed_weight_bytes(&self) -> usize {
        let b = &self.backbone;
        let blocks: usize = b
            .layers
            .iter()
            .map(|l| l.norm.nbytes() + l.mixer.weight_bytes())
            .sum();
        let head =
            self.lm_head.weight.nbytes() + self.lm_head.bias.as_ref().map_or(0, Tensor::nbytes);
        blocks + b.norm_f.nbytes() + head
    }

    /// The recurrent state one sequence needs, per layer.
    pub fn state_spec(&self) -> StateCacheSpec {
        let c = &self.config;
        StateCacheSpec {
            layers: c.num_hidden_layers,
            conv_dim: c.intermediate_size,
            d_conv: c.conv_kernel,
            ssm_heads: c.intermediate_size,
            ssm_head_dim: 1,
            d_state: c.state_size,
            conv_dtype: self.dtype,
        }
    }

    /// A state cache for `slots` concurrent sequences on the model's device.
    pub fn new_state_cache(&self, slots: usize) -> Result<RecurrentStateCache> {
        RecurrentStateCache::new(self.backbone.embeddings.device(), self.state_spec(), slots)
    }

    /// Host-side checks of a step's inputs, so that bad input is an error naming it rather than
    /// a kernel's silent zero row.
    fn check_step(
        &self,
        ids: &[u32],
        slots: &[usize],
        step: Step,
        cache: &RecurrentStateCache,
    ) -> Result<()> {
        const OP: &str = "MambaForCausalLM";
        let v = self.config.vocab_size;
        if let Some((i, &bad)) = ids.iter().enumerate().find(|(_, &t)| t as usize >= v) {
            return Err(Error::bad_input(
                OP,
                format!("token {i} has id {bad}, outside the vocabulary [0, {v})"),
            ));
        }
        if slots.is_empty() {
            return Err(Error::bad_input(OP, "empty batch"));
        }
        match step {
            Step::Prefill { lens } => {
                if lens.len() != slots.len() {
                    return Err(Error::bad_input(
                        OP,
                        format!(
                            "{} sequence lengths for {} state slots",
                            lens.len(),
                            slots.len()
                        ),
                    ));
                }
                if lens.contains(&0) || lens.iter().sum::<usize>() != ids.len() {
                    return Err(Error::bad_input(
                        OP,
                        format!(
                            "sequence lengths {lens:?} must be > 0 and add up to the {} token ids",
                            ids.len()
                        ),
                    ));
                }
            }
            Step::Decode if ids.len() != slots.len() => {
                return Err(Error::bad_input(
                    OP,
                    format!(
                        "decode takes one token per sequence: {} ids for {} slots",
                        ids.len(),
                        slots.len()
                    ),
                ));
            }
            Step::Decode => {}
        }
        if *cache.spec() != self.state_spec() {
            return Err(Error::bad_input(
                OP,
                format!(
                    "state cache {:?} was not made for this model ({:?})",
                    cache.spec(),
                    self.state_spec()
                ),
            ));
        }
        Ok(())
    }

    /// Runs one step of the batch whose sequence s owns state slot `slots[s]`: a prefill
    /// continues from the slot's state (reset a slot with [`RecurrentStateCache::reset`] to
    /// start a sequence), a decode step advances it by one token.
    #[allow(clippy::too_many_arguments)]
    pub fn forward(
        &self,
        ctx: &Context,
        ids: &[u32],
        step: Step,
        cache: &RecurrentStateCache,
        slots: &[usize],
        rows: LogitsRows,
        debug: bool,
    ) -> Result<StepOutput> {
        let (logits, mut out) = self.forward_device(ctx, ids, step, cache, slots, rows, debug)?;
        out.logits = logits.to_f32()?;
        Ok(out)
    }

    /// [`Self::forward`] with the logits left on the device (`[rows, vocab]`, model dtype,
    /// what the GPU sampler takes); the returned `StepOutput` has no host logits.
    #[allow(clippy::too_many_arguments)]
    pub fn forward_device(
        &self,
        ctx: &Context,
        ids: &[u32],
        step: Step,
        cache: &RecurrentStateCache,
        slots: &[usize],
        rows: LogitsRows,
        debug: bool,
    ) -> Result<(Tensor, StepOutput)> {
        self.check_step(ids, slots, step, cache)?;
        let dev = &ctx.device;
        let (t, h) = (ids.len(), self.config.hidden_size);
        let seqlens = match step {
            Step::Prefill { lens } => Some(SeqLens::from_lens(dev, lens)?),
            Step::Decode => None,
        };
        let ids_t = Tensor::from_i32(
            dev,
            &ids.iter().map(|&x| x as i32).collect::<Vec<_>>(),
            &[t],
        )?;
        let residual = Tensor::empty(dev, &[t, h], self.dtype)?;
        let status = ops::DeviceStatus::new(dev)?;
        ops::embedding(
            &ctx.ops,
            &ids_t,
            &self.backbone.embeddings,
            &residual,
            &status,
        )?;
        let eps = self.config.layer_norm_epsilon;
        let mut x = Tensor::empty(dev, &[t, h], self.dtype)?;
        let mut layer_outputs = Vec::new();
        let mut states: StateBatch = cache.batch(slots)?;
        for (l, block) in self.backbone.layers.iter().enumerate() {
            if l == 0 {
                ops::rms_norm(&ctx.ops, &residual, &block.norm, eps, &x)?;
            } else {
                // residual += previous block's mixer output; x = norm(residual).
                ops::fused_add_rms_norm(&ctx.ops, &x, &residual, &block.norm, eps)?;
                if debug {
                    layer_outputs.push(residual.to_f32()?);
                }
            }
            let st = states.layer(l)?;
            x = match &seqlens {
                Some(sl) => block.mixer.prefill(ctx, &x, sl, &st)?,
                None => block.mixer.decode(ctx, &x, &st)?,
            };
        }
        states.finish()?;
        ops::fused_add_rms_norm(&ctx.ops, &x, &residual, &self.backbone.norm_f, eps)?;
        let mut final_norm = Vec::new();
        if debug {
            layer_outputs.push(residual.to_f32()?);
            final_norm = x.to_f32()?;
        }
        let picked = match (rows, step) {
            (LogitsRows::Last, Step::Prefill { lens }) => {
                // Copy each sequence's last row into one [batch, hidden] input for lm_head.
                let last = Tensor::empty(dev, &[lens.len(), h], self.dtype)?;
                let mut end = 0;
                for (s, &len) in lens.iter().enumerate() {
                    end += len;
                    last.narrow(0, s, 1)?.copy_from(&x.narrow(0, end - 1, 1)?)?;
                }
                last
            }
            _ => x,
        };
        let logits = Tensor::empty(dev, &[picked.dim(0), self.config.vocab_size], self.dtype)?;
        ops::linear(ctx, &picked, &self.lm_head, &logits)?;
        let out = StepOutput {
            logits: Vec::new(),
            rows: picked.dim(0),
            layer_outputs,
            final_norm,
        };
        Ok((logits, out))
    }

    /// Greedy continuations of `prompts` (batched prefill, then batched decode steps) on a
    /// fresh state cache: the tokens and, per prompt, the logits each token was chosen from.
    pub fn greedy(&self, ctx: &Context, prompts: &[Vec<u32>], n: usize) -> Result<GreedyOutput> {
        let mut cache = self.new_state_cache(prompts.len().max(1))?;
        let slots = cache
            .slots_mut()
            .allocate_many(prompts.len())
            .map_err(|e| Error::bad_input("MambaForCausalLM", e.to_string()))?;
        for &s in &slots {
            cache.reset(s)?;
        }
        let lens: Vec<usize> = prompts.iter().map(|p| p.len()).collect();
        let ids: Vec<u32> = prompts.concat();
        let v = self.config.vocab_size;
        let mut out = self.forward(
            ctx,
            &ids,
            Step::Prefill { lens: &lens },
            &cache,
            &slots,
            LogitsRows::Last,
            false,
        )?;
        let (mut tokens, mut rows) = (
            vec![Vec::new(); prompts.len()],
            vec![Vec::new(); prompts.len()],
        );
        for step in 0..n {
            let next: Vec<u32> = out.logits.chunks_exact(v).map(argmax).collect();
            for (s, row) in out.logits.chunks_exact(v).enumerate() {
                tokens[s].push(next[s]);
                rows[s].push(row.to_vec());
            }
            if step + 1 < n {
                out = self.forward(
                    ctx,
                    &next,
                    Step::Decode,
                    &cache,
                    &slots,
                    LogitsRows::All,
                    false,
                )?;
            }
        }
        Ok((tokens, rows))
    }
}

/// Per prompt: the greedy tokens, and per token the logits row it was chosen from.
pub type GreedyOutput = (Vec<Vec<u32>>, Vec<Vec<Vec<f32>>>);

/// First maximum, as torch.argmax picks on ties.
pub fn argmax(row: &[f32]) -> u32 {
    row.iter()
        .enumerate()
        .fold(0, |best, (j, &x)| if x > row[best] { j } else { best }) as u32
}
