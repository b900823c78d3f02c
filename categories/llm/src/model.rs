//! What a causal LM of the family exposes to generation and the engine: its geometry, its
//! scratch (activation buffers allocated once at their maximum size, so a decode step
//! allocates nothing and can be captured in a CUDA graph) and one forward step.

use crate::kv_cache::PagedKvCache;
use crate::step::ForwardBatch;
use fk_baselines::Context;
use fk_runtime::{DType, Result, Tensor};

/// The geometry generation needs to size the KV cache, step buffers and logits.
#[derive(Clone, Copy, Debug)]
pub struct LmSpec {
    pub num_layers: usize,
    pub kv_heads: usize,
    pub head_dim: usize,
    pub hidden_size: usize,
    pub vocab_size: usize,
    pub max_position_embeddings: usize,
    pub dtype: DType,
}

/// Sizes a model's scratch must hold.
#[derive(Clone, Copy, Debug)]
pub struct ScratchSizes {
    pub max_tokens: usize,
    pub max_seqs: usize,
    pub max_blocks: usize,
    pub block_size: usize,
}

pub trait CausalLm {
    type Scratch;

    fn spec(&self) -> LmSpec;

    fn scratch(&self, sizes: &ScratchSizes) -> Result<Self::Scratch>;

    /// Whether prefill rows need the step's per-token view (no prefill kernel for this
    /// model's dtype/head_dim; see [`crate::attention`]).
    fn needs_per_token_view(&self) -> bool;

    /// Run every row of `batch` through the model (writing its new K/V into `kv`) and write
    /// the logits of the batch's `logits_rows` into `logits` (`[num_seqs, vocab]`, model dtype).
    /// Weight bytes one forward step reads from device memory (the decode step's roofline:
    /// everything but the rows of an untied embedding table it does not touch).
    fn streamed_weight_bytes(&self) -> usize;

    fn forward(&self, ctx: &Context, batch: &ForwardBatch, kv: &PagedKvCache, scratch: &Self::Scratch, logits: &Tensor) -> Result<()>;
}
