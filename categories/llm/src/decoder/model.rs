//! A decoder-only causal LM over the paged KV cache (HF `LlamaModel` + `LlamaForCausalLM`,
//! `MixtralModel` + `MixtralForCausalLM`, …): embeddings, decoder layers with a pluggable
//! feed-forward block, the final norm, and the LM head (tied to the embeddings when the
//! config says so). Architecture crates wrap it with their config and loaders.

use super::attention::AttentionBuffers;
use super::layer::{DecoderLayer, FeedForward, LayerBuffers};
use super::norm::RMSNorm;
use crate::attention::prefill_kernel_supports;
use crate::{AttentionScratch, CausalLm, ForwardBatch, LmSpec, PagedKvCache, ScratchSizes};
use fk_baselines::ops::{self, DeviceStatus, Rotary};
use fk_baselines::Context;
use fk_runtime::linear::Linear;
use fk_runtime::{Device, Error, Result, Tensor};

pub struct DecoderModel<F> {
    pub embed_tokens: Tensor,
    pub layers: Vec<DecoderLayer<F>>,
    pub norm: RMSNorm,
    /// `[max_position_embeddings, head_dim]` f32 (cos | sin), the rotary kernel's table.
    pub cos_sin_cache: Tensor,
}

pub struct DecoderForCausalLM<F> {
    /// The model's name in errors (`LlamaForCausalLM`, `MixtralForCausalLM`).
    pub name: &'static str,
    pub spec: LmSpec,
    pub model: DecoderModel<F>,
    /// `[vocab, hidden]`; shares `embed_tokens`' storage when the embeddings are tied.
    pub lm_head: Linear,
}

/// Activation buffers of one step, allocated once at the maximum step size.
pub struct DecoderScratch<S> {
    pub hidden: Tensor,
    pub residual: Tensor,
    /// `[max_seqs, hidden]`: the final-norm rows whose logits are computed.
    pub last: Tensor,
    pub layers: LayerBuffers<S>,
    pub embed_status: DeviceStatus,
}

/// What [`DecoderForCausalLM::forward_debug`] captures besides the logits.
pub struct DebugOutputs {
    /// Each decoder layer's HF output (`residual + hidden`), `[T, hidden]` f32, rounded to
    /// the model dtype like the HF tensor.
    pub layer_outputs: Vec<Vec<f32>>,
    /// `model.norm`'s output `[T, hidden]`.
    pub final_norm: Vec<f32>,
}

impl<F: FeedForward> DecoderForCausalLM<F> {
    pub fn device(&self) -> &Device {
        self.model.embed_tokens.device()
    }

