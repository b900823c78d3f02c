//! ColBERT's encoder on the GPU: `fk_recsys::gpu::BertModel`, then the `linear` projection
//! and per-token L2 normalisation on the packed real tokens, padded once at the end (padding
//! rows are zeros, as ColBERT's `D * mask` makes them).

use fk_baselines::ops::{self, Pooling};
use fk_baselines::Context;
use fk_recsys::gpu::{BertModel, BertOutput, PackedTokens};
use fk_recsys::{BertConfig, TokenBatch};
use fk_runtime::linear::Linear;
use fk_runtime::safetensors::Checkpoint;
use fk_runtime::{DType, Device, Error, Result, Tensor};
use std::path::Path;

pub struct ColBERT {
    pub bert: BertModel,
    /// `linear.weight [dim, hidden]`, no bias.
    pub linear: Linear,
}

pub struct ColBERTOutput {
    pub encoder: BertOutput,
    /// `[batch, seq, dim]`: unit vectors for real tokens, zeros for padding.
    pub token_embeddings: Tensor,
}

impl ColBERT {
    /// An HF folder (config.json + safetensors with `bert.*` and `linear.weight`).
    pub fn from_pretrained(dev: &Device, dir: &Path, dtype: Option<DType>) -> Result<ColBERT> {
        let cfg = BertConfig::from_file(dir)?;
        ColBERT::load(dev, &Checkpoint::open(dir)?, &cfg, dtype)
    }

    pub fn load(dev: &Device, ckpt: &Checkpoint, cfg: &BertConfig, dtype: Option<DType>) -> Result<ColBERT> {
        let bert = BertModel::load(dev, ckpt, cfg, dtype)?;
        // The projection width is not in config.json (ColBERT keeps `dim` in its own metadata).
        let info = ckpt.info("linear.weight")?;
        let dim = match info.shape[..] {
            [dim, h] if h == cfg.hidden_size && dim > 0 => dim,
            _ => return Err(Error::shape("ColBERT", format!("linear.weight is {:?}, expected [dim, {}]", info.shape, cfg.hidden_size))),
        };
        let linear = Linear::load(ckpt, dev, "linear", cfg.hidden_size, dim, bert.dtype, false)?;
        Ok(ColBERT { bert, linear })
    }

    pub fn dim(&self) -> usize {
        self.linear.out_features()
    }

    /// Token embeddings of `b`; `output_hidden_states` as in `BertModel::forward`.
    pub fn forward(&self, ctx: &Context, b: &TokenBatch, output_hidden_states: bool) -> Result<ColBERTOutput> {
        let (encoder, unit) = self.forward_packed(ctx, b, output_hidden_states)?;
        let (dim, dtype, dev) = (self.dim(), self.bert.dtype, &ctx.device);
        let padded = Tensor::empty(dev, &[b.batch * b.seq, dim], dtype)?;
        encoder.padding.pad(&ctx.ops, &unit, &padded)?;
        Ok(ColBERTOutput { token_embeddings: padded.reshape(&[b.batch, b.seq, dim])?, encoder })
    }

    /// The encoder output and the unit vectors of the real tokens only, packed `[total, dim]`
    /// in batch order.
    pub fn forward_packed(&self, ctx: &Context, b: &TokenBatch, output_hidden_states: bool) -> Result<(BertOutput, Tensor)> {
        let encoder = self.bert.forward(ctx, b, output_hidden_states)?;
        let unit = self.unit_vectors(ctx, &encoder.packed)?;
        Ok((encoder, unit))
    }

    /// Only the real tokens' unit vectors, packed `[total, dim]` in batch order: what a server
    /// returns and the embedding engine runs. The encoder runs on the packed tokens alone —
    /// no padded copy of its output, and no BERT pooler (ColBERT does not use it; its tanh
    /// runs on the host, which would stop the stream mid-batch).
    pub fn token_vectors(&self, ctx: &Context, b: &TokenBatch) -> Result<Tensor> {
        self.token_vectors_of(ctx, &PackedTokens::new(&ctx.device, &self.bert.cfg, b)?)
    }

    /// [`ColBERT::token_vectors`] of tokens already on the device (the engine's pipelined
    /// path uploads them asynchronously).
    pub fn token_vectors_of(&self, ctx: &Context, tokens: &PackedTokens) -> Result<Tensor> {
        let (packed, _) = self.bert.forward_packed(ctx, tokens, false)?;
        self.unit_vectors(ctx, &packed)
    }

    /// `F.normalize(linear(x), dim=-1)` of packed rows `x` `[total, hidden]`.
    fn unit_vectors(&self, ctx: &Context, x: &Tensor) -> Result<Tensor> {
        let (t, dim, dtype, dev) = (x.dim(0), self.dim(), self.bert.dtype, &ctx.device);
        let projected = Tensor::empty(dev, &[t, dim], dtype)?;
        ops::linear(ctx, x, &self.linear, &projected)?;
        // Every packed row is a "sequence" of one token: CLS pooling with normalize is then
        // exactly a per-row `F.normalize(p=2, dim=-1)`.
        let unit = Tensor::empty(dev, &[t, dim], dtype)?;
        ops::pool(&ctx.ops, &projected.reshape(&[t, 1, dim])?, None, Pooling::Cls, true, &unit)?;
        Ok(unit)
    }
}
