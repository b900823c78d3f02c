//! Any ViT-family image model as the embedding engine's encoder: [`ImageEncoder`] over a
//! [`PooledImageModel`] (SigLIP-2's attention-pool vector, DINOv3's CLS row). Each batch holds
//! one resolution (the batcher's grouping). The engine runs it pipelined: a batch's pixels are
//! staged into page-locked memory on the host while the GPU still computes the batch before,
//! then sent as one DMA in stream order and patchified on the GPU (`patch_embed_im2col`
//! converts f32 to the model dtype as it copies); `embed_batch` is the same without the overlap.

use crate::embed::{check_image, upload_images, ImageStaging};
use fk_baselines::Context;
use fk_runtime::embed::{pooled_rows, EmbedInput, Embedding, Encoder, Launched, Modality, PipelinedEncoder};
use fk_runtime::{Result, Tensor};

/// What an image model gives the embedding engine (`Sync`: its batches are collected on the
/// engine's collector thread).
pub trait PooledImageModel: Sync {
    fn num_channels(&self) -> usize;
    fn patch_size(&self) -> usize;
    /// Per image the pooled embedding, `[batch, hidden]`, of same-sized images on the GPU
    /// (`[batch, C, H, W]`, f32 as uploaded).
    fn pooled(&self, ctx: &Context, pixels: &Tensor) -> Result<Tensor>;
}

pub struct ImageEncoder<'a, M> {
    pub model: &'a M,
    pub ctx: &'a Context,
    staging: ImageStaging,
}

impl<'a, M> ImageEncoder<'a, M> {
    pub fn new(model: &'a M, ctx: &'a Context) -> Self {
        ImageEncoder { model, ctx, staging: ImageStaging::default() }
    }
}

impl<M: PooledImageModel> Encoder for ImageEncoder<'_, M> {
    fn modality(&self) -> Modality {
        Modality::Image
    }
    fn max_len(&self) -> Option<usize> {
        None
    }
    fn check(&self, input: &EmbedInput) -> Result<()> {
        check_image(input, self.model.num_channels(), self.model.patch_size())
    }
    fn embed_batch(&self, inputs: &[&EmbedInput]) -> Result<Vec<Embedding>> {
        let pixels = upload_images(&self.ctx.device, inputs)?;
        let pooled = self.model.pooled(self.ctx, &pixels)?;
        Ok(pooled_rows(&pooled.to_f32()?, pooled.dim(1)))
    }
    fn pipelined(&self) -> Option<&dyn PipelinedEncoder> {
        Some(self)
    }
}

impl<M: PooledImageModel> PipelinedEncoder for ImageEncoder<'_, M> {
    fn prepare(&self, slot: usize, inputs: &[&EmbedInput]) -> Result<()> {
        self.staging.stage(&self.ctx.device, slot, inputs)
    }
    fn launch<'a>(&'a self, slot: usize, inputs: &[&EmbedInput]) -> Result<Launched<'a>> {
        let pixels = self.staging.upload(&self.ctx.device, slot, inputs)?;
        let pooled = self.model.pooled(self.ctx, &pixels)?;
        self.staging.download(slot, &pooled)?;
        // The copy is queued behind this batch alone: collecting it does not wait for the
        // next batch, which the engine launches before collecting this one.
        Ok(Box::new(move || {
            drop(pooled);
            let (values, cols) = self.staging.collect(slot)?;
            Ok(pooled_rows(&values, cols))
        }))
    }
}
