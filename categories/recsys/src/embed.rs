//! The BERT family's side of the embedding engine (`fk_runtime::embed`): text requests →
//! a right-padded [`TokenBatch`], per-request checks against the config, and the engine's
//! [`Encoder`] for a plain `BertModel` / `XLMRobertaModel` (pooled = `pooler_output`).
//! ColBERT and BGE-M3 wrap the same pieces with their heads.

use crate::bert::check_batch;
use crate::gpu::{BertModel, BertOutput, HostPackedTokens, PackedTokens};
use crate::{BertConfig, TokenBatch};
use fk_baselines::Context;
use fk_runtime::embed::{host_rows, EmbedInput, Embedding, Encoder, Modality, PIPELINE_SLOTS};
use fk_runtime::pinned::{AsyncDownload, I32Upload};
use fk_runtime::{Device, Error, Result, Tensor};
use std::sync::Mutex;

/// The text requests of one batch as a right-padded [`TokenBatch`] (token types given for
/// some requests only are zeros for the others, as BERT defaults them).
pub fn token_batch(inputs: &[&EmbedInput], pad_token_id: u32) -> Result<TokenBatch> {
    let mut seqs = Vec::with_capacity(inputs.len());
    let mut types: Vec<Option<&Vec<u32>>> = Vec::with_capacity(inputs.len());
    for (i, x) in inputs.iter().enumerate() {
        match x {
            EmbedInput::Text { input_ids, token_type_ids } => {
                seqs.push(input_ids.clone());
                types.push(token_type_ids.as_ref());
            }
            EmbedInput::Image { .. } => return Err(Error::bad_input("token_batch", format!("request {i} is an image, the model takes text"))),
        }
    }
    let mut b = TokenBatch::from_sequences(&seqs, pad_token_id)?;
    if types.iter().any(Option::is_some) {
        let mut tt = vec![0u32; b.batch * b.seq];
        for (r, t) in types.iter().enumerate() {
            if let Some(t) = t {
                tt[r * b.seq..r * b.seq + t.len()].copy_from_slice(t);
            }
        }
        b.token_type_ids = Some(tt);
    }
    Ok(b)
}

/// One text request checked against `cfg` as a batch of one: length within the positions,
/// ids within the vocabulary, token types within `type_vocab_size` (the model's own errors).
pub fn check_text(cfg: &BertConfig, input: &EmbedInput) -> Result<()> {
    check_batch(cfg, &token_batch(&[input], cfg.pad_token_id as u32)?)
}

/// A GPU `BertModel` with its kernel context, as the engine's encoder.
pub struct BertEncoder<'a> {
    pub model: &'a BertModel,
    pub ctx: &'a Context,
}

impl BertEncoder<'_> {
    /// The batch `inputs` through the model.
    pub fn forward(&self, inputs: &[&EmbedInput]) -> Result<(TokenBatch, BertOutput)> {
        let b = token_batch(inputs, self.model.cfg.pad_token_id as u32)?;
        let out = self.model.forward(self.ctx, &b, false)?;
        Ok((b, out))
    }
}

