//! DINOv3 as the embedding engine's encoder: per image the CLS row of the final norm's output
//! (`pooler_output`), through the family's [`ImageEncoder`] (same-sized NCHW images uploaded as
//! f32, patchified on the GPU by `forward_pixels`).

use crate::gpu::DINOv3ViTModel;
use fk_baselines::Context;
use fk_multimodal::image_encoder::{ImageEncoder, PooledImageModel};
use fk_runtime::{Result, Tensor};

pub type DINOv3Encoder<'a> = ImageEncoder<'a, DINOv3ViTModel>;

impl PooledImageModel for DINOv3ViTModel {
    fn num_channels(&self) -> usize {
        self.cfg.num_channels
    }
    fn patch_size(&self) -> usize {
        self.cfg.patch_size
    }
    fn pooled(&self, ctx: &Context, pixels: &Tensor) -> Result<Tensor> {
        Ok(self.forward_pixels(ctx, pixels, false)?.pooler_output)
    }
}
