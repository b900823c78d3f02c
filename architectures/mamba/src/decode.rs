//! Graph-capturable decode steps of `MambaForCausalLM`: one token for each of up to `rows`
//! sequences, on activations allocated once per batch bucket ([`DecodeBuffers`]) and reading
//! each sequence's recurrent state straight from its slot of the cache (no gather/scatter), so
//! the whole step (embedding, 64 mixers, norms, lm_head) is one CUDA graph replay. What
//! changes between steps, the token ids and the slots, is written into the buffers before the
//! replay ([`MambaForCausalLM::stage_decode`]). Rows past the live sequences are padding: they
//! run through the row-wise ops on token 0 and touch no state.

use crate::mixer::MixerDecodeBuffers;
use crate::model::MambaForCausalLM;
use fk_baselines::ops::{self, DeviceStatus, StateSlots};
use fk_baselines::Context;
use fk_linear_attn::RecurrentStateCache;
use fk_runtime::{Error, Result, Tensor};

pub struct DecodeBuffers {
    rows: usize,
    ids: Tensor,
    slots: StateSlots,
    residual: Tensor,
    /// The normed hidden state a mixer reads, then its output (see `MambaMixer::decode_slots`).
    hidden: Tensor,
    mixer: MixerDecodeBuffers,
    logits: Tensor,
    status: DeviceStatus,
    /// Live sequences of the staged step.
    live: usize,
}

impl DecodeBuffers {
    /// Batch rows (the bucket size).
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// `[live, vocab]` logits of the last step (model dtype; what the sampler takes).
    pub fn logits(&self) -> Result<Tensor> {
        self.logits.narrow(0, 0, self.live)
    }
}

impl MambaForCausalLM {
    /// Buffers for decode steps of up to `rows` sequences over `cache`.
    pub fn decode_buffers(&self, cache: &RecurrentStateCache, rows: usize) -> Result<DecodeBuffers> {
        let dev = self.backbone.embeddings.device();
        let (h, dtype) = (self.config.hidden_size, self.dtype);
        let mixer = self.backbone.layers.first().ok_or_else(|| Error::config("MambaForCausalLM has no layers"))?;
        Ok(DecodeBuffers {
            rows,
            ids: Tensor::zeros(dev, &[rows], fk_runtime::DType::I32)?,
            slots: StateSlots::new(dev, rows, cache.slots().num_slots())?,
            residual: Tensor::zeros(dev, &[rows, h], dtype)?,
            hidden: Tensor::zeros(dev, &[rows, h], dtype)?,
            mixer: MixerDecodeBuffers::new(dev, &mixer.mixer, rows, dtype)?,
            logits: Tensor::zeros(dev, &[rows, self.config.vocab_size], dtype)?,
            status: DeviceStatus::new(dev)?,
            live: 0,
        })
    }

    /// Write the next step's inputs: token `ids[b]` continues the sequence in slot `slots[b]`.
    pub fn stage_decode(&self, bufs: &mut DecodeBuffers, cache: &RecurrentStateCache, ids: &[u32], slots: &[usize]) -> Result<()> {
        const OP: &str = "MambaForCausalLM decode";
        if ids.is_empty() || ids.len() != slots.len() || ids.len() > bufs.rows {
            return Err(Error::bad_input(OP, format!("{} ids for {} slots in buffers of {} rows", ids.len(), slots.len(), bufs.rows)));
        }
        let v = self.config.vocab_size;
        if let Some((i, &bad)) = ids.iter().enumerate().find(|(_, &t)| t as usize >= v) {
            return Err(Error::bad_input(OP, format!("token {i} has id {bad}, outside the vocabulary [0, {v})")));
        }
        if *cache.spec() != self.state_spec() || cache.slots().num_slots() != bufs.slots.capacity() {
            return Err(Error::bad_input(OP, format!("state cache {:?} was not made for these buffers / this model", cache.spec())));
        }
        cache.slots().check_batch(slots).map_err(|e| Error::bad_input(OP, e.to_string()))?;
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
    pub fn decode_step(&self, ctx: &Context, cache: &RecurrentStateCache, bufs: &DecodeBuffers) -> Result<()> {
        let eps = self.config.layer_norm_epsilon;
        ops::embedding(&ctx.ops, &bufs.ids, &self.backbone.embeddings, &bufs.residual, &bufs.status)?;
        for (l, block) in self.backbone.layers.iter().enumerate() {
            if l == 0 {
                ops::rms_norm(&ctx.ops, &bufs.residual, &block.norm, eps, &bufs.hidden)?;
            } else {
                ops::fused_add_rms_norm(&ctx.ops, &bufs.hidden, &bufs.residual, &block.norm, eps)?;
            }
            block.mixer.decode_slots(ctx, &bufs.hidden, cache.conv(l)?, cache.ssm(l)?, &bufs.slots, &bufs.mixer)?;
        }
        ops::fused_add_rms_norm(&ctx.ops, &bufs.hidden, &bufs.residual, &self.backbone.norm_f, eps)?;
        ops::linear(ctx, &bufs.hidden, &self.lm_head, &bufs.logits)
    }
}
