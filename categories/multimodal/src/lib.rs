//! fk-multimodal: the "Multimodal & Encoders" family's shared pieces.
//!
//! For now, the ViT-family image encoder modules SigLIP-2 and DINOv3 build on, as CPU
//! references with upstream semantics: the pre-norm encoder layer ([`VitLayer`]: LayerNorm →
//! self-attention → optional layer scale → residual, LayerNorm → MLP → optional layer scale →
//! residual), plain and gated MLPs ([`Mlp`]), the attention-pool head SigLIP uses
//! ([`MultiheadAttentionPoolingHead`]) and NCHW image batches ([`ImageBatch`]). [`gpu`] holds the GPU
//! encoder layer on the encoder ops of `fk-baselines`; [`embed`] the image side of the embedding
//! engine (`fk_runtime::embed`) and [`image_encoder`] the engine's encoder over any image model.

pub mod attention_pool;
pub mod embed;
pub mod gpu;
pub mod image;
pub mod image_encoder;
pub mod vit_layer;

pub use attention_pool::MultiheadAttentionPoolingHead;
pub use fk_baselines::reference::modules::EncoderOutput;
pub use image::ImageBatch;
pub use vit_layer::{LayerScale, Mlp, VitLayer};
