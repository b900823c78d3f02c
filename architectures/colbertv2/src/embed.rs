//! ColBERT as the embedding engine's encoder: per request its real tokens' unit vectors
//! (`[tokens, dim]`, late interaction); no pooled vector (ColBERT has none).

use crate::gpu::ColBERT;
use fk_baselines::Context;
use fk_recsys::embed::{check_text, token_batch, unpad_rows};
use fk_runtime::embed::{EmbedInput, Embedding, Encoder, Modality};
use fk_runtime::Result;

pub struct ColBERTEncoder<'a> {
    pub model: &'a ColBERT,
    pub ctx: &'a Context,
}

impl Encoder for ColBERTEncoder<'_> {
    fn modality(&self) -> Modality {
        Modality::Text
    }
    fn max_len(&self) -> Option<usize> {
        Some(self.model.bert.cfg.max_sequence_length())
    }
    fn check(&self, input: &EmbedInput) -> Result<()> {
        check_text(&self.model.bert.cfg, input)
    }
    fn embed_batch(&self, inputs: &[&EmbedInput]) -> Result<Vec<Embedding>> {
        let b = token_batch(inputs, self.model.bert.cfg.pad_token_id as u32)?;
        let out = self.model.forward(self.ctx, &b, false)?;
        let dim = self.model.dim();
        let lens: Vec<usize> = inputs.iter().map(|x| x.len()).collect();
        let rows = unpad_rows(&out.token_embeddings.to_f32()?, &lens, b.seq, dim);
        Ok(rows.into_iter().map(|t| Embedding { pooled: None, tokens: Some(t), token_dim: dim }).collect())
    }
}
