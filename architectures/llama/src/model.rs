//! HF `LlamaModel` (`embed_tokens`, `layers`, `norm`) and `LlamaForCausalLM` (+ `lm_head`,
//! tied to `embed_tokens` when `tie_word_embeddings`), running one step of a batch over the
//! paged KV cache. Weights come from an HF folder ([`crate::weights`]) or are drawn at random
//! from a config for benchmarks.

use crate::config::LlamaConfig;
use crate::modules::attention::AttentionBuffers;
use crate::modules::decoder_layer::LayerBuffers;
use crate::modules::{LlamaDecoderLayer, LlamaRMSNorm};
use crate::rope;
use fk_baselines::ops::{self, DeviceStatus, Rotary};
use fk_baselines::Context;
use fk_llm::attention::prefill_kernel_supports;
use fk_llm::{AttentionScratch, CausalLm, ForwardBatch, LmSpec, PagedKvCache, ScratchSizes};
use fk_runtime::linear::Linear;
use fk_runtime::{DType, Device, Error, Result, Tensor};

pub struct LlamaModel {
    pub embed_tokens: Tensor,
    pub layers: Vec<LlamaDecoderLayer>,
    pub norm: LlamaRMSNorm,
    /// `[max_position_embeddings, head_dim]` f32 (cos | sin), the rotary kernel's table.
    pub cos_sin_cache: Tensor,
}

pub struct LlamaForCausalLM {
    pub config: LlamaConfig,
    pub dtype: DType,
    pub model: LlamaModel,
    /// `[vocab, hidden]`; shares `embed_tokens`' storage when the embeddings are tied.
    pub lm_head: Linear,
}

/// Activation buffers of one step, allocated once at the maximum step size.
pub struct LlamaScratch {
    pub hidden: Tensor,
    pub residual: Tensor,
    /// `[max_seqs, hidden]`: the final-norm rows whose logits are computed.
    pub last: Tensor,
    pub layers: LayerBuffers,
    pub embed_status: DeviceStatus,
}

/// What [`LlamaForCausalLM::forward_debug`] captures besides the logits.
pub struct DebugOutputs {
    /// Each decoder layer's HF output (`residual + hidden`), `[T, hidden]` f32, rounded to
    /// the model dtype like the HF tensor.
    pub layer_outputs: Vec<Vec<f32>>,
    /// `model.norm`'s output `[T, hidden]`.
    pub final_norm: Vec<f32>,
}

impl LlamaForCausalLM {
    pub fn device(&self) -> &Device {
        self.model.embed_tokens.device()
    }

