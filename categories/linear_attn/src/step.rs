//! One step of a recurrent causal LM over the state cache, as every model of the family runs
//! it: what the step is (a packed prefill of variable-length sequences, or one decode token per
//! sequence), which rows get logits, what comes back, the host-side checks of a step's inputs,
//! and the [`RecurrentLm`] trait through which the engine runner and the CLI drive any of the
//! family's models (Mamba, Mamba-2, ...): a model gives its names, sizes and [`ResidualStack`];
//! the eager step, the graph-capturable decode step and greedy decoding come with the trait.

use crate::decode::{DecodeBuffers, SlotMixer};
use crate::stack::{RecurrentMixer, ResidualStack};
use crate::{RecurrentStateCache, StateCacheSpec};
use fk_baselines::Context;
use fk_runtime::{DType, Device, Error, Result, Tensor};

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

/// Per prompt: the greedy tokens, and per token the logits row it was chosen from.
pub type GreedyOutput = (Vec<Vec<u32>>, Vec<Vec<Vec<f32>>>);

/// Host-side checks of a step's inputs (`op` names the model in errors), so that bad input is
/// an error naming it rather than a kernel's silent zero row: ids inside the vocabulary, one
/// length per slot adding up to the ids (prefill) or one id per slot (decode), and a cache
/// made for `spec`. Slot validity is checked by [`RecurrentStateCache::batch`].
pub fn check_step(op: &str, vocab: usize, ids: &[u32], slots: &[usize], step: Step, cache: &RecurrentStateCache, spec: &StateCacheSpec) -> Result<()> {
    if let Some((i, &bad)) = ids.iter().enumerate().find(|(_, &t)| t as usize >= vocab) {
        return Err(Error::bad_input(op, format!("token {i} has id {bad}, outside the vocabulary [0, {vocab})")));
    }
    if slots.is_empty() {
        return Err(Error::bad_input(op, "empty batch"));
    }
    match step {
        Step::Prefill { lens } => {
            if lens.len() != slots.len() {
                return Err(Error::bad_input(op, format!("{} sequence lengths for {} state slots", lens.len(), slots.len())));
            }
            if lens.contains(&0) || lens.iter().sum::<usize>() != ids.len() {
                return Err(Error::bad_input(op, format!("sequence lengths {lens:?} must be > 0 and add up to the {} token ids", ids.len())));
            }
        }
        Step::Decode if ids.len() != slots.len() => {
            return Err(Error::bad_input(op, format!("decode takes one token per sequence: {} ids for {} slots", ids.len(), slots.len())));
        }
        Step::Decode => {}
    }
    if cache.spec() != spec {
        return Err(Error::bad_input(op, format!("state cache {:?} was not made for this model ({spec:?})", cache.spec())));
    }
    Ok(())
}

/// First maximum, as torch.argmax picks on ties.
fn argmax(row: &[f32]) -> u32 {
    row.iter().enumerate().fold(0, |best, (j, &x)| if x > row[best] { j } else { best }) as u32
}

/// A recurrent causal LM on the GPU: HF's `MambaModel` / `Mamba2Model` layout (a
/// [`ResidualStack`] over its mixer), run a step at a time over a batch of state-cache slots,
/// eagerly ([`Self::forward_device`]) or as a graph-capturable decode step by slot
/// ([`Self::decode_step`]).
pub trait RecurrentLm {
    type Mixer: RecurrentMixer + SlotMixer;

    /// The model's name in errors and reports (`Mamba2ForCausalLM`).
    fn name(&self) -> &str;
    fn vocab_size(&self) -> usize;
    /// The activation dtype.
    fn dtype(&self) -> DType;
    fn device(&self) -> &Device;
    /// The recurrent state one sequence needs, per layer.
    fn state_spec(&self) -> StateCacheSpec;
    /// Layers and sizes for reports (`64 layers, hidden 4096`).
    fn describe_shape(&self) -> String;
    /// The weights in stack order, borrowed.
    fn stack(&self) -> ResidualStack<'_, Self::Mixer>;