impl Encoder for BertEncoder<'_> {
    fn modality(&self) -> Modality {
        Modality::Text
    }
    fn max_len(&self) -> Option<usize> {
        Some(self.model.cfg.max_sequence_length())
    }
    fn check(&self, input: &EmbedInput) -> Result<()> {
        check_text(&self.model.cfg, input)
    }
    fn embed_batch(&self, inputs: &[&EmbedInput]) -> Result<Vec<Embedding>> {
        let (_, out) = self.forward(inputs)?;
        let pooled = match &out.pooler_output {
            Some(p) => host_rows(p)?.into_iter().map(Some).collect(),
            None => {
                // No pooler: nothing pooled, but the batch still ran (and synced).
                self.ctx.device.synchronize()?;
                vec![None; inputs.len()]
            }
        };
        Ok(pooled.into_iter().map(|pooled| Embedding { pooled, tokens: None, token_dim: 0 }).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_batch_pads_and_fills_token_types() {
        let a = EmbedInput::text(vec![5, 6, 7]);
        let b = EmbedInput::Text { input_ids: vec![8], token_type_ids: Some(vec![1]) };
        let t = token_batch(&[&a, &b], 0).unwrap();
        assert_eq!((t.batch, t.seq, &t.input_ids[..]), (2, 3, &[5, 6, 7, 8, 0, 0][..]));
        assert_eq!(t.token_type_ids.unwrap(), [0, 0, 0, 1, 0, 0]);
        let img = EmbedInput::Image { channels: 1, height: 1, width: 1, pixels: vec![0.0] };
        assert!(token_batch(&[&img], 0).unwrap_err().to_string().contains("request 0 is an image"));
    }

    #[test]
    fn check_text_names_length_and_id_problems() {
        let cfg = BertConfig::from_json(r#"{"model_type": "bert", "vocab_size": 100, "hidden_size": 8, "num_hidden_layers": 1, "num_attention_heads": 2, "intermediate_size": 16, "max_position_embeddings": 4}"#).unwrap();
        assert!(check_text(&cfg, &EmbedInput::text(vec![1, 2, 3, 4])).is_ok());
        let e = check_text(&cfg, &EmbedInput::text(vec![1; 5])).unwrap_err().to_string();
        assert!(e.contains("sequence length 5 exceeds"), "{e}");
        let e = check_text(&cfg, &EmbedInput::text(vec![1, 100])).unwrap_err().to_string();
        assert!(e.contains("id 100, vocab_size is 100"), "{e}");
    }
}

/// Staging slots (`PIPELINE_SLOTS` of them) for a text encoder's pipelined path (`fk_runtime::embed::PipelinedEncoder`):
/// `prepare` checks and packs a batch on the host into a slot's page-locked memory (ids, token
/// types, positions and the padding maps: one DMA later, instead of six synchronous uploads,
/// each of which waited for every batch still on the GPU), `upload` enqueues that copy,
/// `download` the result's copy-out behind the batch, `collect` waits for that copy alone.
#[derive(Default)]
pub struct TextStaging {
    slots: [Mutex<TextSlot>; PIPELINE_SLOTS],
}

#[derive(Default)]
struct TextSlot {
    host: Option<HostPackedTokens>,
    upload: I32Upload,
    out: AsyncDownload,
}

impl TextStaging {
    fn slot(&self, slot: usize) -> Result<std::sync::MutexGuard<'_, TextSlot>> {
        let m = self.slots.get(slot).ok_or_else(|| Error::bad_input("TextStaging", format!("slot {slot} (there are {PIPELINE_SLOTS})")))?;
        Ok(m.lock().unwrap_or_else(|e| e.into_inner()))
    }

    /// Check and pack `inputs` for `cfg` into `slot` (host work; waits only for the slot's
    /// previous upload).
    pub fn prepare(&self, dev: &Device, cfg: &BertConfig, slot: usize, inputs: &[&EmbedInput]) -> Result<()> {
        let host = HostPackedTokens::new(cfg, &token_batch(inputs, cfg.pad_token_id as u32)?)?;
        let mut s = self.slot(slot)?;
        host.stage(dev, &mut s.upload)?;
        s.host = Some(host);
        Ok(())
    }

    /// The prepared batch's tokens on the device (copy enqueued, not waited for) and its real
    /// tokens per sequence.
    pub fn upload(&self, dev: &Device, slot: usize) -> Result<(PackedTokens, Vec<usize>)> {
        let mut s = self.slot(slot)?;
        let TextSlot { host, upload, .. } = &mut *s;
        let host = host.as_ref().ok_or_else(|| Error::bad_input("TextStaging", format!("slot {slot} holds no prepared batch")))?;
        Ok((host.upload_staged(dev, upload)?, host.lens().to_vec()))
    }

    /// Enqueue the copy-out of `result` (`[rows, cols]`) after everything queued so far.
    pub fn download(&self, slot: usize, result: &Tensor) -> Result<()> {
        self.slot(slot)?.out.enqueue(result)
    }

    /// `download`'s rows as f32 and the column count, once that copy has completed.
    pub fn collect(&self, slot: usize) -> Result<(Vec<f32>, usize)> {
        self.slot(slot)?.out.collect()
    }
}
