//! HF `BertLayer`: `BertAttention` (self-attention + `attention.output`), `BertIntermediate`,
//! `BertOutput`, post-norm, on packed rows.

use fk_baselines::ops::{self, GeluMode, PackedAttention, Padding};
use fk_baselines::Context;
use fk_runtime::linear::Linear;
use fk_runtime::{DType, Device, Error, Result, Tensor};

/// `attention.self.{query,key,value}` as one fused `[3·hidden, hidden]` projection (q, k, v
/// rows stacked, biases likewise: one GEMM instead of three), `attention.output.dense`, and
/// `attention.output.LayerNorm`.
pub struct BertAttention {
    pub qkv: Linear,
    pub output_dense: Linear,
    pub output_layer_norm_weight: Tensor,
    pub output_layer_norm_bias: Tensor,
}

pub struct BertLayer {
    pub attention: BertAttention,
    /// `intermediate.dense`.
    pub intermediate: Linear,
    /// `output.dense` and `output.LayerNorm`.
    pub output_dense: Linear,
    pub output_layer_norm_weight: Tensor,
    pub output_layer_norm_bias: Tensor,
    pub layer_norm_eps: f32,
    pub act: GeluMode,
}

/// Scratch of one forward (the layers run one after another, so one set): `qkv` `[T, 3h]`,
/// `attn`/`tmp` `[T, h]`, `inter` `[T, intermediate]`.
pub struct LayerBuffers {
    pub qkv: Tensor,
    pub attn: Tensor,
    pub tmp: Tensor,
    pub inter: Tensor,
}

impl LayerBuffers {
    pub fn new(dev: &Device, tokens: usize, hidden: usize, intermediate: usize, dtype: DType) -> Result<LayerBuffers> {
        Ok(LayerBuffers {
            qkv: Tensor::empty(dev, &[tokens, 3 * hidden], dtype)?,
            attn: Tensor::empty(dev, &[tokens, hidden], dtype)?,
            tmp: Tensor::empty(dev, &[tokens, hidden], dtype)?,
            inter: Tensor::empty(dev, &[tokens, intermediate], dtype)?,
        })
    }
}

impl BertLayer {
    /// `x` `[T, hidden]` packed rows, in place: `h = LN(x + o(attn(x)))`, then
    /// `x = LN(h + out(act(inter(h))))`. The fused residual-add norm does each add and norm in
    /// one pass; the buffers rotate so nothing is copied (x holds the first sum, which is dead
    /// once h exists, so the output GEMM writes over it).
    pub fn forward(&self, ctx: &Context, padding: &Padding, attention: &PackedAttention, x: &Tensor, buf: &LayerBuffers) -> Result<()> {
        let h = x.dim(1);
        let a = &self.attention;
        ops::linear(ctx, x, &a.qkv, &buf.qkv)?;
        let (q, k, v) = (buf.qkv.narrow(1, 0, h)?, buf.qkv.narrow(1, h, h)?, buf.qkv.narrow(1, 2 * h, h)?);
        attention.forward(&ctx.ops, padding, &q, &k, &v, &buf.attn)?;
        ops::linear(ctx, &buf.attn, &a.output_dense, &buf.tmp)?;
        let eps = self.layer_norm_eps;
        // x = x + attn_out; tmp = LN(x)  (= h)
        ops::fused_add_layer_norm(&ctx.ops, &buf.tmp, x, &a.output_layer_norm_weight, Some(&a.output_layer_norm_bias), eps, &buf.tmp)?;
        ops::linear(ctx, &buf.tmp, &self.intermediate, &buf.inter)?;
        ops::gelu(&ctx.ops, &buf.inter, &buf.inter, self.act)?;
        ops::linear(ctx, &buf.inter, &self.output_dense, x)?;
        // tmp = h + mlp_out; x = LN(tmp)
        ops::fused_add_layer_norm(&ctx.ops, x, &buf.tmp, &self.output_layer_norm_weight, Some(&self.output_layer_norm_bias), eps, x)
    }
}

impl BertAttention {
    pub fn new(qkv: Linear, output_dense: Linear, w: Tensor, b: Tensor) -> Result<BertAttention> {
        let h = output_dense.out_features();
        if qkv.in_features() != h || qkv.out_features() != 3 * h || output_dense.in_features() != h {
            return Err(Error::shape(
                "BertAttention",
                format!("qkv [{}, {}] / output.dense [{h}, {}] do not fit hidden {h}", qkv.out_features(), qkv.in_features(), output_dense.in_features()),
            ));
        }
        Ok(BertAttention { qkv, output_dense, output_layer_norm_weight: w, output_layer_norm_bias: b })
    }
}
