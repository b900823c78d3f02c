//! fk-llama: Llama (Llama-3.1+) for fastkernels.
//!
//! Modules mirror HF transformers' `modeling_llama.py` names and weight keys and run vLLM's
//! fused kernels, taken from an [`fk_baselines::OpTable`]: [`kernels::baseline_table`] or
//! [`kernels::candidate_table`] (this crate's `kernels/` slot swapped in). [`reference`] is
//! the CPU reference of the whole `LlamaForCausalLM` (checked against HF goldens); [`model`]
//! is the GPU model over the paged KV cache, built by [`weights`] from an HF folder or at
//! random.

pub mod config;
pub mod goldens;
pub mod kernels;
pub mod model;
pub mod modules;
pub mod reference;
pub mod rope;
pub mod weights;

pub use config::{LlamaConfig, RopeScaling};
pub use model::{LlamaForCausalLM, LlamaModel, LlamaScratch};
pub use modules::{LlamaAttention, LlamaDecoderLayer, LlamaMLP, LlamaRMSNorm};
pub use modules::{mlp_reference, MlpHalfLayer, MlpScratch};
