use super::attention::AttentionBuffers;
use super::{LlamaAttention, LlamaMLP, LlamaRMSNorm, MlpScratch};
use fk_baselines::ops::{self, PagedKv, Rotary};
use fk_baselines::Context;
use fk_llm::ForwardBatch;
use fk_runtime::{Result, Tensor};

/// HF `LlamaDecoderLayer`: `h = x + self_attn(input_layernorm(x))`, `out = h +
/// mlp(post_attention_layernorm(h))`, with vLLM's residual fusion: the stream is carried as
/// (`hidden`, `residual`) and each norm is `fused_add_rms_norm`, which adds the previous
/// sublayer's output into `residual` and normalises it in one pass. The layer's HF output is
/// therefore `residual + hidden` after it returns (see [`LlamaDecoderLayer::forward`]).
pub struct LlamaDecoderLayer {
    pub input_layernorm: LlamaRMSNorm,
    pub self_attn: LlamaAttention,
    pub post_attention_layernorm: LlamaRMSNorm,
    pub mlp: LlamaMLP,
}

/// The buffers one forward step's layers share.
pub struct LayerBuffers {
    pub attn: AttentionBuffers,
    pub mlp: MlpScratch,
}

impl LlamaDecoderLayer {
    /// One layer over `batch`'s rows. On entry `residual` holds the stream and `hidden` the
    /// previous layer's MLP output — except for the first layer (`first`), where `residual`
    /// holds the embeddings and `hidden` is ignored. On return `hidden` holds this layer's
    /// MLP output and `residual` the stream before it was added.
    #[allow(clippy::too_many_arguments)]
    pub fn forward(&self, ctx: &Context, hidden: &Tensor, residual: &Tensor, first: bool, batch: &ForwardBatch, cache: &PagedKv<'_>, rope: &Rotary<'_>, buf: &LayerBuffers) -> Result<()> {
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
