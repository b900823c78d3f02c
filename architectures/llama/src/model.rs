//! HF `LlamaModel` (`embed_tokens`, `layers`, `norm`) and `LlamaForCausalLM` (+ `lm_head`,
//! tied to `embed_tokens` when `tie_word_embeddings`), running one step of a batch over the
//! paged KV cache: the family's decoder ([`fk_llm::decoder::DecoderForCausalLM`]) with
//! Llama's MLP, its config and its loaders. Weights come from an HF folder
//! ([`crate::weights`]) or are drawn at random from a config for benchmarks.

use crate::config::LlamaConfig;
use crate::modules::{LlamaMLP, MlpScratch};
pub use fk_llm::decoder::DebugOutputs;
use fk_llm::decoder::{DecoderForCausalLM, DecoderModel, DecoderScratch};
use fk_runtime::DType;

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

fk_llm::causal_lm_via_decoder!(LlamaForCausalLM, LlamaMLP);
