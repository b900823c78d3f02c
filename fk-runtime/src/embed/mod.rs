//! The embedding engine: requests (token ids for text encoders, a pixel tensor for image
//! encoders), a queue, a batcher that groups text by length and images by resolution, and
//! one [`Encoder`] trait the encoder architectures implement. It lives here, below both
//! families (`fk-recsys` text encoders, `fk-multimodal` image encoders), because the batching
//! is the same for both and has nothing to do with CUDA: it is host logic, tested on the CPU
//! with a stand-in encoder.
//!
//! Why batch by length / resolution: the encoders run packed (varlen) attention, so padding
//! costs no FLOPs, but a batch's buffers, its attention tiles and its padded
//! `last_hidden_state` scale with `count × longest`; sorting by length keeps that close to the
//! real token count. Image encoders take one resolution per batch (DINOv3 runs same-sized
//! images; SigLIP-2 pads to the largest patch count), so images group by `(C, H, W)`.

mod batcher;
pub mod check;
mod engine;
pub mod workloads;

pub use batcher::{plan_batches, BatchPolicy};
pub use engine::{EmbedEngine, EmbedStats, HostPhases};

use crate::{Error, Result};

/// Each row of a `[rows, width]` (or `[…, width]`) tensor, downloaded (syncs the stream):
/// how encoders hand per-request vectors back.
#[cfg(feature = "cuda")]
pub fn host_rows(t: &crate::Tensor) -> Result<Vec<Vec<f32>>> {
    let w = t.dim(t.shape().len() - 1);
    Ok(t.to_f32()?.chunks_exact(w.max(1)).map(<[f32]>::to_vec).collect())
}

/// One input to embed.
#[derive(Clone, Debug, PartialEq)]
pub enum EmbedInput {
    /// The real tokens of one sequence (no padding; a tokenizer's `attention_mask` selects
    /// them), with optional `token_type_ids` of the same length.
    Text { input_ids: Vec<u32>, token_type_ids: Option<Vec<u32>> },
    /// One CHW f32 image, already preprocessed (resized, normalised) as an image processor's
    /// `pixel_values` row.
    Image { channels: usize, height: usize, width: usize, pixels: Vec<f32> },
}

impl EmbedInput {
    pub fn text(input_ids: Vec<u32>) -> EmbedInput {
        EmbedInput::Text { input_ids, token_type_ids: None }
    }

    /// Tokens (text) or pixels (image): what a batch budget counts.
    pub fn len(&self) -> usize {
        match self {
            EmbedInput::Text { input_ids, .. } => input_ids.len(),
            EmbedInput::Image { pixels, .. } => pixels.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn modality(&self) -> Modality {
        match self {
            EmbedInput::Text { .. } => Modality::Text,
            EmbedInput::Image { .. } => Modality::Image,
        }
    }

    /// Shape checks that need no model: non-empty, sizes that agree.
    pub fn check_shape(&self) -> Result<()> {
        match self {
            EmbedInput::Text { input_ids, token_type_ids } => {
                if input_ids.is_empty() {
                    return Err(Error::bad_input("EmbedInput", "empty text: give at least one token"));
                }
                if let Some(tt) = token_type_ids {
                    if tt.len() != input_ids.len() {
                        return Err(Error::shape("EmbedInput", format!("{} token_type_ids for {} input_ids", tt.len(), input_ids.len())));
                    }
                }
            }
            EmbedInput::Image { channels, height, width, pixels } => {
                if channels * height * width == 0 {
                    return Err(Error::bad_input("EmbedInput", format!("empty image {channels}×{height}×{width}")));
                }
                if pixels.len() != channels * height * width {
                    return Err(Error::shape("EmbedInput", format!("{} pixel values for a {channels}×{height}×{width} image", pixels.len())));
                }
            }
        }
        Ok(())
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Modality {
    Text,
    Image,
}

impl std::fmt::Display for Modality {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Modality::Text => "text",
            Modality::Image => "image",
        })
    }
}

/// What one request gets back, on the host as f32.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Embedding {
    /// The sequence/image vector (`pooler_output`, BGE-M3's normalised CLS, SigLIP's head,
    /// DINOv3's CLS), when the model has one.
    pub pooled: Option<Vec<f32>>,
    /// Per-token vectors `[tokens, token_dim]` row-major (ColBERT's late-interaction
    /// embeddings), for this request's real tokens only.
    pub tokens: Option<Vec<f32>>,
    pub token_dim: usize,
}

