//! Running a workload ([`crate::workloads`]) through an engine and reporting it: throughput
//! workloads queue every request at once and time the whole run; latency workloads queue the
//! batch, run it `warmup + iterations` times and report the median. The engine's decode-step
//! counters come with the report so the caller can put the decode steps against the
//! bandwidth roofline of its model.

use super::core::{Engine, EngineStats};
use super::metrics::{RequestMetrics, WorkloadSummary};
use super::runner::StepRunner;
use crate::sampling::SamplingParams;
use crate::scheduler::RequestParams;
use crate::workloads::{Mode, Workload};
use fk_runtime::{Error, Result};
use std::time::Instant;

#[derive(Clone, Debug, serde::Serialize)]
pub struct LatencyReport {
    pub batch: usize,
    pub iterations_s: Vec<f64>,
    pub median_s: f64,
    /// Median wall time per output token of one sequence (the original's "ms/tok").
    pub ms_per_token: f64,
    /// Output tokens of the batch / median wall time.
    pub output_tok_per_s: f64,
}

#[derive(Clone, Debug, serde::Serialize)]
pub struct WorkloadReport {
    pub workload: String,
    pub mode: Mode,
    pub notes: Vec<String>,
    /// Over the timed requests (all iterations of a latency workload).
    pub summary: WorkloadSummary,
    pub latency: Option<LatencyReport>,
    /// The engine's counters over the timed part.
    pub engine: EngineStats,
}

/// Progress: requests finished so far and the total that will finish.
pub type Progress<'a> = &'a mut dyn FnMut(usize, usize);

fn params(max_new_tokens: usize) -> RequestParams {
    // Greedy, EOS ignored: outputs have exactly the requested lengths (see workloads).
    RequestParams { max_new_tokens, sampling: SamplingParams::greedy(), eos_token_ids: Vec::new(), ignore_eos: true }
}

/// Queue every request of `w`, run to completion, return the metrics and wall seconds.
fn run_once<R: StepRunner>(engine: &mut Engine<R>, w: &Workload, done: &mut usize, total: usize, progress: Progress<'_>) -> Result<(Vec<RequestMetrics>, f64)> {
    if engine.has_unfinished() {
        return Err(Error::config("run a workload on an idle engine"));
    }
    let t0 = Instant::now();
    for r in &w.requests {
        engine.add_request(r.prompt.clone(), params(r.max_new_tokens))?;
    }
    let metrics = engine.run_to_completion(|o| {
        if o.finished.is_some() {
            *done += 1;
            progress(*done, total);
        }
    })?;
    Ok((metrics, t0.elapsed().as_secs_f64()))
}

pub fn run_workload<R: StepRunner>(engine: &mut Engine<R>, w: &Workload, progress: Progress<'_>) -> Result<WorkloadReport> {
    let n = w.requests.len();
    match w.mode {
        Mode::Throughput => {
            let before = engine.stats();
            let mut done = 0;
            let (metrics, wall) = run_once(engine, w, &mut done, n, progress)?;
            Ok(WorkloadReport {
                workload: w.name.to_string(),
                mode: w.mode,
                notes: w.notes.clone(),
                summary: WorkloadSummary::new(&metrics, wall),
                latency: None,
                engine: engine.stats().since(&before),
            })
        }
        Mode::Latency { warmup, iterations } => {
            if iterations == 0 {
                return Err(Error::config(format!("{}: a latency workload needs >= 1 iteration", w.name)));
            }
            let total = n * (warmup + iterations);
            let mut done = 0;
            for _ in 0..warmup {
                run_once(engine, w, &mut done, total, progress)?;
            }
            let before = engine.stats();
            let mut all = Vec::new();
            let mut walls = Vec::new();
            for _ in 0..iterations {
                let (m, wall) = run_once(engine, w, &mut done, total, progress)?;
                all.extend(m);
                walls.push(wall);
            }
            let mut sorted = walls.clone();
            sorted.sort_by(|a, b| a.total_cmp(b));
            let median = sorted[sorted.len() / 2];
            let out_tokens = w.output_tokens();
            let per_seq = out_tokens as f64 / n as f64;
            let total_wall: f64 = walls.iter().sum();
            let mut summary = WorkloadSummary::new(&all, total_wall);
            // One iteration's tokens over its median wall time, not all iterations' over
            // their sum: the same number for steady runs, robust to one slow iteration.
            summary.output_tok_per_s = out_tokens as f64 / median;
            summary.total_tok_per_s = (out_tokens + w.prompt_tokens()) as f64 / median;
            Ok(WorkloadReport {
                workload: w.name.to_string(),
                mode: w.mode,
                notes: w.notes.clone(),
                summary,
                latency: Some(LatencyReport {
                    batch: n,
                    iterations_s: walls,
                    median_s: median,
                    ms_per_token: median * 1e3 / per_seq,
                    output_tok_per_s: out_tokens as f64 / median,
                }),
                engine: engine.stats().since(&before),
            })
        }
    }
}
