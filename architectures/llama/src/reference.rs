//! CPU reference of `LlamaForCausalLM` with HF transformers semantics, for golden tests
//! (in CI, no GPU) and as the oracle the GPU model is checked against: the family's decoder
//! reference ([`fk_llm::reference`]) with Llama's dense MLP.

use crate::config::LlamaConfig;
use fk_llm::reference::{load_tensor, DecoderReference, FeedForwardRef};
pub use fk_llm::reference::ReferenceOutput;
use fk_runtime::safetensors::Checkpoint;
use fk_runtime::{DType, Result};

pub struct LlamaReference {
    pub cfg: LlamaConfig,
    /// The dtype activations are rounded to (the checkpoint's).
    pub dtype: DType,
    inner: DecoderReference,
}

impl LlamaReference {
    /// Load an HF Llama checkpoint (weights keyed as `model.layers.{i}.self_attn.q_proj.weight` …).
    pub fn load(ckpt: &Checkpoint, cfg: &LlamaConfig) -> Result<LlamaReference> {
        let dims = cfg.dims();
        let (h, i) = (cfg.hidden_size, cfg.intermediate_size);
        let inner = DecoderReference::load("LlamaReference", ckpt, dims, cfg.num_hidden_layers, |ckpt, l| {
            let p = |s: &str| format!("model.layers.{l}.mlp.{s}");
            Ok(FeedForwardRef::Dense {
                gate: load_tensor(ckpt, "LlamaReference", &p("gate_proj.weight"), &[i, h])?,
                up: load_tensor(ckpt, "LlamaReference", &p("up_proj.weight"), &[i, h])?,
                down: load_tensor(ckpt, "LlamaReference", &p("down_proj.weight"), &[h, i])?,
                inter: i,
            })
        })?;
        Ok(LlamaReference { cfg: cfg.clone(), dtype: inner.dtype, inner })
    }

    /// Full forward over `ids` (positions 0..len): what HF computes for one sequence.
    pub fn forward(&self, ids: &[u32]) -> Result<ReferenceOutput> {
        self.inner.forward(ids)
    }

    /// Greedy continuation of `prompt` by `n` tokens (argmax, first index on ties, as torch).
    pub fn greedy(&self, prompt: &[u32], n: usize) -> Result<Vec<u32>> {
        self.inner.greedy(prompt, n)
    }
}
