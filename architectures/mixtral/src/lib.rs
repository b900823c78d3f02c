//! fk-mixtral: Mixtral-8x7B (mistralai/Mixtral-8x7B-Instruct-v0.1) for fastkernels — a
//! Llama-shaped decoder whose MLP is a sparse mixture of experts (HF
//! `MixtralSparseMoeBlock`: a router picks the top-2 of 8 experts per token).
//!
//! Here so far: `MixtralConfig` (the real config is shipped in `configs/`), the CPU reference
//! model checked against transformers goldens, including which experts each token is routed
//! to. The GPU modules (`MixtralSparseMoeBlock` over the fused MoE kernels of `fk-baselines`,
//! `MixtralAttention`, `MixtralForCausalLM` under the engine) come next.

pub mod config;
pub mod goldens;
pub mod reference;

pub use config::MixtralConfig;
