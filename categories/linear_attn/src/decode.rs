//! Graph-capturable decode steps of a recurrent LM's [`ResidualStack`]: one token for each of
//! up to `rows` sequences, on activations allocated once per batch bucket ([`DecodeBuffers`])
//! and reading each sequence's recurrent state straight from its slot of the cache (no
//! gather/scatter), so the whole step (embedding, every mixer, norms, lm_head) is one CUDA
//! graph replay. What changes between steps, the token ids and the slots, is written into the
//! buffers before the replay ([`ResidualStack::stage_decode`]). Rows past the live sequences
//! are padding: they run through the row-wise ops on token 0 and touch no state.

use crate::stack::ResidualStack;
use crate::{RecurrentStateCache, StateCacheSpec};
use fk_baselines::ops::{self, DeviceStatus, StateSlots};
use fk_baselines::Context;
use fk_runtime::{DType, Device, Error, Result, Tensor};

/// A mixer's decode step by state slot, on preallocated activations (graph-capturable).
pub trait SlotMixer {
    /// The mixer's activations for up to `rows` one-token rows.
    type Buffers;
    /// Zeroed buffers: padding rows of a bucket flow through the row-wise ops and must stay
    /// finite.
    fn decode_buffers(&self, dev: &Device, rows: usize, dtype: DType) -> Result<Self::Buffers>;
    /// `hidden` `[rows, hidden]` in, the mixer's output written back into it; row b's states
    /// are row `slots[b]` of `conv` and `ssm` (the layer's whole cache tensors).
    fn decode_slots(&self, ctx: &Context, hidden: &Tensor, conv: &Tensor, ssm: &Tensor, slots: &StateSlots, bufs: &Self::Buffers) -> Result<()>;
    /// The whole stack's blocks (norm, mixer, residual add) in one launch where the mixer has
    /// such a kernel for this batch: on `residual` `[rows, hidden]` (in: the embeddings; out:
    /// the stream after the last block's add, before the final norm). Returns `false`, having
    /// launched nothing, where it does not apply: the stack then runs its per-layer ops.
    fn decode_stack(_ctx: &Context, _blocks: &[(&Tensor, &Self)], _eps: f32, _residual: &Tensor, _cache: &RecurrentStateCache, _slots: &StateSlots, _bufs: &Self::Buffers) -> Result<bool>
    where
        Self: Sized,
    {
        Ok(false)
    }
}

pub struct DecodeBuffers<B> {
    rows: usize,
    ids: Tensor,
    slots: StateSlots,
    residual: Tensor,
    /// The normed hidden state a mixer reads, then its output.
    hidden: Tensor,
    mixer: B,
    logits: Tensor,
    status: DeviceStatus,
    /// Live sequences of the staged step.
    live: usize,
}

impl<B> DecodeBuffers<B> {
    /// Batch rows (the bucket size).
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// The mixer's activations (and its knobs, such as Mamba's one-kernel step).
    pub fn mixer_mut(&mut self) -> &mut B {
        &mut self.mixer
    }

    /// `[live, vocab]` logits of the last step (model dtype; what the sampler takes).
    pub fn logits(&self) -> Result<Tensor> {
        self.logits.narrow(0, 0, self.live)
    }
}

impl<M: SlotMixer> ResidualStack<'_, M> {
    /// Buffers for decode steps of up to `rows` sequences over `cache`.
    pub fn decode_buffers(&self, cache: &RecurrentStateCache, rows: usize) -> Result<DecodeBuffers<M::Buffers>> {
        let dev = self.embeddings.device();
        let (h, dtype) = (self.embeddings.dim(1), self.embeddings.dtype());
        let (_, mixer) = self.blocks.first().ok_or_else(|| Error::config("a recurrent model without layers"))?;
        Ok(DecodeBuffers {
            rows,
            ids: Tensor::zeros(dev, &[rows], DType::I32)?,
            slots: StateSlots::new(dev, rows, cache.slots().num_slots())?,
            residual: Tensor::zeros(dev, &[rows, h], dtype)?,
            hidden: Tensor::zeros(dev, &[rows, h], dtype)?,
            mixer: mixer.decode_buffers(dev, rows, dtype)?,
            logits: Tensor::zeros(dev, &[rows, self.lm_head.out_features()], dtype)?,
            status: DeviceStatus::new(dev)?,
            live: 0,
        })
    }

    /// Write the next step's inputs: token `ids[b]` continues the sequence in slot `slots[b]`.
    /// `op` names the model in errors; `spec` is its state spec (the cache must match it).
    pub fn stage_decode(&self, op: &str, spec: &StateCacheSpec, bufs: &mut DecodeBuffers<M::Buffers>, cache: &RecurrentStateCache, ids: &[u32], slots: &[usize]) -> Result<()> {
        let op = format!("{op} decode");
        if ids.is_empty() || ids.len() != slots.len() || ids.len() > bufs.rows {
            return Err(Error::bad_input(&op, format!("{} ids for {} slots in buffers of {} rows", ids.len(), slots.len(), bufs.rows)));
        }
        let v = self.lm_head.out_features();
        if let Some((i, &bad)) = ids.iter().enumerate().find(|(_, &t)| t as usize >= v) {
            return Err(Error::bad_input(&op, format!("token {i} has id {bad}, outside the vocabulary [0, {v})")));
        }
        if cache.spec() != spec || cache.slots().num_slots() != bufs.slots.capacity() {
            return Err(Error::bad_input(&op, format!("state cache {:?} was not made for these buffers / this model", cache.spec())));
        }
        cache.slots().check_batch(slots).map_err(|e| Error::bad_input(&op, e.to_string()))?;
        bufs.slots.set(slots)?;
        let mut padded: Vec<i32> = ids.iter().map(|&t| t as i32).collect();
        padded.resize(bufs.rows, 0);
        let bytes: Vec<u8> = padded.iter().flat_map(|v| v.to_le_bytes()).collect();
        bufs.ids.device().htod(bufs.ids.ptr(), &bytes)?;
        bufs.live = ids.len();
        Ok(())
    }

    /// The step on the staged inputs: only kernel launches on `bufs` and the cache (what a
    /// CUDA graph captures). Logits land in `bufs` ([`DecodeBuffers::logits`]).
    pub fn decode_step(&self, ctx: &Context, cache: &RecurrentStateCache, bufs: &DecodeBuffers<M::Buffers>) -> Result<()> {
        ops::embedding(&ctx.ops, &bufs.ids, self.embeddings, &bufs.residual, &bufs.status)?;
        if M::decode_stack(ctx, &self.blocks, self.eps, &bufs.residual, cache, &bufs.slots, &bufs.mixer)? {
            ops::rms_norm(&ctx.ops, &bufs.residual, self.norm_f, self.eps, &bufs.hidden)?;
            return ops::linear(ctx, &bufs.hidden, self.lm_head, &bufs.logits);
        }
        for (l, (norm, mixer)) in self.blocks.iter().enumerate() {
            if l == 0 {
                ops::rms_norm(&ctx.ops, &bufs.residual, norm, self.eps, &bufs.hidden)?;
            } else {
                ops::fused_add_rms_norm(&ctx.ops, &bufs.hidden, &bufs.residual, norm, self.eps)?;
            }
            mixer.decode_slots(ctx, &bufs.hidden, cache.conv(l)?, cache.ssm(l)?, &bufs.slots, &bufs.mixer)?;
        }
        ops::fused_add_rms_norm(&ctx.ops, &bufs.hidden, &bufs.residual, self.norm_f, self.eps)?;
        ops::linear(ctx, &bufs.hidden, self.lm_head, &bufs.logits)
    }
}
