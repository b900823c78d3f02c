//! ColBERT as the embedding engine's encoder: per request its real tokens' unit vectors
//! (`[tokens, dim]`, late interaction); no pooled vector (ColBERT has none). The engine runs
//! it pipelined (`TextStaging`): a batch is packed on the host and uploaded in one DMA while
//! the GPU still runs the previous one, and its vectors are copied out right behind it.

use crate::gpu::ColBERT;
use fk_baselines::Context;
use fk_recsys::embed::{check_text, token_batch, TextStaging};
use fk_runtime::embed::{EmbedInput, Embedding, Encoder, Launched, Modality, PipelinedEncoder};
use fk_runtime::{Error, Result};

pub struct ColBERTEncoder<'a> {
    pub model: &'a ColBERT,
    pub ctx: &'a Context,
    staging: TextStaging,
}

impl<'a> ColBERTEncoder<'a> {
    pub fn new(model: &'a ColBERT, ctx: &'a Context) -> Self {
        ColBERTEncoder { model, ctx, staging: TextStaging::default() }
    }
}

/// Packed rows (each request's real tokens, in batch order) split per request.
fn split_tokens(packed: &[f32], dim: usize, lens: &[usize]) -> Result<Vec<Embedding>> {
    let total: usize = lens.iter().sum();
    if packed.len() != total * dim {
        return Err(Error::shape("ColBERTEncoder", format!("{} packed values for {total} tokens × {dim}", packed.len())));
    }
    let mut rest = packed;
    let mut out = Vec::with_capacity(lens.len());
    for &len in lens {
        let (mine, tail) = rest.split_at(len * dim);
        out.push(Embedding { pooled: None, tokens: Some(mine.to_vec()), token_dim: dim });
        rest = tail;
    }
    Ok(out)
}

impl Encoder for ColBERTEncoder<'_> {
    fn modality(&self) -> Modality {
        Modality::Text
    }
    fn max_len(&self) -> Option<usize> {
        Some(self.model.bert.cfg.max_sequence_length())
    }
    fn check(&self, input: &EmbedInput) -> Result<()> {
        check_text(&self.model.bert.cfg, input)
    }
    fn embed_batch(&self, inputs: &[&EmbedInput]) -> Result<Vec<Embedding>> {
        let b = token_batch(inputs, self.model.bert.cfg.pad_token_id as u32)?;
        let unit = self.model.token_vectors(self.ctx, &b)?;
        let lens: Vec<usize> = inputs.iter().map(|x| x.len()).collect();
        split_tokens(&unit.to_f32()?, self.model.dim(), &lens)
    }
    fn pipelined(&self) -> Option<&dyn PipelinedEncoder> {
        Some(self)
    }
}

impl PipelinedEncoder for ColBERTEncoder<'_> {
    fn prepare(&self, slot: usize, inputs: &[&EmbedInput]) -> Result<()> {
        self.staging.prepare(&self.ctx.device, &self.model.bert.cfg, slot, inputs)
    }
    fn launch<'a>(&'a self, slot: usize, _inputs: &[&EmbedInput]) -> Result<Launched<'a>> {
        let (tokens, lens) = self.staging.upload(&self.ctx.device, slot)?;
        let unit = self.model.token_vectors_of(self.ctx, &tokens)?;
        self.staging.download(slot, &unit)?;
        Ok(Box::new(move || {
            drop((tokens, unit));
            let (packed, dim) = self.staging.collect(slot)?;
            split_tokens(&packed, dim, &lens)
        }))
    }
}
