//! Picking the next token from logits: greedy, or temperature / top-k / top-p sampling with
//! a per-sequence seed (the same seed, step and logits always give the same token).

use fk_baselines::Context;
use fk_runtime::{Device, Error, Result, Tensor};

#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize)]
pub struct SamplingParams {
    /// 0 = greedy (argmax, first index on ties, as transformers).
    pub temperature: f32,
    /// 0 = off.
    pub top_k: u32,
    /// 1 = off; in (0, 1].
    pub top_p: f32,
    /// Sequence i of a batch uses `seed + i`.
    pub seed: u64,
}

impl SamplingParams {
    pub fn greedy() -> SamplingParams {
        SamplingParams { temperature: 0.0, top_k: 0, top_p: 1.0, seed: 0 }
    }

    pub fn validate(&self) -> Result<()> {
        if !(self.temperature.is_finite() && self.temperature >= 0.0) {
            return Err(Error::bad_input("sampling", format!("temperature {} must be finite and >= 0", self.temperature)));
        }
        if !(self.top_p > 0.0 && self.top_p <= 1.0) {
            return Err(Error::bad_input("sampling", format!("top_p {} must be in (0, 1]", self.top_p)));
        }
        Ok(())
    }

    pub fn is_greedy(&self) -> bool {
        self.temperature == 0.0 || self.top_k == 1
    }
}

/// Device buffers for sampling a batch of up to `max_batch` rows.
pub struct Sampler {
    vocab: usize,
}

impl Sampler {
    pub fn new(_dev: &Device, _max_batch: usize, vocab: usize) -> Result<Sampler> {
        Ok(Sampler { vocab })
    }

    /// The next token of each row of `logits` (`[b, vocab]`); row i uses seed `seeds[i]` at
    /// decode step `step`.
    pub fn sample(&mut self, _ctx: &Context, logits: &Tensor, params: &SamplingParams, seeds: &[u64], _step: u64) -> Result<Vec<u32>> {
        if logits.rank() != 2 || logits.dim(1) != self.vocab || logits.dim(0) != seeds.len() {
            return Err(Error::shape("sample", format!("logits {logits:?} for {} seeds and vocab {}", seeds.len(), self.vocab)));
        }
        if !params.is_greedy() {
            return Err(Error::config("temperature/top-k/top-p sampling needs the GPU `sample` op, which is not in this build"));
        }
        let v = logits.to_f32()?;
        Ok(v.chunks_exact(self.vocab)
            .map(|row| {
                let mut best = 0;
                for (j, &x) in row.iter().enumerate() {
                    if x > row[best] {
                        best = j;
                    }
                }
                best as u32
            })
            .collect())
    }
}
