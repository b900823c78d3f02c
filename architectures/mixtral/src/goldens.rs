//! Mixtral's HF transformers golden fixtures (tests/goldens/mixtral/, made by
//! tests/goldens/make_mixtral_goldens.py), read by the family's reader.

pub use fk_llm::goldens::Golden;
use fk_runtime::Result;

pub fn load_all() -> Result<Vec<Golden>> {
    fk_llm::goldens::load_all("mixtral")
}

/// The experts transformers routed each token to in `layer` (`[T, k]`, highest first).
pub fn router_topk(g: &Golden, layer: usize) -> Result<Vec<u32>> {
    fk_llm::goldens::ids(&g.outputs, &format!("router_topk.{layer}"))
}
