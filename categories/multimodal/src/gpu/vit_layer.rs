//! The pre-norm ViT encoder layer on packed rows (SigLIP's `Siglip2EncoderLayer`, DINOv3's
//! `DINOv3ViTLayer`): `x += scale1 ⊙ o(attn(norm1(x)))`, `x += scale2 ⊙ mlp(norm2(x))`.
//!
//! There is no plain add op, so the residual adds ride on the fused residual-add LayerNorm,
//! as vLLM runs pre-norm decoders: the layer receives `x` and `norm1(x)` already computed, adds
//! the attention output into `x` while computing `norm2(x)`, and adds the MLP output into `x`
//! while computing the *next* norm (the next layer's `norm1`, or the model's final norm). `x`
//! is this layer's output either way (HF's `hidden_states`), the second buffer its
//! normalisation for whatever comes next.

use fk_baselines::ops::{self, GeluApprox, GeluMode, PackedAttention, Padding, Rope2d};
use fk_baselines::reference::modules::Activation;
use fk_baselines::Context;
use fk_runtime::linear::Linear;
use fk_runtime::{DType, Device, Error, Result, Tensor};

/// `nn.LayerNorm` weights (bias optional).
pub struct LayerNormWeights {
    pub weight: Tensor,
    pub bias: Option<Tensor>,
    pub eps: f32,
}

impl LayerNormWeights {
    pub fn forward(&self, ctx: &Context, x: &Tensor, out: &Tensor) -> Result<()> {
        ops::layer_norm(&ctx.ops, x, &self.weight, self.bias.as_ref(), self.eps, out)
    }

    /// `residual += input; out = norm(residual)`.
    pub fn forward_residual(&self, ctx: &Context, input: &Tensor, residual: &Tensor, out: &Tensor) -> Result<()> {
        ops::fused_add_layer_norm(&ctx.ops, input, residual, &self.weight, self.bias.as_ref(), self.eps, out)
    }
}

/// The gated MLP's activation (`act(gate) · up` as one fused op).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GatedAct {
    Silu,
    Gelu(GeluApprox),
}

/// The feed-forward block; the down projection carries `layer_scale2` when there is one.
pub enum VitMlp {
    /// `down(act(up(x)))` (SigLIP `fc1/fc2`, DINOv3 `up_proj/down_proj`).
    Plain { up: Linear, down: Linear, act: GeluMode },
    /// `down(act(gate(x)) · up(x))` with gate and up rows stacked (`gate_up`, gate first).
    Gated { gate_up: Linear, down: Linear, act: GatedAct },
}

impl VitMlp {
    pub fn plain_act(act: Activation) -> Result<GeluMode> {
        match act {
            Activation::Gelu => Ok(GeluMode::Erf),
            Activation::GeluTanh => Ok(GeluMode::Tanh),
            Activation::QuickGelu => Ok(GeluMode::Quick),
            other => Err(Error::config(format!("hidden_act {other:?} has no GPU kernel for a plain MLP (gelu, gelu_pytorch_tanh, quick_gelu)"))),
        }
    }

    pub fn gated_act(act: Activation) -> Result<GatedAct> {
        match act {
            Activation::Silu => Ok(GatedAct::Silu),
            Activation::Gelu => Ok(GatedAct::Gelu(GeluApprox::None)),
            Activation::GeluTanh => Ok(GatedAct::Gelu(GeluApprox::Tanh)),
            other => Err(Error::config(format!("hidden_act {other:?} has no GPU kernel for a gated MLP (silu, gelu, gelu_pytorch_tanh)"))),
        }
    }

    pub fn intermediate_size(&self) -> usize {
        match self {
            VitMlp::Plain { down, .. } | VitMlp::Gated { down, .. } => down.in_features(),
        }
    }

    /// Width of the first GEMM's output (`2·intermediate` when gated).
    pub fn inter_width(&self) -> usize {
        match self {
            VitMlp::Plain { .. } => self.intermediate_size(),
            VitMlp::Gated { .. } => 2 * self.intermediate_size(),
        }
    }

