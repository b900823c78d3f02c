//! Any BERT-family text model as the embedding engine's encoder: [`TextEncoder`] over a
//! [`PackedTextModel`] (ColBERT's per-token unit vectors, BGE-M3's dense CLS vector). The
//! engine runs it pipelined ([`TextStaging`]): a batch is checked and packed on the host and
//! uploaded in one DMA while the GPU still runs the previous one, and its result is copied out
//! right behind it; `embed_batch` is the same without the overlap.

use crate::embed::{check_text, token_batch, TextStaging};
use crate::gpu::PackedTokens;
use crate::BertConfig;
use fk_baselines::Context;
use fk_runtime::embed::{EmbedInput, Embedding, Encoder, Launched, Modality, PipelinedEncoder};
use fk_runtime::{Result, Tensor};

/// What a text model gives the embedding engine (`Sync`: its batches are collected on the
/// engine's collector thread).
pub trait PackedTextModel: Sync {
    fn config(&self) -> &BertConfig;
    /// The model on a batch's real tokens (packed, on the GPU): a `[rows, cols]` result.
    fn run(&self, ctx: &Context, tokens: &PackedTokens) -> Result<Tensor>;
    /// The result's rows (`values`, `cols` wide, row-major, f32) as one embedding per request;
    /// `lens`: each request's real tokens.
    fn embeddings(&self, values: Vec<f32>, cols: usize, lens: &[usize]) -> Result<Vec<Embedding>>;
}

pub struct TextEncoder<'a, M> {
    pub model: &'a M,
    pub ctx: &'a Context,
    staging: TextStaging,
}

impl<'a, M> TextEncoder<'a, M> {
    pub fn new(model: &'a M, ctx: &'a Context) -> Self {
        TextEncoder { model, ctx, staging: TextStaging::default() }
    }
}

impl<M: PackedTextModel> Encoder for TextEncoder<'_, M> {
    fn modality(&self) -> Modality {
        Modality::Text
    }
    fn max_len(&self) -> Option<usize> {
        Some(self.model.config().max_sequence_length())
    }
    fn check(&self, input: &EmbedInput) -> Result<()> {
        check_text(self.model.config(), input)
    }
    fn embed_batch(&self, inputs: &[&EmbedInput]) -> Result<Vec<Embedding>> {
        let cfg = self.model.config();
        let tokens = PackedTokens::new(&self.ctx.device, cfg, &token_batch(inputs, cfg.pad_token_id as u32)?)?;
        let out = self.model.run(self.ctx, &tokens)?;
        self.model.embeddings(out.to_f32()?, out.dim(1), &tokens.padding.lens)
    }
    fn pipelined(&self) -> Option<&dyn PipelinedEncoder> {
        Some(self)
    }
}

impl<M: PackedTextModel> PipelinedEncoder for TextEncoder<'_, M> {
    fn prepare(&self, slot: usize, inputs: &[&EmbedInput]) -> Result<()> {
        self.staging.prepare(&self.ctx.device, self.model.config(), slot, inputs)
    }
    fn launch<'a>(&'a self, slot: usize, _inputs: &[&EmbedInput]) -> Result<Launched<'a>> {
        let (tokens, lens) = self.staging.upload(&self.ctx.device, slot)?;
        let out = self.model.run(self.ctx, &tokens)?;
        self.staging.download(slot, &out)?;
        Ok(Box::new(move || {
            // The device tensors live until here: their frees are queued after the copy.
            drop((tokens, out));
            let (values, cols) = self.staging.collect(slot)?;
            self.model.embeddings(values, cols, &lens)
        }))
    }
}
