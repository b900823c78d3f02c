//! The engine's view of a model on a device: something that runs one scheduled step and
//! returns the next token of each sequence. The GPU implementation is
//! [`crate::engine::GpuRunner`]; [`crate::engine::HashRunner`] is a CPU stand-in whose
//! tokens depend only on the request and the position, for testing the engine's logic.

use crate::kv_blocks::SeqId;
use crate::sampling::SamplingParams;
use fk_runtime::Result;

/// What a runner was built to hold; the scheduler is sized from it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct RunnerLimits {
    /// KV blocks in the cache, and tokens per block.
    pub num_blocks: usize,
    pub block_size: usize,
    /// Most tokens (prompt + output) of one sequence.
    pub max_model_len: usize,
    /// Most sequences in one step.
    pub max_num_seqs: usize,
    /// Most tokens in one step.
    pub max_batched_tokens: usize,
    pub vocab_size: usize,
}

/// One sequence's part of a step.
#[derive(Clone, Copy, Debug)]
pub struct StepSeqInput<'a> {
    pub id: SeqId,
    /// Tokens to run now; positions start at `context_len`.
    pub tokens: &'a [u32],
    pub context_len: usize,
    /// The sequence's KV blocks, covering `context_len + tokens.len()` tokens.
    pub block_table: &'a [u32],
    /// The chunk ends the known tokens: the step must return the next token.
    pub sample: bool,
    pub sampling: SamplingParams,
    /// Index of the token being generated (the sampler's RNG counter).
    pub output_index: u64,
}

pub trait StepRunner {
    fn limits(&self) -> RunnerLimits;

    /// Run `seqs` (every sequence's K/V for its new tokens lands in the cache) and return one
    /// token per sequence, in order; entries whose `sample` is false are unspecified.
    fn execute(&mut self, seqs: &[StepSeqInput<'_>]) -> Result<Vec<u32>>;

    /// A request finished, was aborted or was preempted (it restarts from `context_len` 0):
    /// drop any per-sequence state the runner keeps (the KV blocks themselves belong to the
    /// scheduler; recurrent-state models keep more).
    fn release(&mut self, _id: SeqId) {}

    /// A label for reports (model, dtype, device).
    fn describe(&self) -> String;

    /// Device seconds the decode-only steps took so far (CUDA events around the step's GPU
    /// work), if the runner measures them. Against the wall time of the same steps this
    /// splits a decode step into GPU work and host overhead.
    fn decode_device_seconds(&self) -> Option<f64> {
        None
    }
}

/// A boxed runner runs like the runner it holds, so a command can drive "whichever runner
/// this model needs" (the KV-cache `GpuRunner`, or a recurrent model's own) through one
/// `Engine<Box<dyn StepRunner>>` instead of being generic over every architecture.
impl<R: StepRunner + ?Sized> StepRunner for Box<R> {
    fn limits(&self) -> RunnerLimits {
        (**self).limits()
    }
    fn execute(&mut self, seqs: &[StepSeqInput<'_>]) -> Result<Vec<u32>> {
        (**self).execute(seqs)
    }
    fn release(&mut self, id: SeqId) {
        (**self).release(id)
    }
    fn describe(&self) -> String {
        (**self).describe()
    }
    fn decode_device_seconds(&self) -> Option<f64> {
        (**self).decode_device_seconds()
    }
}
