//! The LLM family's workloads, mirroring the original's four (see
//! `../shared/reference/fastkernels-digest.md`), with synthetic prompts because no dataset
//! can be downloaded where benchmarks run:
//!
//! - `LLM.mixed` — 1000 requests, throughput. The original used 1000 WildChat prompts with the
//!   stored reply length as `max_tokens` (capped at 1024; its runs averaged ~388 output
//!   tokens). Here prompt lengths are log-normal (median 120, σ 1.1, clamped to [4, 4096];
//!   mean ≈ 220, like single-turn chat prompts) and output lengths log-normal (median 280,
//!   σ 0.8, clamped to [1, 1024]; mean ≈ 370). Seeded, so every run sees the same requests.
//! - `LLM.long_context` — 64 requests, throughput: 4×128K, 4×64K, 8×32K, 16×16K, 32×8K prompt
//!   tokens with 256 output tokens each, as LongBench-v2's buckets in the original. Prompts
//!   longer than the engine's context are cut to fit, and the workload says so in `notes`.
//! - `LLM.single_request` / `LLM.fixed_batch_32` — latency: batch 1 / 32 of the mixed set's
//!   first prompts, 128 output tokens, EOS ignored; 3 warm-up and 5 timed iterations, median.
//!
//! All requests are greedy and ignore EOS (the original ran temperature 0 with `ignore_eos`,
//! so output lengths are exactly the requested ones and runs are comparable). Token ids are
//! uniform over the vocabulary.

use fk_runtime::rng::Rng;
use fk_runtime::{Error, Result};

