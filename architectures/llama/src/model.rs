//! HF `LlamaModel` (`embed_tokens`, `layers`, `norm`) and `LlamaForCausalLM` (+ `lm_head`,
//! tied to `embed_tokens` when `tie_word_embeddings`), running one step of a batch over the
//! paged KV cache: the family's decoder ([`fk_llm::decoder::DecoderForCausalLM`]) with
//! Llama's MLP, its config and its loaders. Weights come from an HF folder
//! ([`crate::weights`]) or are drawn at random from a config for benchmarks.

use crate::config::LlamaConfig;
use crate::modules::{LlamaMLP, MlpScratch};
use fk_baselines::Context;
pub use fk_llm::decoder::DebugOutputs;
use fk_llm::decoder::{DecoderForCausalLM, DecoderModel, DecoderScratch};
use fk_llm::{CausalLm, ForwardBatch, LmSpec, PagedKvCache, ScratchSizes};
use fk_runtime::{DType, Result, Tensor};

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