    fn rotary(&self) -> Rotary<'_> {
        Rotary { head_size: self.spec.head_dim, cos_sin_cache: &self.model.cos_sin_cache, is_neox_style: true }
    }

    /// The layers and the final norm over `batch`: on return `hidden` holds the final norm of
    /// every row. `after_layer(i, hidden, residual)` sees the stream after each layer.
    pub fn run_layers(
        &self,
        ctx: &Context,
        batch: &ForwardBatch,
        kv: &PagedKvCache,
        s: &DecoderScratch<F::Scratch>,
        mut after_layer: impl FnMut(usize, &Tensor, &Tensor) -> Result<()>,
    ) -> Result<(Tensor, Tensor)> {
        let t = batch.num_tokens;
        if t == 0 || t > s.hidden.dim(0) {
            return Err(Error::bad_input(self.name, format!("{t} tokens in a step; the scratch holds 1..={}", s.hidden.dim(0))));
        }
        if kv.layers() != self.model.layers.len() {
            return Err(Error::shape(self.name, format!("KV cache has {} layers, the model {}", kv.layers(), self.model.layers.len())));
        }
        let hidden = s.hidden.narrow(0, 0, t)?;
        let residual = s.residual.narrow(0, 0, t)?;
        ops::embedding(&ctx.ops, &batch.input_ids, &self.model.embed_tokens, &residual, &s.embed_status)?;
        let rope = self.rotary();
        for (i, layer) in self.model.layers.iter().enumerate() {
            layer.forward(ctx, &hidden, &residual, i == 0, batch, &kv.layer(i)?, &rope, &s.layers)?;
            after_layer(i, &hidden, &residual)?;
        }
        self.model.norm.forward_residual(ctx, &hidden, &residual)?;
        Ok((hidden, residual))
    }

    /// [`CausalLm::forward`] that also returns every layer's output and the final norm (for
    /// golden tests; it synchronises after every layer).
    pub fn forward_debug(&self, ctx: &Context, batch: &ForwardBatch, kv: &PagedKvCache, s: &DecoderScratch<F::Scratch>, logits: &Tensor) -> Result<DebugOutputs> {
        let dtype = self.spec.dtype;
        let mut layer_outputs = Vec::new();
        let (hidden, _) = self.run_layers(ctx, batch, kv, s, |_, h, r| {
            let (h, r) = (h.to_f32()?, r.to_f32()?);
            layer_outputs.push(h.iter().zip(&r).map(|(&a, &b)| fk_runtime::host::round_scalar(a as f64 + b as f64, dtype) as f32).collect());
            Ok(())
        })?;
        let final_norm = hidden.to_f32()?;
        self.logits_into(ctx, batch, &hidden, s, logits)?;
        Ok(DebugOutputs { layer_outputs, final_norm })
    }

    pub fn logits_into(&self, ctx: &Context, batch: &ForwardBatch, hidden: &Tensor, s: &DecoderScratch<F::Scratch>, logits: &Tensor) -> Result<()> {
        let n = batch.logits_rows.dim(0);
        if logits.shape() != [n, self.spec.vocab_size] || n > s.last.dim(0) {
            return Err(Error::shape(self.name, format!("logits {logits:?} must be [{n}, {}] (at most {} rows)", self.spec.vocab_size, s.last.dim(0))));
        }
        // Gather the rows that need logits (the embedding kernel is exactly a row gather).
        let last = s.last.narrow(0, 0, n)?;
        ops::embedding(&ctx.ops, &batch.logits_rows, hidden, &last, &s.embed_status)?;
        ops::linear(ctx, &last, &self.lm_head, logits)
    }

    /// Device memory of the weights, in bytes.
    pub fn weight_bytes(&self) -> usize {
        let mut n = self.model.embed_tokens.nbytes() + self.model.norm.weight.nbytes();
        if !self.lm_head.weight.overlaps(&self.model.embed_tokens) {
            n += self.lm_head.weight.nbytes();
        }
        for l in &self.model.layers {
            n += l.self_attn.qkv_proj.weight.nbytes() + l.self_attn.o_proj.weight.nbytes();
            n += l.mlp.weight_bytes();
            n += l.input_layernorm.weight.nbytes() + l.post_attention_layernorm.weight.nbytes();
        }
        n
    }

    /// Weight bytes one forward step of `tokens` tokens streams: everything but the
    /// embedding table, of which a step reads only its tokens' rows (unless tied, when the
    /// table is also the LM head), with each feed-forward block's own count.
    pub fn streamed_weight_bytes_for(&self, tokens: usize) -> usize {
        let all_ffn: usize = self.model.layers.iter().map(|l| l.mlp.weight_bytes()).sum();
        let touched_ffn: usize = self.model.layers.iter().map(|l| l.mlp.streamed_weight_bytes(tokens)).sum();
        let base = self.weight_bytes() - all_ffn + touched_ffn;
        if self.lm_head.weight.overlaps(&self.model.embed_tokens) {
            base
        } else {
            base - self.model.embed_tokens.nbytes()
        }
    }
}

impl<F: FeedForward> CausalLm for DecoderForCausalLM<F> {
    type Scratch = DecoderScratch<F::Scratch>;

    fn spec(&self) -> LmSpec {
        self.spec
    }

