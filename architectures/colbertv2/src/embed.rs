//! ColBERT as the embedding engine's encoder (`fk_recsys::text_encoder`): per request its
//! real tokens' unit vectors (`[tokens, dim]`, late interaction); no pooled vector (ColBERT
//! has none).

use crate::gpu::ColBERT;
use fk_baselines::Context;
use fk_recsys::gpu::PackedTokens;
use fk_recsys::text_encoder::{PackedTextModel, TextEncoder};
use fk_recsys::BertConfig;
use fk_runtime::embed::Embedding;
use fk_runtime::{Error, Result, Tensor};

pub type ColBERTEncoder<'a> = TextEncoder<'a, ColBERT>;

impl PackedTextModel for ColBERT {
    fn config(&self) -> &BertConfig {
        &self.bert.cfg
    }
    fn run(&self, ctx: &Context, tokens: &PackedTokens) -> Result<Tensor> {
        self.token_vectors_of(ctx, tokens)
    }
    /// Packed rows (each request's real tokens, in batch order) split per request.
    fn embeddings(&self, packed: Vec<f32>, dim: usize, lens: &[usize]) -> Result<Vec<Embedding>> {
        let total: usize = lens.iter().sum();
        if packed.len() != total * dim {
            return Err(Error::shape("ColBERTEncoder", format!("{} packed values for {total} tokens × {dim}", packed.len())));
        }
        let mut rest = &packed[..];
        let mut out = Vec::with_capacity(lens.len());
        for &len in lens {
            let (mine, tail) = rest.split_at(len * dim);
            out.push(Embedding { pooled: None, tokens: Some(mine.to_vec()), token_dim: dim });
            rest = tail;
        }
        Ok(out)
    }
}
