//! BGE-M3's dense encoder as the embedding engine's encoder: per request the L2-normalised
//! CLS vector (`dense_embedding`).

use crate::gpu::BgeM3;
use fk_baselines::Context;
use fk_recsys::embed::{check_text, token_batch, TextStaging};
use fk_runtime::embed::{EmbedInput, Embedding, Encoder, Launched, Modality, PipelinedEncoder};
use fk_runtime::Result;

pub struct BgeM3Encoder<'a> {
    pub model: &'a BgeM3,
    pub ctx: &'a Context,
    staging: TextStaging,
}

impl<'a> BgeM3Encoder<'a> {
    pub fn new(model: &'a BgeM3, ctx: &'a Context) -> Self {
        BgeM3Encoder { model, ctx, staging: TextStaging::default() }
    }
}

fn dense_rows(values: Vec<f32>, dim: usize) -> Vec<Embedding> {
    values.chunks_exact(dim.max(1)).map(|v| Embedding { pooled: Some(v.to_vec()), tokens: None, token_dim: 0 }).collect()
}

impl Encoder for BgeM3Encoder<'_> {
    fn modality(&self) -> Modality {
        Modality::Text
    }
    fn max_len(&self) -> Option<usize> {
        Some(self.model.model.cfg.max_sequence_length())
    }
    fn check(&self, input: &EmbedInput) -> Result<()> {
        check_text(&self.model.model.cfg, input)
    }
    fn embed_batch(&self, inputs: &[&EmbedInput]) -> Result<Vec<Embedding>> {
        let b = token_batch(inputs, self.model.model.cfg.pad_token_id as u32)?;
        let dense = self.model.dense_embedding(self.ctx, &b)?;
        Ok(dense_rows(dense.to_f32()?, dense.dim(1)))
    }
    fn pipelined(&self) -> Option<&dyn PipelinedEncoder> {
        Some(self)
    }
}

/// Pipelined as ColBERT's encoder is (see `TextStaging`).
impl PipelinedEncoder for BgeM3Encoder<'_> {
    fn prepare(&self, slot: usize, inputs: &[&EmbedInput]) -> Result<()> {
        self.staging.prepare(&self.ctx.device, &self.model.model.cfg, slot, inputs)
    }
    fn launch<'a>(&'a self, slot: usize, _inputs: &[&EmbedInput]) -> Result<Launched<'a>> {
        let (tokens, _) = self.staging.upload(&self.ctx.device, slot)?;
        let dense = self.model.dense_embedding_of(self.ctx, &tokens)?;
        self.staging.download(slot, &dense)?;
        Ok(Box::new(move || {
            drop((tokens, dense));
            let (values, dim) = self.staging.collect(slot)?;
            Ok(dense_rows(values, dim))
        }))
    }
}