    /// Runs one step of the batch whose sequence s owns state slot `slots[s]`: a prefill
    /// continues from the slot's state (reset a slot with [`RecurrentStateCache::reset`] to
    /// start a sequence), a decode step advances it by one token. The logits stay on the
    /// device (`[rows, vocab]`, model dtype, what the GPU sampler takes); the returned
    /// `StepOutput` has no host logits.
    #[allow(clippy::too_many_arguments)]
    fn forward_device(&self, ctx: &Context, ids: &[u32], step: Step, cache: &RecurrentStateCache, slots: &[usize], rows: LogitsRows, debug: bool) -> Result<(Tensor, StepOutput)> {
        check_step(self.name(), self.vocab_size(), ids, slots, step, cache, &self.state_spec())?;
        self.stack().forward(ctx, ids, step, cache.batch(slots)?, rows, debug)
    }

    /// Buffers for graph-capturable decode steps of up to `rows` sequences over `cache`.
    fn decode_buffers(&self, cache: &RecurrentStateCache, rows: usize) -> Result<DecodeBuffers<<Self::Mixer as SlotMixer>::Buffers>> {
        self.stack().decode_buffers(cache, rows)
    }

    /// Write the next decode step's inputs: token `ids[b]` continues the sequence in slot `slots[b]`.
    fn stage_decode(&self, bufs: &mut DecodeBuffers<<Self::Mixer as SlotMixer>::Buffers>, cache: &RecurrentStateCache, ids: &[u32], slots: &[usize]) -> Result<()> {
        self.stack().stage_decode(self.name(), &self.state_spec(), bufs, cache, ids, slots)
    }

    /// The decode step on the staged inputs (kernel launches only: what a CUDA graph captures).
    fn decode_step(&self, ctx: &Context, cache: &RecurrentStateCache, bufs: &DecodeBuffers<<Self::Mixer as SlotMixer>::Buffers>) -> Result<()> {
        self.stack().decode_step(ctx, cache, bufs)
    }

    /// Weight bytes one forward step reads from device memory (the decode step's roofline):
    /// every block's norm and mixer, the final norm and lm_head. Of the embedding table a step
    /// reads only its tokens' rows, so an untied table is not counted; a tied one is, once,
    /// as lm_head.
    fn streamed_weight_bytes(&self) -> usize {
        let s = self.stack();
        let blocks: usize = s.blocks.iter().map(|(norm, m)| norm.nbytes() + m.weight_bytes()).sum();
        blocks + s.norm_f.nbytes() + s.lm_head.nbytes()
    }

    /// A state cache for `slots` concurrent sequences on the model's device.
    fn new_state_cache(&self, slots: usize) -> Result<RecurrentStateCache> {
        RecurrentStateCache::new(self.device(), self.state_spec(), slots)
    }

    /// [`Self::forward_device`] with the logits downloaded (f32).
    #[allow(clippy::too_many_arguments)]
    fn forward(&self, ctx: &Context, ids: &[u32], step: Step, cache: &RecurrentStateCache, slots: &[usize], rows: LogitsRows, debug: bool) -> Result<StepOutput> {
        let (logits, mut out) = self.forward_device(ctx, ids, step, cache, slots, rows, debug)?;
        out.logits = logits.to_f32()?;
        Ok(out)
    }

    /// Greedy continuations of `prompts` (batched prefill, then batched decode steps) on a
    /// fresh state cache: the tokens and, per prompt, the logits each token was chosen from.
    fn greedy(&self, ctx: &Context, prompts: &[Vec<u32>], n: usize) -> Result<GreedyOutput> {
        let mut cache = self.new_state_cache(prompts.len().max(1))?;
        let slots = cache.slots_mut().allocate_many(prompts.len()).map_err(|e| Error::bad_input(self.name(), e.to_string()))?;
        for &s in &slots {
            cache.reset(s)?;
        }
        let lens: Vec<usize> = prompts.iter().map(|p| p.len()).collect();
        let v = self.vocab_size();
        let mut out = self.forward(ctx, &prompts.concat(), Step::Prefill { lens: &lens }, &cache, &slots, LogitsRows::Last, false)?;
        let (mut tokens, mut rows) = (vec![Vec::new(); prompts.len()], vec![Vec::new(); prompts.len()]);
        for step in 0..n {
            let next: Vec<u32> = out.logits.chunks_exact(v).map(argmax).collect();
            for (s, row) in out.logits.chunks_exact(v).enumerate() {
                tokens[s].push(next[s]);
                rows[s].push(row.to_vec());
            }
            if step + 1 < n {
                out = self.forward(ctx, &next, Step::Decode, &cache, &slots, LogitsRows::All, false)?;
            }
        }
        Ok((tokens, rows))
    }
}