    fn scratch(&self, z: &ScratchSizes) -> Result<DecoderScratch<F::Scratch>> {
        let (dev, dt, hidden) = (self.device(), self.spec.dtype, self.spec.hidden_size);
        let first = self.model.layers.first().ok_or_else(|| Error::config(format!("{} has no layers", self.name)))?;
        let spec = &first.self_attn.spec;
        let (q, kv) = (spec.heads * spec.head_dim, spec.kv_heads * spec.head_dim);
        Ok(DecoderScratch {
            hidden: Tensor::empty(dev, &[z.max_tokens, hidden], dt)?,
            residual: Tensor::empty(dev, &[z.max_tokens, hidden], dt)?,
            last: Tensor::empty(dev, &[z.max_seqs.max(z.max_tokens), hidden], dt)?,
            layers: LayerBuffers {
                attn: AttentionBuffers {
                    qkv: Tensor::empty(dev, &[z.max_tokens, q + 2 * kv], dt)?,
                    attn: Tensor::empty(dev, &[z.max_tokens, q], dt)?,
                    kernels: AttentionScratch::new(dev, spec, z.max_seqs, z.max_blocks, z.block_size)?,
                },
                mlp: first.mlp.scratch(dev, z.max_tokens, dt)?,
            },
            embed_status: DeviceStatus::new(dev)?,
        })
    }

    fn needs_per_token_view(&self) -> bool {
        !prefill_kernel_supports(self.spec.dtype, self.spec.head_dim)
    }

    fn streamed_weight_bytes(&self) -> usize {
        self.streamed_weight_bytes_for(1)
    }

    fn forward(&self, ctx: &Context, batch: &ForwardBatch, kv: &PagedKvCache, s: &DecoderScratch<F::Scratch>, logits: &Tensor) -> Result<()> {
        let (hidden, _) = self.run_layers(ctx, batch, kv, s, |_, _, _| Ok(()))?;
        self.logits_into(ctx, batch, &hidden, s, logits)
    }
}

/// `impl CausalLm` for an architecture's wrapper around a [`DecoderForCausalLM`] (a struct
/// with an `inner` decoder field): every method is the decoder's.
#[macro_export]
macro_rules! causal_lm_via_decoder {
    ($model:ty, $ffn:ty) => {
        impl $crate::CausalLm for $model {
            type Scratch = $crate::decoder::DecoderScratch<<$ffn as $crate::decoder::FeedForward>::Scratch>;
            fn spec(&self) -> $crate::LmSpec {
                $crate::CausalLm::spec(&self.inner)
            }
            fn scratch(&self, z: &$crate::ScratchSizes) -> fk_runtime::Result<Self::Scratch> {
                $crate::CausalLm::scratch(&self.inner, z)
            }
            fn needs_per_token_view(&self) -> bool {
                $crate::CausalLm::needs_per_token_view(&self.inner)
            }
            /// A decode step of one sequence (the layers' feed-forward blocks count what one
            /// token touches).
            fn streamed_weight_bytes(&self) -> usize {
                self.inner.streamed_weight_bytes_for(1)
            }
            fn forward(
                &self,
                ctx: &fk_baselines::Context,
                batch: &$crate::ForwardBatch,
                kv: &$crate::PagedKvCache,
                s: &Self::Scratch,
                logits: &fk_runtime::Tensor,
            ) -> fk_runtime::Result<()> {
                $crate::CausalLm::forward(&self.inner, ctx, batch, kv, s, logits)
            }
        }
    };
}

/// The logits of every position of `prompt` (`[len, vocab]` f32) with each layer's output and
/// the final norm, through `gen` (what golden tests compare).
pub fn prompt_debug<M, F>(gen: &mut crate::Generator<'_, M>, prompt: &[u32]) -> Result<(DebugOutputs, Vec<f32>)>
where
    M: CausalLm<Scratch = DecoderScratch<F::Scratch>> + std::ops::Deref<Target = DecoderForCausalLM<F>>,
    F: FeedForward,
{
    let mut debug = None;
    let logits = gen.prompt_logits(
        prompt,
        Some(&mut |m: &M, ctx: &Context, batch: &ForwardBatch, kv: &PagedKvCache, s: &DecoderScratch<F::Scratch>, logits: &Tensor| {
            debug = Some(m.forward_debug(ctx, batch, kv, s, logits)?);
            Ok(())
        }),
    )?;
    let debug = debug.ok_or_else(|| Error::config("the debug forward did not run"))?;
    Ok((debug, logits))
}
