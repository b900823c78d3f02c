//! CPU reference of HF `BertModel` / `XLMRobertaModel` (inference, no dropout), one struct per
//! upstream module with its weight keys: `embeddings.{word,position,token_type}_embeddings`,
//! `embeddings.LayerNorm`, `encoder.layer.{i}.attention.self.{query,key,value}`,
//! `encoder.layer.{i}.attention.output.{dense,LayerNorm}`, `encoder.layer.{i}.intermediate.dense`,
//! `encoder.layer.{i}.output.{dense,LayerNorm}`, `pooler.dense` (optional). Checkpoints that
//! wrap the encoder (`bert.…`, `roberta.…`) are found by their prefix.
//!
//! Activations are rounded to the checkpoint dtype where PyTorch materialises them (every
//! linear, norm, activation and residual add); arithmetic is f64.

use crate::batch::TokenBatch;
use crate::config::{BertConfig, PositionStyle};
use fk_baselines::reference::modules::{find_prefix, load_tensor, no_rotation, EncoderOutput, Activation, LayerNorm, Linear, Padded, Rounding, SelfAttention};
use fk_runtime::safetensors::Checkpoint;
use fk_runtime::{Error, Result};

/// Word + token-type + position embeddings, then LayerNorm (in that order of adds, as HF).
pub struct BertEmbeddings {
    pub word_embeddings: Vec<f32>,
    pub position_embeddings: Vec<f32>,
    pub token_type_embeddings: Vec<f32>,
    pub layer_norm: LayerNorm,
}

/// `BertAttention` (self-attention + `attention.output`) → `BertIntermediate` → `BertOutput`,
/// post-norm: `LayerNorm(x + dense(attn))`, then `LayerNorm(h + dense(act(dense(h))))`.
pub struct BertLayer {
    /// `attention.self.{query,key,value}` and `attention.output.dense` as `o`.
    pub attention: SelfAttention,
    pub attention_output_layer_norm: LayerNorm,
    pub intermediate: Linear,
    pub output: Linear,
    pub output_layer_norm: LayerNorm,
}

/// `tanh(dense(hidden[:, 0]))`.
pub struct BertPooler {
    pub dense: Linear,
}

pub struct BertModel {
    pub cfg: BertConfig,
    /// The dtype activations are rounded to (the checkpoint's).
    pub rounding: Rounding,
    /// Key prefix the checkpoint uses (`""`, `"bert."`, `"roberta."`).
    pub prefix: String,
    pub embeddings: BertEmbeddings,
    pub layers: Vec<BertLayer>,
    pub pooler: Option<BertPooler>,
}

impl BertModel {
    pub fn load(ckpt: &Checkpoint, cfg: &BertConfig) -> Result<BertModel> {
        let prefix = find_prefix(ckpt, "embeddings.word_embeddings.weight", &["", "bert.", "roberta.", "model."])?;
        let p = |s: &str| format!("{prefix}{s}");
        let (h, i, eps) = (cfg.hidden_size, cfg.intermediate_size, cfg.layer_norm_eps);
        let word_name = p("embeddings.word_embeddings.weight");
        let rounding = Rounding(ckpt.info(&word_name)?.dtype);
        let embeddings = BertEmbeddings {
            word_embeddings: load_tensor(ckpt, &word_name, &[cfg.vocab_size, h])?,
            position_embeddings: load_tensor(ckpt, &p("embeddings.position_embeddings.weight"), &[cfg.max_position_embeddings, h])?,
            token_type_embeddings: load_tensor(ckpt, &p("embeddings.token_type_embeddings.weight"), &[cfg.type_vocab_size, h])?,
            layer_norm: LayerNorm::load(ckpt, &p("embeddings.LayerNorm"), h, eps)?,
        };
        let mut layers = Vec::with_capacity(cfg.num_hidden_layers);
        for l in 0..cfg.num_hidden_layers {
            let lp = |s: &str| p(&format!("encoder.layer.{l}.{s}"));
            layers.push(BertLayer {
                attention: SelfAttention {
                    q: Linear::load(ckpt, &lp("attention.self.query"), h, h, true)?,
                    k: Linear::load(ckpt, &lp("attention.self.key"), h, h, true)?,
                    v: Linear::load(ckpt, &lp("attention.self.value"), h, h, true)?,
                    o: Linear::load(ckpt, &lp("attention.output.dense"), h, h, true)?,
                    heads: cfg.num_attention_heads,
                    head_dim: cfg.head_dim,
                },
                attention_output_layer_norm: LayerNorm::load(ckpt, &lp("attention.output.LayerNorm"), h, eps)?,
                intermediate: Linear::load(ckpt, &lp("intermediate.dense"), h, i, true)?,
                output: Linear::load(ckpt, &lp("output.dense"), i, h, true)?,
                output_layer_norm: LayerNorm::load(ckpt, &lp("output.LayerNorm"), h, eps)?,
            });
        }
        let pooler = if ckpt.contains(&p("pooler.dense.weight")) { Some(BertPooler { dense: Linear::load(ckpt, &p("pooler.dense"), h, h, true)? }) } else { None };
        Ok(BertModel { cfg: cfg.clone(), rounding, prefix, embeddings, layers, pooler })
    }

