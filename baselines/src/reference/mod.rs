//! CPU references: the oracle for every baseline and candidate kernel. Inputs are the
//! dtype-rounded values the kernel sees; arithmetic is f64; where the upstream module
//! materialises an intermediate in the tensor dtype (HF `LlamaRMSNorm` casts the normalised
//! row back before the weight multiply), the reference rounds there too.

mod activation;
pub mod attention;
mod embedding;
pub mod moe;
mod norm;
mod rotary;
pub mod sampling;

pub use activation::{gelu_and_mul, silu_and_mul};
pub use attention::{
    gather_paged, paged_decode_attention, prefill_attention, prefill_attention_masked, prefill_attention_rows, reshape_and_cache, AttnMask,
    AttnShape,
};
pub use embedding::embedding;
pub use moe::{moe_block_reference, MoeWeights};
pub use norm::{fused_add_rms_norm, rms_norm};
pub use rotary::{cos_sin_cache, cos_sin_cache_from_freqs, rotary_embedding};
pub use sampling::{sample, SampleParams, Sampled};
