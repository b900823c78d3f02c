//! `cargo fastkernels eval` for the encoder architectures: the `Embed.*` workloads
//! (`fk_runtime::embed::workloads`) through the embedding engine, reported as sequences/s or
//! images/s with latency percentiles, as a table and JSON (`fastkernels.eval-encoders.v1`).

use crate::encoders::{arch_by_name, resolve, Loaded};
use crate::eval::EvalArgs;
use crate::models::gpu;
use crate::profiling::{profiled, ProfileJson, PROFILED_NOTE};
use crate::table::Table;
use anyhow::{bail, Context as _, Result};
use fk_baselines::{Context, OpTable};
use fk_runtime::embed::workloads::{self, EmbedWorkload, ModelShape};
use fk_runtime::embed::{EmbedEngine, EmbedStats, Encoder, HostPhases, PIPELINE_SLOTS};
use fk_runtime::DType;
use serde::Serialize;

#[derive(Serialize)]
struct Latency {
    p50_ms: f64,
    p90_ms: f64,
    p99_ms: f64,
}

#[derive(Serialize)]
struct EncoderRun {
    workload: String,
    requests: usize,
    /// The engine's batch cap (1 for `Embed.batch1`).
    max_batch: usize,
    max_batched_tokens: Option<usize>,
    batches: usize,
    /// `seq/s` or `img/s`.
    unit: &'static str,
    per_s: f64,
    /// Real tokens per second (text).
    tokens_per_s: Option<f64>,
    /// Σ `count × longest` over batches over the real tokens (text): what padding costs.
    padding_overhead: Option<f64>,
    wall_s: f64,
    /// Batch 1: each request's own time; throughput: from the start (all queued) to the end
    /// of its batch.
    latency: Latency,
    /// The engine's host time by phase (prepare, launch, collect, wait, finish; see
    /// `EmbedStats::host`): where the wall time goes when the GPU is not the bound.
    host_phases: HostPhases,
    notes: Vec<String>,
    /// With `--profile`: GPU time per op over the timed pass.
    #[serde(skip_serializing_if = "Option::is_none")]
    profile: Option<ProfileJson>,
}

#[derive(Serialize)]
struct EncoderEvalFile {
    schema: &'static str,
    git_sha: String,
    device: fk_runtime::device::DeviceInfo,
    model: String,
    arch: String,
    dtype: String,
    seed: u64,
    runs: Vec<EncoderRun>,
}

/// Nearest-rank percentile of `xs` (seconds) in ms.
fn percentile_ms(xs: &[f64], p: f64) -> f64 {
    if xs.is_empty() {
        return 0.0;
    }
    let mut v = xs.to_vec();
    v.sort_by(f64::total_cmp);
    let rank = ((p / 100.0) * v.len() as f64).ceil().max(1.0) as usize;
    1e3 * v[rank.min(v.len()) - 1]
}

/// Check the arguments (no GPU needed), then run on the GPU.
pub fn run(a: &EvalArgs) -> Result<i32> {
    let names: Vec<String> = if a.workloads.is_empty() {
        workloads::WORKLOADS.iter().map(|s| s.to_string()).collect()
    } else {
        a.workloads.clone()
    };
    for n in &names {
        if !workloads::WORKLOADS.contains(&n.as_str()) {
            bail!(
                "unknown workload `{n}`; the encoder workloads are {}",
                workloads::WORKLOADS.join(", ")
            );
        }
    }
    if a.candidate {
        bail!("--candidate: the encoder crates' candidate slots are not wired into eval yet");
    }
    if a.max_num_seqs == Some(0) {
        bail!("--max-num-seqs must be positive");
    }
    let dtype = a.dtype.as_deref().map(crate::models::parse_dtype).transpose()?;
    let arch = match (&a.model, &a.arch) {
        (Some(dir), arch) => resolve(dir, arch.as_deref(), a.random_weights)?,
        (None, Some(arch)) if a.random_weights => arch_by_name(arch)?,
        (None, Some(_)) => bail!("--arch without --model needs --random-weights (the shipped config has no weights)"),
        (None, None) => bail!("name a model: --model DIR or --arch ARCH --random-weights"),
    };
    if let Some(p) = &a.json {
        if let Some(d) = p.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(d).with_context(|| format!("create {}", d.display()))?;
        }
    }
    let dev = gpu("eval")?;
    let model = match (&a.model, a.random_weights) {
        (Some(dir), false) => Loaded::load(&dev, arch, dir, dtype)?,
        (dir, _) => Loaded::random(&dev, arch, dir.as_deref(), dtype.unwrap_or(DType::BF16), a.seed)?,
    };
    let ctx = Context::new(&dev, OpTable::baseline())?;
    let shape = model.shape();
    let name = match &a.model {
        Some(dir) => dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| dir.display().to_string()),
        None => format!("{arch} (shipped config)"),
    };
    let name = if a.random_weights { format!("{name}, random weights") } else { name };
    eprintln!(
        "eval {name} ({arch}, {}) on {}: {shape:?}",
        model.dtype(),
        dev.info().name
    );
    let mut runs = Vec::new();
    for n in &names {
        let w = workloads::build(n, &shape, a.seed, a.max_num_seqs)?;
        let r = model.with_encoder(&ctx, |enc| run_workload(enc, &w, &shape, a.profile))?;
        runs.push(r);
    }
    print_table(&runs);
    if let Some(path) = &a.json {
        let file = EncoderEvalFile {
            schema: "fastkernels.eval-encoders.v1",
            git_sha: std::env::var("FASTKERNELS_GIT_SHA").unwrap_or_else(|_| "unknown".into()),
            device: dev.info().clone(),
            model: name,
            arch: arch.to_string(),
            dtype: model.dtype().to_string(),
            seed: a.seed,
            runs,
        };
        std::fs::write(path, serde_json::to_string_pretty(&file)?)
            .with_context(|| format!("write {}", path.display()))?;
        eprintln!("results in {}", path.display());
    }
    Ok(0)
}