/// One pooled embedding (no per-token vectors) per row of `values`, `cols` wide, row-major.
pub fn pooled_rows(values: &[f32], cols: usize) -> Vec<Embedding> {
    values.chunks_exact(cols.max(1)).map(|v| Embedding { pooled: Some(v.to_vec()), tokens: None, token_dim: 0 }).collect()
}

/// An encoder the engine can drive. Implemented by the architectures' GPU models (with their
/// kernel context), and by a stand-in in the tests.
pub trait Encoder {
    fn modality(&self) -> Modality;
    /// Most tokens of one text sequence (max positions); `None` for image encoders.
    fn max_len(&self) -> Option<usize>;
    /// Check one input against the model (ids in the vocabulary, length within the positions,
    /// image size a multiple of the patch, channel count): a named error before any batch
    /// runs, so one bad request cannot fail the others' batch halfway.
    fn check(&self, input: &EmbedInput) -> Result<()>;
    /// Embed one batch (all of the encoder's modality; images of one resolution); one
    /// [`Embedding`] per input, in input order.
    fn embed_batch(&self, inputs: &[&EmbedInput]) -> Result<Vec<Embedding>>;
    /// The pipelined form, when the encoder has one: the engine then prepares each batch on
    /// the host while the GPU computes the one before (see [`PipelinedEncoder`]).
    fn pipelined(&self) -> Option<&dyn PipelinedEncoder> {
        None
    }
}

/// A batch whose GPU work is enqueued: calling it waits for that work (and, for a pipelined
/// encoder, only for it: not for a batch enqueued after it) and returns one [`Embedding`] per
/// input, in input order. The engine calls it on its collector thread.
pub type Launched<'a> = Box<dyn FnOnce() -> Result<Vec<Embedding>> + Send + 'a>;

/// Staging slots of a pipelined encoder: batch k uses slot k % PIPELINE_SLOTS.
pub const PIPELINE_SLOTS: usize = 3;

/// Embedding a batch in two steps, so that neither the host-side preparation of a batch
/// (staging 25 MB of pixels for 32 images, say), nor the wait for its results and their
/// conversion, leaves the GPU idle. The engine's thread calls `prepare(k % S, b_k)` and
/// `launch(k % S, b_k)` for batches k = 0, 1, 2, … (S = [`PIPELINE_SLOTS`]) and hands each
/// launched batch to a collector thread, which waits for the batches in launch order and
/// converts their results while the next ones are prepared and launched: the GPU always has
/// the next batch queued, and the host's two halves of a batch's work run side by side. A slot
/// is prepared again only after the batch launched from it has been collected; collecting a
/// batch must not wait for one launched after it (its results are copied out in stream order
/// right behind it, into memory of its slot).
pub trait PipelinedEncoder {
    /// Host-side work for `inputs` into staging `slot` (< PIPELINE_SLOTS): nothing that waits
    /// for the GPU.
    fn prepare(&self, slot: usize, inputs: &[&EmbedInput]) -> Result<()>;
    /// Enqueue the GPU work of the batch prepared in `slot` (the same `inputs`).
    fn launch<'a>(&'a self, slot: usize, inputs: &[&EmbedInput]) -> Result<Launched<'a>>;
}

/// A borrowed encoder (or `&dyn Encoder`, which the CLI picks at run time) is one too.
impl<T: Encoder + ?Sized> Encoder for &T {
    fn modality(&self) -> Modality {
        (**self).modality()
    }
    fn max_len(&self) -> Option<usize> {
        (**self).max_len()
    }
    fn check(&self, input: &EmbedInput) -> Result<()> {
        (**self).check(input)
    }
    fn embed_batch(&self, inputs: &[&EmbedInput]) -> Result<Vec<Embedding>> {
        (**self).embed_batch(inputs)
    }
    fn pipelined(&self) -> Option<&dyn PipelinedEncoder> {
        (**self).pipelined()
    }
}