    fn rotary(&self) -> Rotary<'_> {
        Rotary { head_size: self.config.head_dim, cos_sin_cache: &self.model.cos_sin_cache, is_neox_style: true }
    }

    /// The layers and the final norm over `batch`: on return `hidden` holds the final norm of
    /// every row. `after_layer(i, hidden, residual)` sees the stream after each layer.
    fn run_layers(
        &self,
        ctx: &Context,
        batch: &ForwardBatch,
        kv: &PagedKvCache,
        s: &LlamaScratch,
        mut after_layer: impl FnMut(usize, &Tensor, &Tensor) -> Result<()>,
    ) -> Result<(Tensor, Tensor)> {
        let t = batch.num_tokens;
        if t == 0 || t > s.hidden.dim(0) {
            return Err(Error::bad_input("LlamaForCausalLM", format!("{t} tokens in a step; the scratch holds 1..={}", s.hidden.dim(0))));
        }
        if kv.layers() != self.model.layers.len() {
            return Err(Error::shape("LlamaForCausalLM", format!("KV cache has {} layers, the model {}", kv.layers(), self.model.layers.len())));
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
    pub fn forward_debug(&self, ctx: &Context, batch: &ForwardBatch, kv: &PagedKvCache, s: &LlamaScratch, logits: &Tensor) -> Result<DebugOutputs> {
        let dtype = self.dtype;
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

    fn logits_into(&self, ctx: &Context, batch: &ForwardBatch, hidden: &Tensor, s: &LlamaScratch, logits: &Tensor) -> Result<()> {
        let n = batch.logits_rows.dim(0);
        if logits.shape() != [n, self.config.vocab_size] || n > s.last.dim(0) {
            return Err(Error::shape("LlamaForCausalLM", format!("logits {logits:?} must be [{n}, {}] (at most {} rows)", self.config.vocab_size, s.last.dim(0))));
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
            n += l.mlp.gate_up_proj.weight.nbytes() + l.mlp.down_proj.weight.nbytes();
            n += l.input_layernorm.weight.nbytes() + l.post_attention_layernorm.weight.nbytes();
        }
        n
    }

    /// Weight bytes one forward step streams: everything but the embedding table, of which a
    /// step reads only its tokens' rows (unless tied, when the table is also the LM head).
    pub fn streamed_weight_bytes(&self) -> usize {
        if self.lm_head.weight.overlaps(&self.model.embed_tokens) {
            self.weight_bytes()
        } else {
            self.weight_bytes() - self.model.embed_tokens.nbytes()
        }
    }

    pub(crate) fn cos_sin_cache(dev: &Device, cfg: &LlamaConfig) -> Result<Tensor> {
        let p = cfg.max_position_embeddings;
        Tensor::from_f32(dev, &rope::cos_sin_cache(cfg, p), &[p, cfg.head_dim], DType::F32)
    }
}

impl CausalLm for LlamaForCausalLM {
    type Scratch = LlamaScratch;

    fn spec(&self) -> LmSpec {
        let c = &self.config;
        LmSpec {
            num_layers: c.num_hidden_layers,
            kv_heads: c.num_key_value_heads,
            head_dim: c.head_dim,
            hidden_size: c.hidden_size,
            vocab_size: c.vocab_size,
            max_position_embeddings: c.max_position_embeddings,
            dtype: self.dtype,
        }
    }

    fn scratch(&self, z: &ScratchSizes) -> Result<LlamaScratch> {
        let (dev, c, dt) = (self.device(), &self.config, self.dtype);
        let (q, kv) = (c.num_attention_heads * c.head_dim, c.num_key_value_heads * c.head_dim);
        let spec = &self.model.layers[0].self_attn.spec;
        Ok(LlamaScratch {
            hidden: Tensor::empty(dev, &[z.max_tokens, c.hidden_size], dt)?,
            residual: Tensor::empty(dev, &[z.max_tokens, c.hidden_size], dt)?,
            last: Tensor::empty(dev, &[z.max_seqs.max(z.max_tokens), c.hidden_size], dt)?,
            layers: LayerBuffers {
                attn: AttentionBuffers {
                    qkv: Tensor::empty(dev, &[z.max_tokens, q + 2 * kv], dt)?,
                    attn: Tensor::empty(dev, &[z.max_tokens, q], dt)?,
                    kernels: AttentionScratch::new(dev, spec, z.max_seqs, z.max_blocks, z.block_size)?,
                },
                mlp: self.model.layers[0].mlp.scratch(dev, z.max_tokens, dt)?,
            },
            embed_status: DeviceStatus::new(dev)?,
        })
    }

    fn needs_per_token_view(&self) -> bool {
        !prefill_kernel_supports(self.dtype, self.config.head_dim)
    }

    fn streamed_weight_bytes(&self) -> usize {
        LlamaForCausalLM::streamed_weight_bytes(self)
    }

    fn forward(&self, ctx: &Context, batch: &ForwardBatch, kv: &PagedKvCache, s: &LlamaScratch, logits: &Tensor) -> Result<()> {
        let (hidden, _) = self.run_layers(ctx, batch, kv, s, |_, _, _| Ok(()))?;
        self.logits_into(ctx, batch, &hidden, s, logits)
    }
}