    /// `x` `[T, hidden]` → `out` `[T, hidden]`, with scratch `inter` `[T, inter_width]` and
    /// `act` `[T, intermediate]` (unused by the plain MLP).
    pub fn forward(&self, ctx: &Context, x: &Tensor, inter: &Tensor, act: &Tensor, out: &Tensor) -> Result<()> {
        match self {
            VitMlp::Plain { up, down, act: GeluMode::Tanh } => {
                // The tanh form (SigLIP) has cuBLASLt's GELU epilogue: no separate pass.
                ops::linear_gelu_tanh(ctx, x, up, inter)?;
                ops::linear(ctx, inter, down, out)
            }
            VitMlp::Plain { up, down, act: mode } => {
                ops::linear(ctx, x, up, inter)?;
                ops::gelu(&ctx.ops, inter, inter, *mode)?;
                ops::linear(ctx, inter, down, out)
            }
            VitMlp::Gated { gate_up, down, act: kind } => {
                ops::linear(ctx, x, gate_up, inter)?;
                match kind {
                    GatedAct::Silu => ops::silu_and_mul(&ctx.ops, inter, act)?,
                    GatedAct::Gelu(a) => ops::gelu_and_mul(&ctx.ops, inter, act, *a)?,
                }
                ops::linear(ctx, act, down, out)
            }
        }
    }
}

pub struct VitLayer {
    pub norm1: LayerNormWeights,
    /// q, k, v stacked; `o_proj` carries `layer_scale1` when there is one.
    pub qkv: Linear,
    pub o_proj: Linear,
    pub norm2: LayerNormWeights,
    pub mlp: VitMlp,
    pub heads: usize,
    pub head_dim: usize,
}

/// Scratch of one forward: `qkv` `[T, 3h]`, `attn`/`tmp` `[T, h]`, `inter` `[T, 2i]` (gated)
/// or `[T, i]`, `act` `[T, i]`.
pub struct VitLayerBuffers {
    pub qkv: Tensor,
    pub attn: Tensor,
    pub tmp: Tensor,
    pub inter: Tensor,
    pub act: Tensor,
}

impl VitLayerBuffers {
    pub fn new(dev: &Device, layer: &VitLayer, tokens: usize, dtype: DType) -> Result<VitLayerBuffers> {
        let h = layer.o_proj.out_features();
        let (i, inter) = (layer.mlp.intermediate_size(), layer.mlp.inter_width());
        Ok(VitLayerBuffers {
            qkv: Tensor::empty(dev, &[tokens, 3 * h], dtype)?,
            attn: Tensor::empty(dev, &[tokens, h], dtype)?,
            tmp: Tensor::empty(dev, &[tokens, h], dtype)?,
            inter: Tensor::empty(dev, &[tokens, inter], dtype)?,
            act: Tensor::empty(dev, &[tokens, i], dtype)?,
        })
    }
}

impl VitLayer {
    /// Check the projections fit `heads × head_dim` (named error instead of a GEMM failure).
    pub fn check(&self) -> Result<()> {
        let h = self.heads * self.head_dim;
        if self.qkv.out_features() != 3 * h || self.qkv.in_features() != h || self.o_proj.in_features() != h || self.o_proj.out_features() != h {
            return Err(Error::shape(
                "VitLayer",
                format!("qkv [{}, {}] / o_proj [{}, {}] do not fit {} heads of {}", self.qkv.out_features(), self.qkv.in_features(), self.o_proj.out_features(), self.o_proj.in_features(), self.heads, self.head_dim),
            ));
        }
        Ok(())
    }

    /// On entry `x` holds the layer input and `normed` = `norm1(x)`; on return `x` is the
    /// layer output and `normed` = `next_norm(x)`. `rope` rotates q and k (DINOv3).
    #[allow(clippy::too_many_arguments)]
    pub fn forward(
        &self,
        ctx: &Context,
        padding: &Padding,
        attention: &PackedAttention,
        rope: Option<&Rope2d<'_>>,
        x: &Tensor,
        normed: &Tensor,
        next_norm: &LayerNormWeights,
        buf: &VitLayerBuffers,
    ) -> Result<()> {
        let h = self.heads * self.head_dim;
        ops::linear(ctx, normed, &self.qkv, &buf.qkv)?;
        let (q, k, v) = (buf.qkv.narrow(1, 0, h)?, buf.qkv.narrow(1, h, h)?, buf.qkv.narrow(1, 2 * h, h)?);
        if let Some(r) = rope {
            ops::rope_2d(&ctx.ops, r, &q, Some(&k))?;
        }
        attention.forward(&ctx.ops, padding, &q, &k, &v, &buf.attn)?;
        ops::linear(ctx, &buf.attn, &self.o_proj, &buf.tmp)?;
        // x += attention; tmp = norm2(x)
        self.norm2.forward_residual(ctx, &buf.tmp, x, &buf.tmp)?;
        self.mlp.forward(ctx, &buf.tmp, &buf.inter, &buf.act, &buf.attn)?;
        // x += mlp; normed = next_norm(x)
        next_norm.forward_residual(ctx, &buf.attn, x, normed)
    }
}
