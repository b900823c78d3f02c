//! fk-mixtral: Mixtral-8x7B (mistralai/Mixtral-8x7B-Instruct-v0.1) for fastkernels — a
//! Llama-shaped decoder whose MLP is a sparse mixture of experts (HF
//! `MixtralSparseMoeBlock`: a router picks the top-2 of 8 experts per token).
//!
//! `MixtralConfig` (the real config shipped in `configs/`), the CPU reference checked against
//! transformers goldens (including which experts each token is routed to), and the GPU model:
//! `MixtralSparseMoeBlock` over the fused MoE kernels of `fk-baselines`, inside the family's
//! decoder, runnable by `Generator`, the engine and `cargo fastkernels generate`.

pub mod config;
pub mod goldens;
pub mod kernels;
pub mod model;
pub mod moe_block;
pub mod moe_block_workload;
pub mod reference;

pub use config::MixtralConfig;
pub use model::{MixtralDecoderLayer, MixtralForCausalLM, MixtralModel, MixtralScratch};
pub use moe_block::{MixtralSparseMoeBlock, MoeScratch};
