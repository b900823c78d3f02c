//! SigLIP-2's vision tower as the embedding engine's encoder: per image the attention-pool
//! head's vector (`pooler_output`), through the family's [`ImageEncoder`] (same-sized NCHW
//! images uploaded as f32 and patchified on the GPU by `forward_pixels`).

use crate::gpu::Siglip2VisionTransformer;
use crate::patches::PatchBatch;
use fk_baselines::Context;
use fk_multimodal::embed::image_batch;
use fk_multimodal::image_encoder::{ImageEncoder, PooledImageModel};
use fk_runtime::embed::EmbedInput;
use fk_runtime::{Error, Result, Tensor};

pub type Siglip2Encoder<'a> = ImageEncoder<'a, Siglip2VisionTransformer>;

/// Patchify one batch of same-sized CHW images on the host, as HF's processor does, for
/// [`Siglip2VisionTransformer::forward`] (the engine does not: it uploads NCHW).
pub fn patch_batch(inputs: &[&EmbedInput], patch_size: usize) -> Result<PatchBatch> {
    let b = image_batch(inputs)?;
    let n = b.channels * b.height * b.width;
    let images: Vec<(usize, usize, &[f32])> = b.pixels.chunks_exact(n).map(|p| (b.height, b.width, p)).collect();
    PatchBatch::from_images(&images, b.channels, patch_size, (b.height / patch_size) * (b.width / patch_size))
}

impl PooledImageModel for Siglip2VisionTransformer {
    fn num_channels(&self) -> usize {
        self.cfg.num_channels
    }
    fn patch_size(&self) -> usize {
        self.cfg.patch_size
    }
    fn pooled(&self, ctx: &Context, pixels: &Tensor) -> Result<Tensor> {
        self.forward_pixels(ctx, pixels, false)?
            .pooler_output
            .ok_or_else(|| Error::config("SigLIP-2 without the attention-pool head (vision_use_head false) has no pooled output to embed with"))
    }
}
