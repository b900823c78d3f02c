//! HF `BertModel` / `XLMRobertaModel` on the GPU: load (HF folder or an open checkpoint, in
//! f32/f16/bf16), forward a [`TokenBatch`].

use super::embeddings::BertEmbeddings;
use super::layer::{BertAttention, BertLayer, LayerBuffers};
use super::packed::PackedTokens;
use super::pooler::BertPooler;
use crate::{BertConfig, TokenBatch};
use fk_baselines::ops::{GeluMode, PackedAttention, Padding};
use fk_baselines::reference::modules::{find_prefix, Activation};
use fk_baselines::Context;
use fk_runtime::linear::Linear;
use fk_runtime::safetensors::Checkpoint;
use fk_runtime::{DType, Device, Error, Result, Tensor};
use std::path::Path;

pub struct BertModel {
    pub cfg: BertConfig,
    pub dtype: DType,
    /// Key prefix the checkpoint uses (`""`, `"bert."`, `"roberta."`, `"model."`).
    pub prefix: String,
    pub embeddings: BertEmbeddings,
    pub layers: Vec<BertLayer>,
    pub pooler: Option<BertPooler>,
}

/// What [`BertModel::forward`] returns.
pub struct BertOutput {
    /// `[batch, seq, hidden]`; padding rows are zeros (HF computes values there that every
    /// consumer ignores).
    pub last_hidden_state: Tensor,
    /// `[total, hidden]`: the real tokens' rows, sequence after sequence (what per-token
    /// heads such as ColBERT's projection run on before padding).
    pub packed: Tensor,
    /// `[batch, hidden]` when the checkpoint has a pooler.
    pub pooler_output: Option<Tensor>,
    /// With `output_hidden_states`: the embeddings' output and every layer's, each
    /// `[batch, seq, hidden]` padded like `last_hidden_state` (HF's `hidden_states`).
    pub hidden_states: Vec<Tensor>,
    pub padding: Padding,
}

/// The GELU kernel mode of a BERT `hidden_act`; the GPU path has only the GELUs.
fn gelu_mode(act: Activation) -> Result<GeluMode> {
    match act {
        Activation::Gelu => Ok(GeluMode::Erf),
        Activation::GeluTanh => Ok(GeluMode::Tanh),
        Activation::QuickGelu => Ok(GeluMode::Quick),
        other => Err(Error::config(format!("hidden_act {other:?} has no GPU kernel here (gelu, gelu_pytorch_tanh/gelu_new, quick_gelu)"))),
    }
}

impl BertModel {
    /// An HF model folder (config.json + safetensors); `dtype` `None` = the checkpoint's.
    pub fn from_pretrained(dev: &Device, dir: &Path, dtype: Option<DType>) -> Result<BertModel> {
        let cfg = BertConfig::from_file(dir)?;
        BertModel::load(dev, &Checkpoint::open(dir)?, &cfg, dtype)
    }

