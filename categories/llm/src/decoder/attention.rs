use fk_baselines::ops::{self, PagedKv, Rotary};
use fk_baselines::Context;
use crate::{paged_attention, AttentionScratch, AttentionSpec, ForwardBatch};
use fk_runtime::linear::Linear;
use fk_runtime::{Error, Result, Tensor};

/// HF `LlamaAttention` / `MixtralAttention` (`q_proj`, `k_proj`, `v_proj`, `o_proj`, rotary on q and k, causal
/// GQA softmax attention), executed as vLLM does: one GEMM over the fused `qkv_proj` weight
/// (the checkpoint's q, k and v rows stacked in that order), the rotary kernel in place on the
/// q and k column views, paged attention over the KV cache, and `o_proj`.
pub struct DecoderAttention {
    pub qkv_proj: Linear,
    pub o_proj: Linear,
    pub spec: AttentionSpec,
}

/// Per-model buffers of the attention layers (they run one after another, so one set).
pub struct AttentionBuffers {
    pub qkv: Tensor,
    pub attn: Tensor,
    pub kernels: AttentionScratch,
}

impl DecoderAttention {
    pub fn new(qkv_proj: Linear, o_proj: Linear, spec: AttentionSpec) -> Result<DecoderAttention> {
        let (q, kv) = (spec.heads * spec.head_dim, spec.kv_heads * spec.head_dim);
        if qkv_proj.out_features() != q + 2 * kv || o_proj.in_features() != q || o_proj.out_features() != qkv_proj.in_features() {
            return Err(Error::shape(
                "DecoderAttention",
                format!(
                    "qkv_proj [{}, {}] / o_proj [{}, {}] do not fit {} heads and {} kv heads of {}",
                    qkv_proj.out_features(),
                    qkv_proj.in_features(),
                    o_proj.out_features(),
                    o_proj.in_features(),
                    spec.heads,
                    spec.kv_heads,
                    spec.head_dim
                ),
            ));
        }
        Ok(DecoderAttention { qkv_proj, o_proj, spec })
    }

    /// `x` `[T, hidden]` → `out` `[T, hidden]` for the rows of `batch`; new keys/values go
    /// into `cache`. `out` may be `x` itself (x is consumed by the first GEMM).
    #[allow(clippy::too_many_arguments)]
    pub fn forward_into(&self, ctx: &Context, x: &Tensor, batch: &ForwardBatch, cache: &PagedKv<'_>, rope: &Rotary<'_>, buf: &AttentionBuffers, out: &Tensor) -> Result<()> {
        let t = batch.num_tokens;
        let (q_w, kv_w) = (self.spec.heads * self.spec.head_dim, self.spec.kv_heads * self.spec.head_dim);
        let qkv = buf.qkv.narrow(0, 0, t)?;
        ops::linear(ctx, x, &self.qkv_proj, &qkv)?;
        let q = qkv.narrow(1, 0, q_w)?;
        let k = qkv.narrow(1, q_w, kv_w)?;
        let v = qkv.narrow(1, q_w + kv_w, kv_w)?;
        ops::rotary_embedding(&ctx.ops, rope, &batch.positions, &q, Some(&k), &buf.kernels.status)?;
        let attn = buf.attn.narrow(0, 0, t)?;
        paged_attention(ctx, &self.spec, &q, &k, &v, cache, batch, &buf.kernels, &attn)?;
        ops::linear(ctx, &attn, &self.o_proj, out)
    }
}
