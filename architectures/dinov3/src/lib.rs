//! fk-dinov3: DINOv3 ViT (facebook/dinov3-vit7b16-pretrain-lvd1689m) for fastkernels.
//!
//! A conv2d patch embedding, a CLS token and register tokens, 2D RoPE on the patch tokens
//! (coordinates normalised to the image, so any multiple of the patch size works without
//! interpolation), pre-norm layers with layer scale and a plain or gated (SwiGLU) MLP, a final
//! LayerNorm; the pooled output is the normalised CLS row. [`reference::DINOv3ViTModel`] is the
//! CPU reference with HF transformers module names and weight keys, checked against goldens
//! (`tests/goldens/dinov3/`); [`gpu::DINOv3ViTModel`] runs it on the GPU.

pub mod config;
pub mod embed;
pub mod gpu;
pub mod kernels;
pub mod random;
pub mod reference;

pub use config::{dinov3_vit7b16, DINOv3ViTConfig};
pub use reference::{DINOv3ViTEmbeddings, DINOv3ViTModel};
