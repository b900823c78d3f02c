//! Picking the next token from logits on the GPU: greedy, or temperature / top-k / top-p
//! sampling with a per-sequence seed (the `sample` op: the same seed, step and logits always
//! give the same token). The per-row parameters live in device buffers, so the decode step's
//! CUDA graph samples too and only the RNG counters change between replays.

use fk_baselines::ops::{self, DeviceStatus, SamplingInputs};
use fk_baselines::Context;
use fk_runtime::{DType, Device, Error, Result, Tensor};

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
        if self.top_k > i32::MAX as u32 {
            return Err(Error::bad_input("sampling", format!("top_k {} is too large", self.top_k)));
        }
        Ok(())
    }
}

/// Device buffers for sampling batches of up to `max_batch` rows.
pub struct Sampler {
    vocab: usize,
    temperature: Tensor,
    top_k: Tensor,
    top_p: Tensor,
    rng: Tensor,
    out: Tensor,
    status: DeviceStatus,
    /// What the parameter buffers hold (rows 0..n), to upload only on change.
    loaded: Option<Vec<SamplingParams>>,
}

impl Sampler {
    pub fn new(dev: &Device, max_batch: usize, vocab: usize) -> Result<Sampler> {
        if vocab > ops::SAMPLE_MAX_VOCAB {
            return Err(Error::config(format!("vocab_size {vocab} exceeds the sampler's limit of {}", ops::SAMPLE_MAX_VOCAB)));
        }
        Ok(Sampler {
            vocab,
            temperature: Tensor::zeros(dev, &[max_batch], DType::F32)?,
            top_k: Tensor::zeros(dev, &[max_batch], DType::I32)?,
            top_p: Tensor::zeros(dev, &[max_batch], DType::F32)?,
            rng: Tensor::zeros(dev, &[max_batch, 2], DType::I64)?,
            out: Tensor::zeros(dev, &[max_batch], DType::I32)?,
            status: DeviceStatus::new(dev)?,
            loaded: None,
        })
    }

    /// Load `params` for rows 0..b (a no-op when they are already there).
    pub fn set_params(&mut self, params: &SamplingParams, b: usize) -> Result<()> {
        if matches!(&self.loaded, Some(rows) if rows.len() >= b && rows[..b].iter().all(|p| p == params)) {
            return Ok(());
        }
        self.set_rows(&vec![*params; b])
    }

    /// Load one parameter set per row (rows 0..rows.len()): the engine batches requests with
    /// different sampling settings. A no-op when the buffers already hold these rows.
    pub fn set_rows(&mut self, rows: &[SamplingParams]) -> Result<()> {
        if rows.len() > self.out.dim(0) {
            return Err(Error::shape("sample", format!("{} rows exceed the sampler's {}", rows.len(), self.out.dim(0))));
        }
        if matches!(&self.loaded, Some(have) if have.len() >= rows.len() && have[..rows.len()] == *rows) {
            return Ok(());
        }
        for p in rows {
            p.validate()?;
        }
        let dev = self.out.device().clone();
        let temperature: Vec<u8> = rows.iter().flat_map(|p| p.temperature.to_le_bytes()).collect();
        let top_p: Vec<u8> = rows.iter().flat_map(|p| p.top_p.to_le_bytes()).collect();
        let top_k: Vec<u8> = rows.iter().flat_map(|p| (p.top_k as i32).to_le_bytes()).collect();
        dev.htod(self.temperature.ptr(), &temperature)?;
        dev.htod(self.top_p.ptr(), &top_p)?;
        dev.htod(self.top_k.ptr(), &top_k)?;
        self.loaded = Some(rows.to_vec());
        Ok(())
    }

    /// Row i draws from `(seeds[i], step)`.
    pub fn set_rng(&self, seeds: &[u64], step: u64) -> Result<()> {
        let pairs: Vec<(u64, u64)> = seeds.iter().map(|&s| (s, step)).collect();
        self.set_rng_rows(&pairs)
    }

    /// Row i draws from `(seed, counter)` = `rows[i]`. The engine uses the request's seed and
    /// the index of the token being generated, so a request samples the same tokens however
    /// it is batched, chunked or preempted.
    pub fn set_rng_rows(&self, rows: &[(u64, u64)]) -> Result<()> {
        if rows.len() > self.rng.dim(0) {
            return Err(Error::shape("sample", format!("{} rng rows exceed the sampler's {}", rows.len(), self.rng.dim(0))));
        }
        let bytes: Vec<u8> = rows.iter().flat_map(|&(s, c)| [s as i64, c as i64]).flat_map(|v| v.to_le_bytes()).collect();
        self.out.device().htod(self.rng.ptr(), &bytes)
    }

    /// Enqueue sampling of `logits` (`[b, vocab]`) into the output buffer (no sync; may be
    /// captured in a graph).
    pub fn enqueue(&self, ctx: &Context, logits: &Tensor) -> Result<()> {
        let b = logits.dim(0);
        if logits.rank() != 2 || logits.dim(1) != self.vocab || b > self.out.dim(0) {
            return Err(Error::shape("sample", format!("logits {logits:?}: expected [<= {}, {}]", self.out.dim(0), self.vocab)));
        }
        let rows = |t: &Tensor| t.narrow(0, 0, b);
        let inputs = SamplingInputs { temperature: &rows(&self.temperature)?, top_k: &rows(&self.top_k)?, top_p: &rows(&self.top_p)?, rng: &rows(&self.rng)? };
        ops::sample_with_status(&ctx.ops, logits, &inputs, None, &rows(&self.out)?, &self.status)
    }

    /// Wait for the last `enqueue` and read its `b` tokens.
    pub fn read(&self, b: usize) -> Result<Vec<u32>> {
        let ids = self.out.narrow(0, 0, b)?.to_i64()?;
        match ids.iter().position(|&t| t < 0 || t as usize >= self.vocab) {
            Some(r) => {
                self.status.check("sample", |row| format!("row {row} has invalid sampling parameters"))?;
                Err(Error::bad_input("sample", format!("row {r} produced token {}", ids[r])))
            }
            None => Ok(ids.into_iter().map(|t| t as u32).collect()),
        }
    }

    /// The next token of each row of `logits` (`[b, vocab]`); row i uses seed `seeds[i]` at
    /// decode step `step`.
    pub fn sample(&mut self, ctx: &Context, logits: &Tensor, params: &SamplingParams, seeds: &[u64], step: u64) -> Result<Vec<u32>> {
        let b = logits.dim(0);
        if seeds.len() != b {
            return Err(Error::shape("sample", format!("{} seeds for {b} rows", seeds.len())));
        }
        self.set_params(params, b)?;
        self.set_rng(seeds, step)?;
        self.enqueue(ctx, logits)?;
        self.read(b)
    }
}
