//! fk-siglip2: the SigLIP-2 vision tower (google/siglip2-so400m-patch16-naflex) for fastkernels.
//!
//! NaFlex: images arrive as variable grids of pre-flattened patches (`pixel_values [B,
//! max_patches, C·p·p]`, `pixel_attention_mask`, `spatial_shapes`); the learned 16×16
//! position grid is resized per image (bilinear, antialiased); a pre-norm ViT encoder with a
//! key-padding mask; `post_layernorm`; the attention-pool head gives one vector per image.
//! [`reference::Siglip2VisionTransformer`] is the CPU reference with HF transformers module
//! names and weight keys, checked against goldens (`tests/goldens/siglip2/`); [`gpu::Siglip2VisionTransformer`] runs it on
//! the GPU.

pub mod config;
pub mod embed;
pub mod gpu;
pub mod kernels;
pub mod patches;
pub mod random;
pub mod reference;

pub use config::{siglip2_so400m_naflex, Siglip2VisionConfig};
pub use patches::PatchBatch;
pub use reference::{Siglip2VisionEmbeddings, Siglip2VisionTransformer};
