//! SigLIP's attention-pool head on the GPU (`Siglip2MultiheadAttentionPoolingHead`): the
//! learned `probe` as the one query of each image over that image's real tokens
//! (`nn.MultiheadAttention`'s packed `in_proj`, then `out_proj`), then `x + mlp(layernorm(x))`.

use super::vit_layer::{LayerNormWeights, VitMlp};
use fk_baselines::ops::{self, PackedAttention, Padding};
use fk_baselines::Context;
use fk_runtime::linear::Linear;
use fk_runtime::{Result, Tensor};

pub struct MultiheadAttentionPoolingHead {
    /// `probe` `[1, hidden]`.
    pub probe: Tensor,
    /// Rows `0..H` of `in_proj_weight`/`in_proj_bias`.
    pub q_proj: Linear,
    /// Rows `H..3H` (k then v): one GEMM over the image tokens.
    pub kv_proj: Linear,
    pub out_proj: Linear,
    pub layernorm: LayerNormWeights,
    pub mlp: VitMlp,
    pub heads: usize,
}

impl MultiheadAttentionPoolingHead {
    /// `in_proj_weight [3H, H]` and `in_proj_bias [3H]` split into the q and kv projections
    /// (row views of the same tensors: nothing is copied).
    pub fn new(probe: Tensor, in_proj_weight: &Tensor, in_proj_bias: &Tensor, out_proj: Linear, layernorm: LayerNormWeights, mlp: VitMlp, heads: usize) -> Result<Self> {
        let h = in_proj_weight.dim(1);
        let q_proj = Linear::new(in_proj_weight.narrow(0, 0, h)?, Some(in_proj_bias.narrow(0, 0, h)?))?;
        let kv_proj = Linear::new(in_proj_weight.narrow(0, h, 2 * h)?, Some(in_proj_bias.narrow(0, h, 2 * h)?))?;
        Ok(MultiheadAttentionPoolingHead { probe: probe.reshape(&[1, h])?, q_proj, kv_proj, out_proj, layernorm, mlp, heads })
    }

    /// `[batch, hidden]` from the packed post-norm tokens `x` `[total, hidden]`.
    pub fn forward(&self, ctx: &Context, padding: &Padding, x: &Tensor) -> Result<Tensor> {
        let (dev, dtype, h, b, t) = (&ctx.device, x.dtype(), x.dim(1), padding.batch, padding.total);
        let hd = h / self.heads;
        let attention = PackedAttention::pooling(padding, self.heads, self.heads, hd, 1.0 / (hd as f32).sqrt(), dtype)?;
        let q1 = Tensor::empty(dev, &[1, h], dtype)?;
        ops::linear(ctx, &self.probe, &self.q_proj, &q1)?;
        // The same query for every image: replicate the row (a gather of row 0).
        let q = Tensor::empty(dev, &[b, h], dtype)?;
        ops::gather_rows(&ctx.ops, &q1, &Tensor::from_i32(dev, &vec![0; b], &[b])?, &q, None)?;
        let kv = Tensor::empty(dev, &[t, 2 * h], dtype)?;
        ops::linear(ctx, x, &self.kv_proj, &kv)?;
        let ctx_rows = Tensor::empty(dev, &[b, h], dtype)?;
        attention.forward(&ctx.ops, padding, &q, &kv.narrow(1, 0, h)?, &kv.narrow(1, h, h)?, &ctx_rows)?;
        let pooled = Tensor::empty(dev, &[b, h], dtype)?;
        ops::linear(ctx, &ctx_rows, &self.out_proj, &pooled)?;
        let normed = Tensor::empty(dev, &[b, h], dtype)?;
        self.layernorm.forward(ctx, &pooled, &normed)?;
        let inter = Tensor::empty(dev, &[b, self.mlp.inter_width()], dtype)?;
        let act = Tensor::empty(dev, &[b, self.mlp.intermediate_size()], dtype)?;
        let m = Tensor::empty(dev, &[b, h], dtype)?;
        self.mlp.forward(ctx, &normed, &inter, &act, &m)?;
        // pooled += m. There is no add op: the fused residual-add LayerNorm does the add in
        // place (rounded to the dtype, as HF's add) and its normalised output is discarded.
        self.layernorm.forward_residual(ctx, &m, &pooled, &normed)?;
        Ok(pooled)
    }
}
