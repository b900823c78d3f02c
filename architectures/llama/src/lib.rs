//! fk-llama: Llama (Llama-3.1+) for fastkernels.
//!
//! Modules mirror HF transformers' `modeling_llama.py` names and weight keys and run vLLM's
//! fused kernels, taken from an [`fk_baselines::OpTable`]: [`kernels::baseline_table`] or
//! [`kernels::candidate_table`] (this crate's `kernels/` slot swapped in). [`reference`] is
//! the CPU reference of the whole `LlamaForCausalLM` (checked against HF goldens); the GPU
//! model (attention, decoder layer, generation) grows here next.

pub mod config;
pub mod kernels;
pub mod modules;
pub mod reference;
pub mod rope;

pub use config::{LlamaConfig, RopeScaling};
pub use modules::{LlamaMLP, LlamaRMSNorm};
pub use modules::{mlp_reference, MlpHalfLayer, MlpScratch};
