//! CPU reference of BGE-M3's dense encoder: `XLMRobertaModel`, then
//! `normalize(last_hidden_state[:, 0])` (FlagEmbedding's `_dense_embedding` with CLS pooling).

use fk_baselines::reference::modules::EncoderOutput;
use fk_baselines::reference::{cls_pool, l2_normalize};
use fk_recsys::{BertConfig, BertModel, TokenBatch};
use fk_runtime::safetensors::Checkpoint;
use fk_runtime::Result;

pub struct BgeM3 {
    pub model: BertModel,
}

pub struct BgeM3Output {
    pub encoder: EncoderOutput,
    /// `[batch, hidden]` unit vectors (f32; normalised in f64 from the model-dtype CLS row).
    pub dense_embedding: Vec<f32>,
}

impl BgeM3 {
    pub fn load(ckpt: &Checkpoint, cfg: &BertConfig) -> Result<BgeM3> {
        Ok(BgeM3 { model: BertModel::load(ckpt, cfg)? })
    }

    pub fn forward(&self, b: &TokenBatch) -> Result<BgeM3Output> {
        let encoder = self.model.forward(b)?;
        let h = encoder.hidden;
        let cls = cls_pool(&encoder.last_hidden_state, b.batch, b.seq, h);
        let dense_embedding = l2_normalize(&cls, h).into_iter().map(|x| x as f32).collect();
        Ok(BgeM3Output { encoder, dense_embedding })
    }
}
