//! CPU references: the oracle for every baseline and candidate kernel. Inputs are the
//! dtype-rounded values the kernel sees; arithmetic is f64; where the upstream module
//! materialises an intermediate in the tensor dtype (HF `LlamaRMSNorm` casts the normalised
//! row back before the weight multiply), the reference rounds there too.

mod activation;
pub mod attention;
mod embedding;
pub mod moe;
mod interpolate;
mod layer_norm;
pub mod modules;
mod norm;
mod padded_attention;
mod patch_embed;
mod pooling;
mod rope_2d;
mod rotary;
pub mod sampling;
pub mod ssm;

pub use activation::{gelu, gelu_and_mul, gelu_erf, gelu_tanh, gelu_tanh_scalar, quick_gelu, quick_gelu_scalar, silu_and_mul};
pub use attention::{
    gather_paged, paged_decode_attention, prefill_attention, prefill_attention_masked, prefill_attention_rows, reshape_and_cache, AttnMask,
    AttnShape,
};
pub use embedding::embedding;
pub use moe::{moe_block_reference, MoeWeights};
pub use interpolate::{bicubic_resize, bilinear_antialias_resize};
pub use layer_norm::layer_norm;
pub use norm::{fused_add_rms_norm, rms_norm};
pub use padded_attention::{cu_seqlens_from_mask, padded_attention};
pub use patch_embed::{im2col_patches, patch_embed, PatchGeometry};
pub use pooling::{cls_pool, l2_normalize, mean_pool};
pub use rope_2d::{dinov3_rope_cache, rope_2d};
pub use rotary::{cos_sin_cache, cos_sin_cache_from_freqs, rotary_embedding};
pub use sampling::{sample, SampleParams, Sampled};
pub use ssm::{
    causal_conv1d, causal_conv1d_update, mamba_decode_layers, MambaBlockWeights, rms_norm_gated, selective_scan, selective_scan_varlen, selective_state_update,
    selective_state_update_mamba2, ssd_chunked, ssd_sequential, ScanInputs, SsdInputs,
};
