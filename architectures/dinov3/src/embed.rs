//! DINOv3 as the embedding engine's encoder: per image the CLS row of the final norm's
//! output (`pooler_output`). A batch holds one resolution (the batcher's grouping), which is
//! what `DINOv3ViTModel::forward_pixels` takes; the images go up as f32 NCHW straight from
//! the requests (no host concatenation or conversion).

use crate::gpu::DINOv3ViTModel;
use fk_baselines::Context;
use fk_multimodal::embed::{check_image, upload_images};
use fk_runtime::embed::{host_rows, EmbedInput, Embedding, Encoder, Modality};
use fk_runtime::Result;

pub struct DINOv3Encoder<'a> {
    pub model: &'a DINOv3ViTModel,
    pub ctx: &'a Context,
}

impl Encoder for DINOv3Encoder<'_> {
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
        Ok(host_rows(&out.pooler_output)?.into_iter().map(|v| Embedding { pooled: Some(v), tokens: None, token_dim: 0 }).collect())
    }
}
