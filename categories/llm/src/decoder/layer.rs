use super::attention::{AttentionBuffers, DecoderAttention};
use super::mlp::{GatedMlp, MlpScratch};
use super::norm::RMSNorm;
use crate::ForwardBatch;
use fk_baselines::ops::{self, PagedKv, Rotary};
use fk_baselines::Context;
use fk_runtime::{DType, Device, Result, Tensor};

/// A decoder layer's feed-forward block: a dense gated MLP ([`GatedMlp`]) or a mixture of
/// experts (Mixtral's `MixtralSparseMoeBlock`). `forward_into` maps `x` `[T, hidden]` to
/// `out` `[T, hidden]` (`out` may be `x`) using buffers made once by `scratch`.
pub trait FeedForward {
    type Scratch;
    fn scratch(&self, dev: &Device, max_tokens: usize, dtype: DType) -> Result<Self::Scratch>;
    fn forward_into(&self, ctx: &Context, x: &Tensor, scratch: &Self::Scratch, out: &Tensor) -> Result<()>;
    /// Device bytes of the block's weights.
    fn weight_bytes(&self) -> usize;
    /// Weight bytes a forward step over `tokens` tokens reads (all of them for a dense MLP;
    /// only the experts it routes to for a mixture of experts, at most all).
    fn streamed_weight_bytes(&self, tokens: usize) -> usize;
    /// Floating-point operations per token (for a mixture of experts: the router and the
    /// experts one token is routed to).
    fn flops_per_token(&self) -> u64;
}

impl FeedForward for GatedMlp {
    type Scratch = MlpScratch;
    fn scratch(&self, dev: &Device, max_tokens: usize, dtype: DType) -> Result<MlpScratch> {
        GatedMlp::scratch(self, dev, max_tokens, dtype)
    }
    fn forward_into(&self, ctx: &Context, x: &Tensor, scratch: &MlpScratch, out: &Tensor) -> Result<()> {
        GatedMlp::forward_into(self, ctx, x, scratch, out)
    }
    fn weight_bytes(&self) -> usize {
        self.gate_up_proj.weight.nbytes() + self.down_proj.weight.nbytes()
    }
    fn streamed_weight_bytes(&self, _tokens: usize) -> usize {
        FeedForward::weight_bytes(self)
    }
    fn flops_per_token(&self) -> u64 {
        // gate_up: 2·h·2i, down: 2·i·h.
        6 * (self.down_proj.out_features() * self.intermediate_size()) as u64
    }
}

/// HF `LlamaDecoderLayer` / `MixtralDecoderLayer` (whose `mlp` is the MoE block): `h = x + self_attn(input_layernorm(x))`, `out = h +
/// mlp(post_attention_layernorm(h))`, with vLLM's residual fusion: the stream is carried as
/// (`hidden`, `residual`) and each norm is `fused_add_rms_norm`, which adds the previous
/// sublayer's output into `residual` and normalises it in one pass. The layer's HF output is
/// therefore `residual + hidden` after it returns (see [`DecoderLayer::forward`]).
pub struct DecoderLayer<F> {
    pub input_layernorm: RMSNorm,
    pub self_attn: DecoderAttention,
    pub post_attention_layernorm: RMSNorm,
    pub mlp: F,
}

/// The buffers one forward step's layers share.
pub struct LayerBuffers<S> {
    pub attn: AttentionBuffers,
    pub mlp: S,
}

impl<F: FeedForward> DecoderLayer<F> {
    /// One layer over `batch`'s rows. On entry `residual` holds the stream and `hidden` the
    /// previous layer's MLP output — except for the first layer (`first`), where `residual`
    /// holds the embeddings and `hidden` is ignored. On return `hidden` holds this layer's
    /// MLP output and `residual` the stream before it was added.
    #[allow(clippy::too_many_arguments)]
    pub fn forward(&self, ctx: &Context, hidden: &Tensor, residual: &Tensor, first: bool, batch: &ForwardBatch, cache: &PagedKv<'_>, rope: &Rotary<'_>, buf: &LayerBuffers<F::Scratch>) -> Result<()> {
        if first {
            ops::rms_norm(&ctx.ops, residual, &self.input_layernorm.weight, self.input_layernorm.variance_epsilon, hidden)?;
        } else {
            self.input_layernorm.forward_residual(ctx, hidden, residual)?;
        }
        self.self_attn.forward_into(ctx, hidden, batch, cache, rope, &buf.attn, hidden)?;
        self.post_attention_layernorm.forward_residual(ctx, hidden, residual)?;
        self.mlp.forward_into(ctx, hidden, &buf.mlp, hidden)
    }
}
