//! BGE-M3's dense encoder as the embedding engine's encoder (`fk_recsys::text_encoder`): per
//! request the L2-normalised CLS vector (`dense_embedding`).

use crate::gpu::BgeM3;
use fk_baselines::Context;
use fk_recsys::gpu::PackedTokens;
use fk_recsys::text_encoder::{PackedTextModel, TextEncoder};
use fk_recsys::BertConfig;
use fk_runtime::embed::{pooled_rows, Embedding};
use fk_runtime::{Result, Tensor};

pub type BgeM3Encoder<'a> = TextEncoder<'a, BgeM3>;

impl PackedTextModel for BgeM3 {
    fn config(&self) -> &BertConfig {
        &self.model.cfg
    }
    fn run(&self, ctx: &Context, tokens: &PackedTokens) -> Result<Tensor> {
        self.dense_embedding_of(ctx, tokens)
    }
    fn embeddings(&self, values: Vec<f32>, dim: usize, _lens: &[usize]) -> Result<Vec<Embedding>> {
        Ok(pooled_rows(&values, dim))
    }
}
