//! BGE-M3's dense encoder on the GPU: `fk_recsys::gpu::BertModel` (XLM-R position ids), then
//! the L2-normalised CLS row (the pool op's CLS mode with normalize).

use fk_baselines::ops::{self, Pooling};
use fk_baselines::Context;
use fk_recsys::gpu::{first_tokens, BertModel, BertOutput, PackedTokens};
use fk_recsys::{BertConfig, TokenBatch};
use fk_runtime::safetensors::Checkpoint;
use fk_runtime::{DType, Device, Result, Tensor};
use std::path::Path;

pub struct BgeM3 {
    pub model: BertModel,
}

pub struct BgeM3Output {
    pub encoder: BertOutput,
    /// `[batch, hidden]` unit vectors, in the model dtype.
    pub dense_embedding: Tensor,
}

impl BgeM3 {
    pub fn from_pretrained(dev: &Device, dir: &Path, dtype: Option<DType>) -> Result<BgeM3> {
        let cfg = BertConfig::from_file(dir)?;
        BgeM3::load(dev, &Checkpoint::open(dir)?, &cfg, dtype)
    }

    pub fn load(dev: &Device, ckpt: &Checkpoint, cfg: &BertConfig, dtype: Option<DType>) -> Result<BgeM3> {
        Ok(BgeM3 { model: BertModel::load(dev, ckpt, cfg, dtype)? })
    }

    pub fn forward(&self, ctx: &Context, b: &TokenBatch, output_hidden_states: bool) -> Result<BgeM3Output> {
        let encoder = self.model.forward(ctx, b, output_hidden_states)?;
        let h = self.model.cfg.hidden_size;
        let dense_embedding = Tensor::empty(&ctx.device, &[b.batch, h], self.model.dtype)?;
        // Row 0 of each padded sequence: the `<s>` token for the right-padded batches a
        // tokenizer gives (FlagEmbedding's `last_hidden_state[:, 0]`).
        ops::pool(&ctx.ops, &encoder.last_hidden_state, None, Pooling::Cls, true, &dense_embedding)?;
        Ok(BgeM3Output { encoder, dense_embedding })
    }

    /// Only `dense_embedding` `[batch, hidden]`: what the embedding engine runs. The encoder
    /// runs on the packed tokens alone (no padded copy of its output, no BERT pooler, whose
    /// tanh runs on the host); each sequence's first packed row is its `<s>` token.
    pub fn dense_embedding(&self, ctx: &Context, b: &TokenBatch) -> Result<Tensor> {
        self.dense_embedding_of(ctx, &PackedTokens::new(&ctx.device, &self.model.cfg, b)?)
    }

    /// [`BgeM3::dense_embedding`] of tokens already on the device (the engine's pipelined
    /// path uploads them asynchronously).
    pub fn dense_embedding_of(&self, ctx: &Context, tokens: &PackedTokens) -> Result<Tensor> {
        let (packed, _) = self.model.forward_packed(ctx, tokens, false)?;
        let cls = first_tokens(ctx, &tokens.padding, &packed)?;
        let (batch, h) = (tokens.padding.batch, self.model.cfg.hidden_size);
        let dense = Tensor::empty(&ctx.device, &[batch, h], self.model.dtype)?;
        ops::pool(&ctx.ops, &cls.reshape(&[batch, 1, h])?, None, Pooling::Cls, true, &dense)?;
        Ok(dense)
    }
}
