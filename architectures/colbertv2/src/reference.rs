//! CPU reference of ColBERT's encoder (`colbert.modeling.ColBERT.doc`/`query` without the
//! punctuation skiplist): `normalize(linear(BertModel(ids, mask).last_hidden_state) · mask)`.

use fk_baselines::reference::l2_normalize;
use fk_baselines::reference::modules::{EncoderOutput, Linear};
use fk_recsys::{BertConfig, BertModel, TokenBatch};
use fk_runtime::safetensors::Checkpoint;
use fk_runtime::{Error, Result};

pub struct ColBERT {
    pub bert: BertModel,
    /// `linear.weight [dim, hidden]`, no bias.
    pub linear: Linear,
}

pub struct ColBERTOutput {
    pub encoder: EncoderOutput,
    /// `[batch·seq, dim]`: unit vectors for real tokens, zeros for padding.
    pub token_embeddings: Vec<f32>,
    pub dim: usize,
}

impl ColBERT {
    pub fn load(ckpt: &Checkpoint, cfg: &BertConfig) -> Result<ColBERT> {
        let bert = BertModel::load(ckpt, cfg)?;
        let info = ckpt.info("linear.weight")?;
        let dim = match info.shape[..] {
            [dim, h] if h == cfg.hidden_size && dim > 0 => dim,
            _ => return Err(Error::shape("ColBERT", format!("linear.weight is {:?}, expected [dim, {}]", info.shape, cfg.hidden_size))),
        };
        Ok(ColBERT { linear: Linear::load(ckpt, "linear", cfg.hidden_size, dim, false)?, bert })
    }

    pub fn forward(&self, b: &TokenBatch) -> Result<ColBERTOutput> {
        let encoder = self.bert.forward(b)?;
        let r = self.bert.rounding;
        let dim = self.linear.out_features;
        let mut d = self.linear.forward(r, &encoder.last_hidden_state);
        for (row, &real) in d.chunks_exact_mut(dim).zip(&b.attention_mask) {
            if !real {
                row.iter_mut().for_each(|x| *x = 0.0);
            }
        }
        let d64: Vec<f64> = d.iter().map(|&x| x as f64).collect();
        let token_embeddings = r.round(l2_normalize(&d64, dim));
        Ok(ColBERTOutput { encoder, token_embeddings, dim })
    }
}
