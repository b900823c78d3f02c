//! HF `BertEmbeddings` (`word_embeddings`, `position_embeddings`, `token_type_embeddings`,
//! `LayerNorm`) on the packed tokens.

use super::packed::PackedTokens;
use fk_baselines::ops::{self, DeviceStatus};
use fk_baselines::Context;
use fk_runtime::{Result, Tensor};

pub struct BertEmbeddings {
    pub word_embeddings: Tensor,
    pub position_embeddings: Tensor,
    pub token_type_embeddings: Tensor,
    pub layer_norm_weight: Tensor,
    pub layer_norm_bias: Tensor,
    pub layer_norm_eps: f32,
}

impl BertEmbeddings {
    /// `out` `[total, hidden]` = `LayerNorm((word + token_type) + position)`, each add rounded
    /// to the dtype as HF's eager adds are. The adds ride on the fused residual-add LayerNorm:
    /// its first call only wants the in-place `word + token_type` (its normalised output is a
    /// throwaway written over the token-type rows), the second adds the positions and
    /// normalises. The ids were checked on the host ([`PackedTokens::new`]), so the
    /// embedding status is not read back (no sync).
    pub fn forward(&self, ctx: &Context, tokens: &PackedTokens, out: &Tensor) -> Result<()> {
        let (t, h) = (tokens.total(), self.word_embeddings.dim(1));
        let dev = &ctx.device;
        let dtype = self.word_embeddings.dtype();
        let status = DeviceStatus::new(dev)?;
        let sum = Tensor::empty(dev, &[t, h], dtype)?;
        let tt = Tensor::empty(dev, &[t, h], dtype)?;
        let pos = Tensor::empty(dev, &[t, h], dtype)?;
        ops::embedding(&ctx.ops, &tokens.input_ids, &self.word_embeddings, &sum, &status)?;
        ops::embedding(&ctx.ops, &tokens.token_type_ids, &self.token_type_embeddings, &tt, &status)?;
        ops::embedding(&ctx.ops, &tokens.position_ids, &self.position_embeddings, &pos, &status)?;
        let (w, b, eps) = (&self.layer_norm_weight, Some(&self.layer_norm_bias), self.layer_norm_eps);
        ops::fused_add_layer_norm(&ctx.ops, &tt, &sum, w, b, eps, &tt)?;
        ops::fused_add_layer_norm(&ctx.ops, &pos, &sum, w, b, eps, out)
    }
}