    /// Position ids of the batch, as HF forms them (see [`PositionStyle`]).
    pub fn position_ids(&self, b: &TokenBatch) -> Vec<usize> {
        position_ids(&self.cfg, b)
    }

    fn check(&self, b: &TokenBatch) -> Result<()> {
        check_batch(&self.cfg, b)
    }

    pub fn forward(&self, b: &TokenBatch) -> Result<EncoderOutput> {
        self.check(b)?;
        let r = self.rounding;
        let h = self.cfg.hidden_size;
        let e = &self.embeddings;
        let positions = self.position_ids(b);
        let row = |table: &[f32], i: usize| -> Vec<f32> { table[i * h..(i + 1) * h].to_vec() };
        let mut x = Vec::with_capacity(b.batch * b.seq * h);
        for (t, &id) in b.input_ids.iter().enumerate() {
            let tt = b.token_type_ids.as_ref().map_or(0, |v| v[t] as usize);
            let s = r.add(&row(&e.word_embeddings, id as usize), &row(&e.token_type_embeddings, tt));
            x.extend(r.add(&s, &row(&e.position_embeddings, positions[t])));
        }
        let mut x = e.layer_norm.forward(r, &x);
        let padded = Padded { batch: b.batch, seq: b.seq, mask: &b.attention_mask };
        let mut hidden_states = vec![x.clone()];
        for l in &self.layers {
            x = l.forward(r, &x, padded, self.cfg.hidden_act);
            hidden_states.push(x.clone());
        }
        let pooler_output = self.pooler.as_ref().map(|p| p.forward(r, &x, b.batch, b.seq, h));
        Ok(EncoderOutput { batch: b.batch, seq: b.seq, hidden: h, hidden_states, last_hidden_state: x, pooler_output })
    }
}

impl BertLayer {
    pub fn forward(&self, r: Rounding, x: &[f32], p: Padded, act: Activation) -> Vec<f32> {
        let attn = self.attention.forward(r, x, p, &no_rotation);
        let h = self.attention_output_layer_norm.forward(r, &r.add(&attn, x));
        let inter = act.forward(r, &self.intermediate.forward(r, &h));
        let out = self.output.forward(r, &inter);
        self.output_layer_norm.forward(r, &r.add(&out, &h))
    }
}

impl BertPooler {
    pub fn forward(&self, r: Rounding, x: &[f32], batch: usize, seq: usize, hidden: usize) -> Vec<f32> {
        let first: Vec<f32> = (0..batch).flat_map(|b| x[b * seq * hidden..][..hidden].to_vec()).collect();
        let d = self.dense.forward(r, &first);
        r.round(d.iter().map(|&v| (v as f64).tanh()))
    }
}

/// Position ids of `b` `[batch·seq]`, as HF forms them (see [`PositionStyle`]); shared by the
/// CPU reference and the GPU model.
pub fn position_ids(cfg: &BertConfig, b: &TokenBatch) -> Vec<usize> {
    let pad = cfg.pad_token_id;
    let mut out = Vec::with_capacity(b.batch * b.seq);
    for row in b.input_ids.chunks_exact(b.seq) {
        match cfg.position_style {
            PositionStyle::Absolute => out.extend(0..b.seq),
            PositionStyle::FromPadding => {
                let mut count = 0;
                for &id in row {
                    if id as usize != pad {
                        count += 1;
                        out.push(pad + count);
                    } else {
                        out.push(pad);
                    }
                }
            }
        }
    }
    out
}

/// Check ids, token types and length against the config: out-of-range values are user
/// errors here, not silent garbage rows (CPU reference and GPU model alike).
pub fn check_batch(c: &BertConfig, b: &TokenBatch) -> Result<()> {
    // The fields are public, so a batch may not have come through `TokenBatch::new`.
    let n = b.batch * b.seq;
    if n == 0 || b.input_ids.len() != n || b.attention_mask.len() != n || b.token_type_ids.as_ref().is_some_and(|t| t.len() != n) {
        return Err(Error::shape(
            "BertModel",
            format!(
                "batch {}×{}: input_ids ({}), attention_mask ({}) and token_type_ids ({:?}) must all have {n} entries",
                b.batch,
                b.seq,
                b.input_ids.len(),
                b.attention_mask.len(),
                b.token_type_ids.as_ref().map(Vec::len)
            ),
        ));
    }
    if b.seq > c.max_sequence_length() {
        return Err(Error::bad_input(
            "BertModel",
            format!("sequence length {} exceeds the {} positions of max_position_embeddings {}", b.seq, c.max_sequence_length(), c.max_position_embeddings),
        ));
    }
    if let Some((t, &id)) = b.input_ids.iter().enumerate().find(|(_, &id)| id as usize >= c.vocab_size) {
        return Err(Error::bad_input("BertModel", format!("token {} of sequence {} has id {id}, vocab_size is {}", t % b.seq, t / b.seq, c.vocab_size)));
    }
    if let Some(tt) = &b.token_type_ids {
        if let Some(&bad) = tt.iter().find(|&&x| x as usize >= c.type_vocab_size) {
            return Err(Error::bad_input("BertModel", format!("token_type_id {bad} out of range (type_vocab_size {})", c.type_vocab_size)));
        }
    }
    Ok(())
}
