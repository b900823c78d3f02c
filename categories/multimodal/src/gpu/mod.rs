//! GPU modules of the ViT-family encoders, on the baseline ops of a
//! [`fk_baselines::Context`]: the pre-norm encoder layer SigLIP-2 and DINOv3 share
//! ([`VitLayer`], plain or gated MLP, optional 2D RoPE, layer scale folded into the
//! projections), SigLIP's attention-pool head ([`MultiheadAttentionPoolingHead`]) and the
//! weight-loading helpers their architecture crates use.

mod attention_pool;
mod vit_layer;
mod weights;

pub use attention_pool::MultiheadAttentionPoolingHead;
pub use vit_layer::{GatedAct, LayerNormWeights, VitLayer, VitLayerBuffers, VitMlp};
pub use weights::{load_bias, load_linear, load_stacked_linear};
