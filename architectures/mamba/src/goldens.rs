//! Mamba's HF transformers golden fixtures (tests/goldens/mamba/, made by
//! tests/goldens/make_mamba_goldens.py), read by the family's reader. Besides the family's
//! keys they hold each layer's recurrent state after the prompt and the logits of the greedy
//! steps decoded through HF's cache.

pub use fk_llm::goldens::Golden;
use fk_runtime::Result;

pub fn load_all() -> Result<Vec<Golden>> {
    fk_llm::goldens::load_all("mamba")
}
