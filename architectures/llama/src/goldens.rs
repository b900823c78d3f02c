//! Llama's HF transformers golden fixtures (tests/goldens/llama/, made by
//! tests/goldens/make_llama_goldens.py); the reader is the family's ([`fk_llm::goldens`]).

pub use fk_llm::goldens::Golden;
use fk_runtime::Result;
use std::path::PathBuf;

pub fn golden_root() -> PathBuf {
    fk_llm::goldens::golden_root("llama")
}

pub fn load_all() -> Result<Vec<Golden>> {
    fk_llm::goldens::load_all("llama")
}