pub const WORKLOADS: &[&str] = &["LLM.mixed", "LLM.long_context", "LLM.single_request", "LLM.fixed_batch_32"];

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WorkloadRequest {
    pub prompt: Vec<u32>,
    pub max_new_tokens: usize,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub enum Mode {
    /// Every request queued at once; report tokens per second over the wall time.
    Throughput,
    /// The whole batch queued at once, timed `iterations` times after `warmup` runs; report
    /// the median.
    Latency { warmup: usize, iterations: usize },
}

#[derive(Clone, Debug)]
pub struct Workload {
    pub name: &'static str,
    pub mode: Mode,
    pub requests: Vec<WorkloadRequest>,
    /// What was changed to fit this engine (e.g. prompts cut to the context).
    pub notes: Vec<String>,
}

impl Workload {
    pub fn prompt_tokens(&self) -> usize {
        self.requests.iter().map(|r| r.prompt.len()).sum()
    }
    pub fn output_tokens(&self) -> usize {
        self.requests.iter().map(|r| r.max_new_tokens).sum()
    }
    /// Longest prompt + output of one request.
    pub fn max_seq_len(&self) -> usize {
        self.requests.iter().map(|r| r.prompt.len() + r.max_new_tokens).max().unwrap_or(0)
    }
}

const SEED: u64 = 42;

fn log_normal(rng: &mut Rng, median: f64, sigma: f64, lo: usize, hi: usize) -> usize {
    ((median * (sigma * rng.normal()).exp()).round() as usize).clamp(lo, hi)
}

fn prompt(rng: &mut Rng, len: usize, vocab: usize) -> Vec<u32> {
    (0..len).map(|_| rng.range(0, vocab as i64) as u32).collect()
}

fn mixed(vocab: usize) -> Vec<WorkloadRequest> {
    let mut rng = Rng::new(SEED);
    (0..1000)
        .map(|_| {
            let p = log_normal(&mut rng, 120.0, 1.1, 4, 4096);
            let o = log_normal(&mut rng, 280.0, 0.8, 1, 1024);
            WorkloadRequest { prompt: prompt(&mut rng, p, vocab), max_new_tokens: o }
        })
        .collect()
}

/// Build workload `name` for a model with `vocab` tokens served with contexts of at most
/// `max_model_len` tokens.
pub fn build(name: &str, vocab: usize, max_model_len: usize) -> Result<Workload> {
    if vocab == 0 {
        return Err(Error::config("vocab_size must be > 0"));
    }
    let mut notes = Vec::new();
    let latency = Mode::Latency { warmup: 3, iterations: 5 };
    let (mode, requests) = match name {
        "LLM.mixed" => (Mode::Throughput, mixed(vocab)),
        "LLM.single_request" | "LLM.fixed_batch_32" => {
            let n = if name == "LLM.single_request" { 1 } else { 32 };
            (latency, mixed(vocab).into_iter().take(n).map(|r| WorkloadRequest { max_new_tokens: 128, ..r }).collect())
        }
        "LLM.long_context" => {
            let mut rng = Rng::new(SEED + 1);
            let buckets = [(4, 128 * 1024), (4, 64 * 1024), (8, 32 * 1024), (16, 16 * 1024), (32, 8 * 1024)];
            let out = 256;
            let mut reqs = Vec::new();
            for (count, len) in buckets {
                let fit = len.min(max_model_len.saturating_sub(out));
                if fit == 0 {
                    return Err(Error::config(format!("LLM.long_context needs a context above {out} tokens; the engine has {max_model_len}")));
                }
                if fit < len {
                    notes.push(format!("{count} prompts of {len} tokens cut to {fit} (engine context {max_model_len})"));
                }
                for _ in 0..count {
                    reqs.push(WorkloadRequest { prompt: prompt(&mut rng, fit, vocab), max_new_tokens: out });
                }
            }
            (Mode::Throughput, reqs)
        }
        other => return Err(Error::config(format!("unknown workload `{other}`; the LLM family has {}", WORKLOADS.join(", ")))),
    };
    let name = WORKLOADS.iter().copied().find(|w| *w == name).expect("matched above");
    let mut w = Workload { name, mode, requests, notes };
    // Mixed-set requests longer than the context are dropped, as the original did.
    let before = w.requests.len();
    w.requests.retain(|r| r.prompt.len() + r.max_new_tokens <= max_model_len);
    if w.requests.len() < before {
        w.notes.push(format!("{} of {before} requests exceed the context of {max_model_len} tokens and were dropped", before - w.requests.len()));
    }
    if w.requests.is_empty() {
        return Err(Error::config(format!("{name}: no request fits a context of {max_model_len} tokens")));
    }
    Ok(w)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mixed_is_seeded_and_shaped_like_chat_traffic() {
        let a = build("LLM.mixed", 128_256, 8192).unwrap();
        let b = build("LLM.mixed", 128_256, 8192).unwrap();
        assert_eq!(a.requests, b.requests, "the workload must not change between runs");
        assert_eq!(a.requests.len(), 1000);
        let mean_in = a.prompt_tokens() as f64 / 1000.0;
        let mean_out = a.output_tokens() as f64 / 1000.0;
        assert!((150.0..320.0).contains(&mean_in), "mean prompt {mean_in}");
        assert!((300.0..450.0).contains(&mean_out), "mean output {mean_out}");
        assert!(a.requests.iter().all(|r| (1..=1024).contains(&r.max_new_tokens) && r.prompt.iter().all(|&t| t < 128_256)));
        assert!(a.notes.is_empty());
    }

    #[test]
    fn latency_workloads_take_the_first_mixed_prompts_with_128_tokens() {
        let mixed = build("LLM.mixed", 1000, 8192).unwrap();
        let one = build("LLM.single_request", 1000, 8192).unwrap();
        let b32 = build("LLM.fixed_batch_32", 1000, 8192).unwrap();
        assert_eq!(one.requests.len(), 1);
        assert_eq!(b32.requests.len(), 32);
        assert_eq!(b32.requests[5].prompt, mixed.requests[5].prompt);
        assert!(b32.requests.iter().all(|r| r.max_new_tokens == 128));
        assert_eq!(one.mode, Mode::Latency { warmup: 3, iterations: 5 });
    }

    #[test]
    fn long_context_is_cut_to_the_context_and_says_so() {
        let full = build("LLM.long_context", 1000, 131_072 + 256).unwrap();
        assert_eq!(full.requests.len(), 64);
        assert_eq!(full.requests[0].prompt.len(), 131_072);
        assert!(full.notes.is_empty(), "{:?}", full.notes);
        let cut = build("LLM.long_context", 1000, 32 * 1024).unwrap();
        assert_eq!(cut.requests.len(), 64);
        assert_eq!(cut.max_seq_len(), 32 * 1024);
        assert_eq!(cut.notes.len(), 3, "{:?}", cut.notes);
        assert!(build("LLM.long_context", 1000, 100).is_err());
        assert!(build("LLM.nope", 1000, 100).unwrap_err().to_string().contains("LLM.mixed"));
    }
}
