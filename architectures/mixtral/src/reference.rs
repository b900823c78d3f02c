//! CPU reference of `MixtralForCausalLM` with HF transformers semantics: the family's decoder
//! reference ([`fk_llm::reference`]) with each layer's `MixtralSparseMoeBlock`
//! (`block_sparse_moe.gate` router, `block_sparse_moe.experts.<j>.w1/w3/w2`, as hub
//! checkpoints key them).

use crate::config::MixtralConfig;
pub use fk_llm::reference::ReferenceOutput;
use fk_llm::reference::{load_tensor, DecoderReference, FeedForwardRef};
use fk_runtime::safetensors::Checkpoint;
use fk_runtime::{Error, Result};

pub struct MixtralReference {
    pub cfg: MixtralConfig,
    inner: DecoderReference,
}

const NAME: &str = "MixtralReference";

impl MixtralReference {
    pub fn load(ckpt: &Checkpoint, cfg: &MixtralConfig) -> Result<MixtralReference> {
        if cfg.sliding_window.is_some_and(|w| w < cfg.max_position_embeddings) {
            return Err(Error::config("the CPU reference has no sliding-window attention yet (the shipped Mixtral config sets none)"));
        }
        let dims = cfg.dims();
        let (h, i, e) = (cfg.hidden_size, cfg.intermediate_size, cfg.num_local_experts);
        let inner = DecoderReference::load(NAME, ckpt, dims, cfg.num_hidden_layers, |ckpt, l| {
            let p = |s: &str| format!("model.layers.{l}.block_sparse_moe.{s}");
            let experts = (0..e)
                .map(|j| {
                    let w = |n: &str, shape: &[usize]| load_tensor(ckpt, NAME, &p(&format!("experts.{j}.{n}.weight")), shape);
                    Ok((w("w1", &[i, h])?, w("w3", &[i, h])?, w("w2", &[h, i])?))
                })
                .collect::<Result<Vec<_>>>()?;
            Ok(FeedForwardRef::Moe { router: load_tensor(ckpt, NAME, &p("gate.weight"), &[e, h])?, experts, inter: i, top_k: cfg.num_experts_per_tok })
        })?;
        Ok(MixtralReference { cfg: cfg.clone(), inner })
    }

    /// Full forward over `ids`, with each layer's expert choices.
    pub fn forward(&self, ids: &[u32]) -> Result<ReferenceOutput> {
        self.inner.forward(ids)
    }

    pub fn greedy(&self, prompt: &[u32], n: usize) -> Result<Vec<u32>> {
        self.inner.greedy(prompt, n)
    }
}
