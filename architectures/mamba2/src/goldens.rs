//! Mamba-2's HF transformers golden fixtures (tests/goldens/mamba2/, made by
//! `tests/goldens/make_mamba_goldens.py --arch mamba2`), read by the family's reader. Besides
//! the family's keys they hold each layer's recurrent state after the prompt (`conv_state.<i>`
//! `[conv_dim, conv_kernel-1]`, `ssm_state.<i>` `[num_heads, head_dim, state_size]`) and the
//! logits of the greedy steps decoded through HF's cache.

pub use fk_llm::goldens::Golden;
use fk_runtime::Result;

pub fn load_all() -> Result<Vec<Golden>> {
    fk_llm::goldens::load_all("mamba2")
}