    pub fn load(dev: &Device, ckpt: &Checkpoint, cfg: &BertConfig, dtype: Option<DType>) -> Result<BertModel> {
        let prefix = find_prefix(ckpt, "embeddings.word_embeddings.weight", &["", "bert.", "roberta.", "model."])?;
        let p = |s: &str| format!("{prefix}{s}");
        let dtype = match dtype {
            Some(d) => d,
            None => ckpt.info(&p("embeddings.word_embeddings.weight"))?.dtype,
        };
        if !DType::FLOATS.contains(&dtype) {
            return Err(Error::dtype("BertModel", format!("{dtype} weights are not supported (f32, f16, bf16)")));
        }
        let act = gelu_mode(cfg.hidden_act)?;
        let (h, i, eps) = (cfg.hidden_size, cfg.intermediate_size, cfg.layer_norm_eps);
        let t = |name: &str, shape: &[usize]| ckpt.load_as(dev, &p(name), shape, dtype);
        let lin = |name: &str, inf: usize, outf: usize| Linear::load(ckpt, dev, &p(name), inf, outf, dtype, true);
        let embeddings = BertEmbeddings {
            word_embeddings: t("embeddings.word_embeddings.weight", &[cfg.vocab_size, h])?,
            position_embeddings: t("embeddings.position_embeddings.weight", &[cfg.max_position_embeddings, h])?,
            token_type_embeddings: t("embeddings.token_type_embeddings.weight", &[cfg.type_vocab_size, h])?,
            layer_norm_weight: t("embeddings.LayerNorm.weight", &[h])?,
            layer_norm_bias: t("embeddings.LayerNorm.bias", &[h])?,
            layer_norm_eps: eps,
        };
        let mut layers = Vec::with_capacity(cfg.num_hidden_layers);
        for l in 0..cfg.num_hidden_layers {
            let lp = |s: &str| format!("encoder.layer.{l}.{s}");
            let qkv_w = ["query", "key", "value"].iter().map(|n| t(&lp(&format!("attention.self.{n}.weight")), &[h, h])).collect::<Result<Vec<_>>>()?;
            let qkv_b = ["query", "key", "value"].iter().map(|n| t(&lp(&format!("attention.self.{n}.bias")), &[h])?.reshape(&[h, 1])).collect::<Result<Vec<_>>>()?;
            let qkv = Linear::new(Tensor::cat_rows(&qkv_w.iter().collect::<Vec<_>>())?, Some(Tensor::cat_rows(&qkv_b.iter().collect::<Vec<_>>())?.reshape(&[3 * h])?))?;
            layers.push(BertLayer {
                attention: BertAttention::new(
                    qkv,
                    lin(&lp("attention.output.dense"), h, h)?,
                    t(&lp("attention.output.LayerNorm.weight"), &[h])?,
                    t(&lp("attention.output.LayerNorm.bias"), &[h])?,
                )?,
                intermediate: lin(&lp("intermediate.dense"), h, i)?,
                output_dense: lin(&lp("output.dense"), i, h)?,
                output_layer_norm_weight: t(&lp("output.LayerNorm.weight"), &[h])?,
                output_layer_norm_bias: t(&lp("output.LayerNorm.bias"), &[h])?,
                layer_norm_eps: eps,
                act,
            });
        }
        let pooler = if ckpt.contains(&p("pooler.dense.weight")) { Some(BertPooler { dense: lin("pooler.dense", h, h)? }) } else { None };
        dev.synchronize()?;
        Ok(BertModel { cfg: cfg.clone(), dtype, prefix, embeddings, layers, pooler })
    }

    /// Run `b` (checked against the config first: ids, token types, length are named
    /// errors). `output_hidden_states` also returns every layer's output, padded.
    pub fn forward(&self, ctx: &Context, b: &TokenBatch, output_hidden_states: bool) -> Result<BertOutput> {
        let tokens = PackedTokens::new(&ctx.device, &self.cfg, b)?;
        let packed = self.forward_packed(ctx, &tokens, output_hidden_states)?;
        let (x, hidden) = packed;
        let padding = tokens.padding;
        let pad = |t: &Tensor| -> Result<Tensor> {
            let out = Tensor::empty(&ctx.device, &[b.batch * b.seq, t.dim(1)], t.dtype())?;
            padding.pad(&ctx.ops, t, &out)?;
            out.reshape(&[b.batch, b.seq, t.dim(1)])
        };
        let last_hidden_state = pad(&x)?;
        let hidden_states = hidden.iter().map(&pad).collect::<Result<Vec<_>>>()?;
        let pooler_output = match &self.pooler {
            Some(p) => Some(p.forward(ctx, &padding, &x)?),
            None => None,
        };
        Ok(BertOutput { last_hidden_state, packed: x, pooler_output, hidden_states, padding })
    }

    /// The encoder on packed tokens: `[total, hidden]`, and with `keep` a copy of the
    /// embeddings' and every layer's output.
    pub fn forward_packed(&self, ctx: &Context, tokens: &PackedTokens, keep: bool) -> Result<(Tensor, Vec<Tensor>)> {
        let c = &self.cfg;
        let (t, h, dev) = (tokens.total(), c.hidden_size, &ctx.device);
        let scale = 1.0 / (c.head_dim as f32).sqrt();
        let attention = PackedAttention::new(&tokens.padding, c.num_attention_heads, c.num_attention_heads, c.head_dim, scale, self.dtype)?;
        let x = Tensor::empty(dev, &[t, h], self.dtype)?;
        self.embeddings.forward(ctx, tokens, &x)?;
        let mut kept = Vec::new();
        if keep {
            kept.push(x.duplicate()?);
        }
        let buf = LayerBuffers::new(dev, t, h, c.intermediate_size, self.dtype)?;
        for layer in &self.layers {
            layer.forward(ctx, &tokens.padding, &attention, &x, &buf)?;
            if keep {
                kept.push(x.duplicate()?);
            }
        }
        Ok((x, kept))
    }
}
