//! The layer stack HF's `MambaModel` and `Mamba2Model` share, on the GPU: embeddings, blocks
//! of RMSNorm → mixer → residual add, norm_f, lm_head; one step over a batch of state-cache
//! slots, prefill (packed variable-length sequences) or decode (one token each). The models
//! differ only in their mixer ([`RecurrentMixer`]).
//!
//! The residual stream is kept in the model dtype and each block's norm is fused with the
//! previous block's residual add (`fused_add_rms_norm`, vLLM's layout). HF keeps the residual
//! in f32 under `residual_in_fp32`; in fp32 that is the same computation, in bf16 it rounds
//! the residual once per block more than HF. On Mamba's tiny bf16 golden the CPU reference with
//! a bf16 residual is 1.31e-2 from HF's logits against 1.22e-2 with an f32 one, both within the
//! 2e-2 bar; an f32 residual needs a mixed-dtype add+norm kernel the baselines lack.

use crate::state_cache::LayerStates;
use crate::step::{LogitsRows, Step, StepOutput};
use crate::StateBatch;
use fk_baselines::ops::{self, SeqLens};
use fk_baselines::Context;
use fk_runtime::linear::Linear;
use fk_runtime::{Result, Tensor};

/// A block's mixer: hidden `[tokens, hidden]` → `[tokens, hidden]`, advancing the batch's
/// recurrent states (row s of `states` is sequence s's).
pub trait RecurrentMixer {
    /// The packed sequences of `seqlens`, each continuing from its state row.
    fn prefill(&self, ctx: &Context, hidden: &Tensor, seqlens: &SeqLens, states: &LayerStates) -> Result<Tensor>;
    /// One token per sequence.
    fn decode(&self, ctx: &Context, hidden: &Tensor, states: &LayerStates) -> Result<Tensor>;
    /// Device bytes of every parameter: a decode step reads each of them once (the roofline
    /// of decode and of the benches).
    fn weight_bytes(&self) -> usize;
    /// FLOPs one token costs: the projections' 2·in·out each plus the scan's recurrence
    /// (~6 per state element, the count of the sequential form whatever algorithm runs it).
    fn flops_per_token(&self) -> u64;
}

/// Borrowed views of a model's weights in stack order.
pub struct ResidualStack<'a, M> {
    /// `[vocab, hidden]`, model dtype (the activation dtype).
    pub embeddings: &'a Tensor,
    /// Per block: its `norm.weight` and its mixer.
    pub blocks: Vec<(&'a Tensor, &'a M)>,
    pub norm_f: &'a Tensor,
    pub lm_head: &'a Linear,
    pub eps: f32,
}

impl<M: RecurrentMixer> ResidualStack<'_, M> {
    /// One step of `ids` (already checked, see [`crate::check_step`]) over `states`, the
    /// batch's slots. Returns the logits on the device (`[rows, vocab]`, model dtype) and, with
    /// `debug`, each block's output and the final norm.
    pub fn forward(&self, ctx: &Context, ids: &[u32], step: Step, mut states: StateBatch, rows: LogitsRows, debug: bool) -> Result<(Tensor, StepOutput)> {
        let dev = &ctx.device;
        let dtype = self.embeddings.dtype();
        let (t, h) = (ids.len(), self.embeddings.dim(1));
        let seqlens = match step {
            Step::Prefill { lens } => Some(SeqLens::from_lens(dev, lens)?),
            Step::Decode => None,
        };
        let ids_t = Tensor::from_i32(dev, &ids.iter().map(|&x| x as i32).collect::<Vec<_>>(), &[t])?;
        let residual = Tensor::empty(dev, &[t, h], dtype)?;
        let status = ops::DeviceStatus::new(dev)?;
        ops::embedding(&ctx.ops, &ids_t, self.embeddings, &residual, &status)?;
        let mut x = Tensor::empty(dev, &[t, h], dtype)?;
        let mut layer_outputs = Vec::new();
        for (l, (norm, mixer)) in self.blocks.iter().enumerate() {
            if l == 0 {
                ops::rms_norm(&ctx.ops, &residual, norm, self.eps, &x)?;
            } else {
                // residual += previous block's mixer output; x = norm(residual).
                ops::fused_add_rms_norm(&ctx.ops, &x, &residual, norm, self.eps)?;
                if debug {
                    layer_outputs.push(residual.to_f32()?);
                }
            }
            let st = states.layer(l)?;
            x = match &seqlens {
                Some(sl) => mixer.prefill(ctx, &x, sl, &st)?,
                None => mixer.decode(ctx, &x, &st)?,
            };
        }
        states.finish()?;
        ops::fused_add_rms_norm(&ctx.ops, &x, &residual, self.norm_f, self.eps)?;
        let mut final_norm = Vec::new();
        if debug {
            layer_outputs.push(residual.to_f32()?);
            final_norm = x.to_f32()?;
        }
        let picked = match (rows, step) {
            (LogitsRows::Last, Step::Prefill { lens }) => {
                // Copy each sequence's last row into one [batch, hidden] input for lm_head.
                let last = Tensor::empty(dev, &[lens.len(), h], dtype)?;
                let mut end = 0;
                for (s, &len) in lens.iter().enumerate() {
                    end += len;
                    last.narrow(0, s, 1)?.copy_from(&x.narrow(0, end - 1, 1)?)?;
                }
                last
            }
            _ => x,
        };
        let logits = Tensor::empty(dev, &[picked.dim(0), self.lm_head.out_features()], dtype)?;
        ops::linear(ctx, &picked, self.lm_head, &logits)?;
        Ok((logits, StepOutput { logits: Vec::new(), rows: picked.dim(0), layer_outputs, final_norm }))
    }
}
