//! HF `BertPooler`: `tanh(dense(hidden[:, 0]))`.

use fk_baselines::ops::{self, Padding};
use fk_baselines::Context;
use fk_runtime::linear::Linear;
use fk_runtime::{Result, Tensor};

/// `[batch, hidden]`: the first real token of each sequence from the packed rows `[total,
/// hidden]` (`cu_seqlens[b]`, which is HF's `hidden[:, 0]` for right-padded batches).
pub fn first_tokens(ctx: &Context, padding: &Padding, packed: &Tensor) -> Result<Tensor> {
    let dev = &ctx.device;
    // Sequence s's first packed row is cu_seqlens[s]: the offsets already on the device are
    // the index (an upload here would wait for all queued work).
    let index = padding.cu_seqlens.narrow(0, 0, padding.batch)?;
    let cls = Tensor::empty(dev, &[padding.batch, packed.dim(1)], packed.dtype())?;
    ops::gather_rows(&ctx.ops, packed, &index, &cls, None)?;
    Ok(cls)
}

pub struct BertPooler {
    pub dense: Linear,
}

impl BertPooler {
    /// `[batch, hidden]` from the packed last hidden state `[total, hidden]`: the
    /// [`first_tokens`], the dense GEMM on the device, then tanh on the host. There is no tanh op,
    /// and this `[batch, hidden]` tail is the one place that would need it: ColBERT and
    /// BGE-M3 do not use the pooler, so a new kernel in every op table is not worth it.
    /// The download syncs the stream.
    pub fn forward(&self, ctx: &Context, padding: &Padding, packed: &Tensor) -> Result<Tensor> {
        let (dev, dtype) = (&ctx.device, packed.dtype());
        let cls = first_tokens(ctx, padding, packed)?;
        let dense = Tensor::empty(dev, &[padding.batch, self.dense.out_features()], dtype)?;
        ops::linear(ctx, &cls, &self.dense, &dense)?;
        let tanh: Vec<f32> = dense.to_f32()?.into_iter().map(|x| fk_runtime::host::round_scalar((x as f64).tanh(), dtype) as f32).collect();
        Tensor::from_f32(dev, &tanh, dense.shape(), dtype)
    }
}