/// Warm up (two batches, untimed: cuBLASLt heuristics, first-touch allocations), then time the
/// workload: batch 1 request by request, throughput all queued at once.
fn run_workload(enc: &dyn Encoder, w: &EmbedWorkload, shape: &ModelShape, profile: bool) -> Result<EncoderRun> {
    let mut engine = EmbedEngine::new(enc, w.policy)?;
    // PIPELINE_SLOTS batches: a pipelined encoder cycles through that many staging slots,
    // and each gets allocated (page-locked memory is slow to allocate) outside the timed run.
    let warm = (PIPELINE_SLOTS * w.policy.max_batch).min(w.requests.len()).max(1);
    engine
        .embed(w.requests[..warm].to_vec())
        .context("warm-up")?;
    let timed = || -> Result<(EmbedStats, Vec<f64>)> {
        let mut total = EmbedStats::default();
        let mut latencies = Vec::with_capacity(w.requests.len());
        if w.one_at_a_time {
            for x in &w.requests {
                engine.submit(x.clone())?;
                let (_, s) = engine.run()?;
                latencies.push(s.wall_s);
                total.wall_s += s.wall_s;
                total.batches += s.batches;
                total.items += s.items;
                total.padded_tokens += s.padded_tokens;
                total.host.add(&s.host);
            }
        } else {
            engine.submit_all(w.requests.iter().cloned())?;
            let (_, s) = engine.run()?;
            latencies = s.latencies_s.clone();
            total = s;
        }
        Ok((total, latencies))
    };
    let ((total, latencies), profile) = profiled(profile, w.name, timed)?;
    let mut notes = w.notes.clone();
    if profile.is_some() {
        notes.push(PROFILED_NOTE.into());
    }
    let n = w.requests.len();
    let text = matches!(shape, ModelShape::Text { .. });
    let h = total.host;
    eprintln!(
        "{}: {n} requests in {} batches, {:.3} s (host: prepare {:.3}, launch {:.3}, collect {:.3}, wait {:.3}, finish {:.3} s)",
        w.name, total.batches, total.wall_s, h.prepare_s, h.launch_s, h.collect_s, h.wait_s, h.finish_s
    );
    Ok(EncoderRun {
        workload: w.name.to_string(),
        requests: n,
        max_batch: w.policy.max_batch,
        max_batched_tokens: text.then_some(w.policy.max_batched_tokens),
        batches: total.batches,
        unit: if text { "seq/s" } else { "img/s" },
        per_s: n as f64 / total.wall_s,
        tokens_per_s: text.then(|| total.items as f64 / total.wall_s),
        padding_overhead: (text && total.items > 0)
            .then(|| total.padded_tokens as f64 / total.items as f64),
        wall_s: total.wall_s,
        latency: Latency {
            p50_ms: percentile_ms(&latencies, 50.0),
            p90_ms: percentile_ms(&latencies, 90.0),
            p99_ms: percentile_ms(&latencies, 99.0),
        },
        host_phases: h,
        notes,
        profile,
    })
}

fn print_table(runs: &[EncoderRun]) {
    let mut t = Table::new(&[
        "workload",
        "requests",
        "batch",
        "batches",
        "rate",
        "tokens/s",
        "latency p50 / p90 ms",
        "wall s",
    ])
    .right_align(&[1, 2, 3, 4, 5, 6, 7]);
    for r in runs {
        t.row(vec![
            r.workload.clone(),
            r.requests.to_string(),
            r.max_batch.to_string(),
            r.batches.to_string(),
            format!("{:.1} {}", r.per_s, r.unit),
            r.tokens_per_s
                .map(|x| format!("{x:.0}"))
                .unwrap_or_default(),
            format!("{:.2} / {:.2}", r.latency.p50_ms, r.latency.p90_ms),
            format!("{:.2}", r.wall_s),
        ]);
    }
    print!("{}", t.render());
    for r in runs {
        for n in &r.notes {
            println!("note: {}: {n}", r.workload);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::percentile_ms;

    #[test]
    fn nearest_rank_percentiles() {
        let xs: Vec<f64> = (1..=10).map(|i| i as f64 / 1e3).collect();
        assert_eq!(
            (
                percentile_ms(&xs, 50.0),
                percentile_ms(&xs, 90.0),
                percentile_ms(&xs, 99.0)
            ),
            (5.0, 9.0, 10.0)
        );
        assert_eq!(percentile_ms(&[], 50.0), 0.0);
    }
}
