//! SigLIP-2's vision tower as the embedding engine's encoder: per image the attention-pool
//! head's vector (`pooler_output`). Each batch holds one resolution (the batcher's
//! grouping), so its images have equal patch counts and no padding rows: they go up as f32
//! NCHW and are patchified on the GPU (`forward_pixels`).

use crate::gpu::Siglip2VisionTransformer;
use crate::patches::PatchBatch;
use fk_baselines::Context;
use fk_multimodal::embed::{check_image, image_batch, upload_images};
use fk_runtime::embed::{host_rows, EmbedInput, Embedding, Encoder, Modality};
use fk_runtime::{Error, Result};

pub struct Siglip2Encoder<'a> {
    pub model: &'a Siglip2VisionTransformer,
    pub ctx: &'a Context,
}

/// Patchify one batch of same-sized CHW images on the host, as HF's processor does, for
/// [`Siglip2VisionTransformer::forward`] (the engine does not: it uploads NCHW).
pub fn patch_batch(inputs: &[&EmbedInput], patch_size: usize) -> Result<PatchBatch> {
    let b = image_batch(inputs)?;
    let n = b.channels * b.height * b.width;
    let images: Vec<(usize, usize, &[f32])> = b.pixels.chunks_exact(n).map(|p| (b.height, b.width, p)).collect();
    PatchBatch::from_images(&images, b.channels, patch_size, (b.height / patch_size) * (b.width / patch_size))
}

impl Encoder for Siglip2Encoder<'_> {
    fn modality(&self) -> Modality {
        Modality::Image
    }
    fn max_len(&self) -> Option<usize> {
        None
    }
    fn check(&self, input: &EmbedInput) -> Result<()> {
        check_image(input, self.model.cfg.num_channels, self.model.cfg.patch_size)
    }
    fn embed_batch(&self, inputs: &[&EmbedInput]) -> Result<Vec<Embedding>> {
        let pixels = upload_images(&self.ctx.device, inputs)?;
        let out = self.model.forward_pixels(self.ctx, &pixels, false)?;
        let Some(pooled) = out.pooler_output else {
            return Err(Error::config("SigLIP-2 without the attention-pool head (vision_use_head false) has no pooled output to embed with"));
        };
        Ok(host_rows(&pooled)?.into_iter().map(|v| Embedding { pooled: Some(v), tokens: None, token_dim: 0 }).collect())
    }
}
