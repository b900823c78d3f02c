//! BGE-M3's dense encoder as the embedding engine's encoder: per request the L2-normalised
//! CLS vector (`dense_embedding`).

use crate::gpu::BgeM3;
use fk_baselines::Context;
use fk_recsys::embed::{check_text, token_batch};
use fk_runtime::embed::{host_rows, EmbedInput, Embedding, Encoder, Modality};
use fk_runtime::Result;

pub struct BgeM3Encoder<'a> {
    pub model: &'a BgeM3,
    pub ctx: &'a Context,
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
        Ok(host_rows(&dense)?.into_iter().map(|v| Embedding { pooled: Some(v), tokens: None, token_dim: 0 }).collect())
    }
}
