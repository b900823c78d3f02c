//! HF `LlamaModel` (`embed_tokens`, `layers`, `norm`) and `LlamaForCausalLM` (+ `lm_head`,
//! tied to `embed_tokens` when `tie_word_embeddings`), running one step of a batch over the
//! paged KV cache: the family's decoder ([`fk_llm::decoder::DecoderForCausalLM`]) with
//! Llama's MLP, its config and its loaders. Weights come from an HF folder
//! ([`crate::weights`]) or are drawn at random from a config for benchmarks.

use crate::config::LlamaConfig;
use crate::modules::{LlamaMLP, MlpScratch};
use crate::rope;
use fk_baselines::Context;
pub use fk_llm::decoder::DebugOutputs;
use fk_llm::decoder::{DecoderForCausalLM, DecoderModel, DecoderScratch};
use fk_llm::{CausalLm, ForwardBatch, LmSpec, PagedKvCache, ScratchSizes};
use fk_runtime::{DType, Device, Result, Tensor};

/// HF `LlamaModel`.
pub type LlamaModel = DecoderModel<LlamaMLP>;
/// Activation buffers of one step, allocated once at the maximum step size.
pub type LlamaScratch = DecoderScratch<MlpScratch>;

pub struct LlamaForCausalLM {
    pub config: LlamaConfig,
    pub dtype: DType,
    /// The decoder (`model`, `lm_head`): reachable directly through `Deref`.
    pub inner: DecoderForCausalLM<LlamaMLP>,
}

impl std::ops::Deref for LlamaForCausalLM {
    type Target = DecoderForCausalLM<LlamaMLP>;
    fn deref(&self) -> &Self::Target {
        &self.inner
    }
}

impl LlamaForCausalLM {
    /// Weight bytes one decode step streams (all but the untouched embedding rows).
    pub fn streamed_weight_bytes(&self) -> usize {
        self.inner.streamed_weight_bytes_for(1)
    }

    pub(crate) fn spec_of(cfg: &LlamaConfig, dtype: DType) -> LmSpec {
        LmSpec {
            num_layers: cfg.num_hidden_layers,
            kv_heads: cfg.num_key_value_heads,
            head_dim: cfg.head_dim,
            hidden_size: cfg.hidden_size,
            vocab_size: cfg.vocab_size,
            max_position_embeddings: cfg.max_position_embeddings,
            dtype,
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
        self.inner.spec()
    }

    fn scratch(&self, z: &ScratchSizes) -> Result<LlamaScratch> {
        self.inner.scratch(z)
    }

    fn needs_per_token_view(&self) -> bool {
        self.inner.needs_per_token_view()
    }

    fn streamed_weight_bytes(&self) -> usize {
        self.inner.streamed_weight_bytes_for(1)
    }

    fn forward(&self, ctx: &Context, batch: &ForwardBatch, kv: &PagedKvCache, s: &LlamaScratch, logits: &Tensor) -> Result<()> {
        self.inner.forward(ctx, batch, kv, s, logits)
    }
}
