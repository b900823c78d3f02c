//! ColBERT as the embedding engine's encoder: per request its real tokens' unit vectors
//! (`[tokens, dim]`, late interaction); no pooled vector (ColBERT has none).

use crate::gpu::ColBERT;
use fk_baselines::Context;
use fk_recsys::embed::{check_text, token_batch};
use fk_runtime::embed::{EmbedInput, Embedding, Encoder, Modality};
use fk_runtime::{Error, Result};

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
        let unit = self.model.token_vectors(self.ctx, &b)?;
        let dim = self.model.dim();
        // Packed rows are each request's real tokens, in batch order.
        let packed = unit.to_f32()?;
        let total: usize = inputs.iter().map(|x| x.len()).sum();
        if packed.len() != total * dim {
            return Err(Error::shape("ColBERTEncoder", format!("{} packed values for {total} tokens × {dim}", packed.len())));
        }
        let mut rest = &packed[..];
        let mut out = Vec::with_capacity(inputs.len());
        for x in inputs {
            let (mine, tail) = rest.split_at(x.len() * dim);
            out.push(Embedding { pooled: None, tokens: Some(mine.to_vec()), token_dim: dim });
            rest = tail;
        }
        Ok(out)
    }
}
