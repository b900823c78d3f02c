//! Per-request timings and the summary a workload reports: output and total tokens per
//! second over the wall time, and TTFT / TPOT / end-to-end latency percentiles (the original
//! reported none of the latencies; vLLM's benchmark scripts report these three).

use crate::scheduler::FinishReason;
use serde::Serialize;

/// One finished request, timed from when it was added to the engine.
#[derive(Clone, Debug, Serialize)]
pub struct RequestMetrics {
    pub id: u64,
    pub prompt_tokens: usize,
    pub output_tokens: usize,
    /// Seconds to the first output token.
    pub ttft_s: f64,
    /// Mean seconds per output token after the first (None for one-token outputs).
    pub tpot_s: Option<f64>,
    /// Seconds to the last output token.
    pub latency_s: f64,
    pub preemptions: usize,
    pub finish: FinishReason,
}

#[derive(Clone, Copy, Debug, Default, Serialize, PartialEq)]
pub struct Percentiles {
    pub mean: f64,
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub max: f64,
}

impl Percentiles {
    /// Linear interpolation between closest ranks (numpy's default), so small samples give
    /// the same numbers the Python peers print. Empty input gives zeros.
    pub fn of(values: &[f64]) -> Percentiles {
        if values.is_empty() {
            return Percentiles::default();
        }
        let mut v = values.to_vec();
        v.sort_by(|a, b| a.total_cmp(b));
        let at = |q: f64| {
            let pos = q * (v.len() - 1) as f64;
            let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
            v[lo] + (v[hi] - v[lo]) * (pos - lo as f64)
        };
        Percentiles { mean: v.iter().sum::<f64>() / v.len() as f64, p50: at(0.5), p90: at(0.9), p99: at(0.99), max: v[v.len() - 1] }
    }
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct WorkloadSummary {
    pub requests: usize,
    pub prompt_tokens: usize,
    pub output_tokens: usize,
    pub wall_s: f64,
    pub output_tok_per_s: f64,
    /// (prompt + output tokens) / wall.
    pub total_tok_per_s: f64,
    pub requests_per_s: f64,
    pub ttft_s: Percentiles,
    pub tpot_s: Percentiles,
    pub latency_s: Percentiles,
    pub preemptions: usize,
}

impl WorkloadSummary {
    pub fn new(metrics: &[RequestMetrics], wall_s: f64) -> WorkloadSummary {
        let prompt_tokens = metrics.iter().map(|m| m.prompt_tokens).sum();
        let output_tokens = metrics.iter().map(|m| m.output_tokens).sum();
        let per_s = |n: usize| if wall_s > 0.0 { n as f64 / wall_s } else { 0.0 };
        WorkloadSummary {
            requests: metrics.len(),
            prompt_tokens,
            output_tokens,
            wall_s,
            output_tok_per_s: per_s(output_tokens),
            total_tok_per_s: per_s(prompt_tokens + output_tokens),
            requests_per_s: per_s(metrics.len()),
            ttft_s: Percentiles::of(&metrics.iter().map(|m| m.ttft_s).collect::<Vec<_>>()),
            tpot_s: Percentiles::of(&metrics.iter().filter_map(|m| m.tpot_s).collect::<Vec<_>>()),
            latency_s: Percentiles::of(&metrics.iter().map(|m| m.latency_s).collect::<Vec<_>>()),
            preemptions: metrics.iter().map(|m| m.preemptions).sum(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_interpolate_like_numpy() {
        // numpy.percentile([1..=10], [50, 90, 99]) = 5.5, 9.1, 9.91
        let v: Vec<f64> = (1..=10).map(f64::from).collect();
        let p = Percentiles::of(&v);
        assert!((p.p50 - 5.5).abs() < 1e-12 && (p.p90 - 9.1).abs() < 1e-12 && (p.p99 - 9.91).abs() < 1e-12, "{p:?}");
        assert_eq!(p.mean, 5.5);
        assert_eq!(p.max, 10.0);
        assert_eq!(Percentiles::of(&[]), Percentiles::default());
        assert_eq!(Percentiles::of(&[3.0]).p99, 3.0);
    }

    #[test]
    fn summary_counts_tokens_over_wall_time() {
        let m = |id, p, o, ttft| RequestMetrics {
            id,
            prompt_tokens: p,
            output_tokens: o,
            ttft_s: ttft,
            tpot_s: (o > 1).then_some(0.01),
            latency_s: ttft + 0.01 * (o as f64 - 1.0),
            preemptions: 0,
            finish: FinishReason::Length,
        };
        let s = WorkloadSummary::new(&[m(0, 10, 5, 0.1), m(1, 30, 1, 0.3)], 2.0);
        assert_eq!((s.prompt_tokens, s.output_tokens), (40, 6));
        assert_eq!(s.output_tok_per_s, 3.0);
        assert_eq!(s.total_tok_per_s, 23.0);
        assert_eq!(s.tpot_s.p50, 0.01, "one-token outputs have no TPOT");
        assert!((s.ttft_s.p50 - 0.2).abs() < 1e-12);
    }
}
