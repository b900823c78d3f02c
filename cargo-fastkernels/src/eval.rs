//! `cargo fastkernels eval`: the family's workloads through the engine on the GPU (the
//! encoders' `Embed.*` workloads in `eval_encoders`), with a
//! progress bar, a summary table and JSON. `--candidate` runs each workload twice in the same
//! process — on the baseline kernels and on this build's candidate slot — and reports the
//! speedup, so an end-to-end gain is measured through exactly the code production runs.

use crate::models::engine_model::{CacheKind, EngineModel, EngineSizes, RunnerConfig};
use crate::models::{candidate_table, config_facts, gpu, load, parse_dtype, resolve_arch, ModelSource};
use crate::progress::Progress;
use crate::table::Table;
use anyhow::{bail, Context as _, Result};
use clap::Args;
use fk_baselines::harness::bench::copy_bandwidth_gbs;
use fk_baselines::{Context, OpTable};
use fk_llm::engine::{run_workload, Engine, StepRunner, WorkloadReport};
use fk_llm::workloads::{self, Mode, Workload};
use fk_runtime::Device;
use crate::profiling::{profiled, PROFILED_NOTE};
use serde::Serialize;
use std::path::PathBuf;

#[derive(Args)]
pub struct EvalArgs {
    /// Architecture (with --random-weights and no --model: its shipped real config)
    #[arg(long)]
    pub(crate) arch: Option<String>,
    /// Workloads (repeatable or comma-separated); default: all of the family's
    #[arg(long = "workload", value_delimiter = ',')]
    pub(crate) workloads: Vec<String>,
    /// HF model folder (config.json + safetensors, or only config.json with --random-weights)
    #[arg(long, value_name = "DIR")]
    pub(crate) model: Option<PathBuf>,
    /// Draw weights at random from the config (seeded by --seed)
    #[arg(long)]
    pub(crate) random_weights: bool,
    /// f32, f16 or bf16 (default: the checkpoint's; bf16 with random weights)
    #[arg(long)]
    pub(crate) dtype: Option<String>,
    #[arg(long, default_value_t = 0)]
    pub(crate) seed: u64,
    /// Also run every workload on this build's candidate kernels and report the speedup
    #[arg(long)]
    pub(crate) candidate: bool,
    /// Most sequences per step (default: 256; the batch of a latency workload; 64 for long_context)
    #[arg(long)]
    pub(crate) max_num_seqs: Option<usize>,
    /// Token budget per step, the chunked-prefill size (default 8192)
    #[arg(long)]
    pub(crate) max_batched_tokens: Option<usize>,
    /// Cap on prompt + output tokens per request (default: the model's context; for a model
    /// without positions such as Mamba, 262144); longer workload prompts are cut and the
    /// report says so
    #[arg(long)]
    pub(crate) max_model_len: Option<usize>,
    #[arg(long, default_value_t = 0.9)]
    pub(crate) gpu_memory_utilization: f64,
    /// Run decode steps eagerly instead of replaying CUDA graphs
    #[arg(long)]
    pub(crate) no_cuda_graphs: bool,
    /// Time every kernel launch, GEMM and graph replay with CUDA events and report where the
    /// GPU time goes, per op (the events add host time: a profiled run's rates are marked)
    #[arg(long)]
    pub(crate) profile: bool,
    /// Write the results (`fastkernels.eval.v1`) here
    #[arg(long, value_name = "FILE")]
    pub(crate) json: Option<PathBuf>,
}

#[derive(Serialize)]
struct Run {
    workload: String,
    kernels: &'static str,
    config: RunnerConfig,
    runner: String,
    report: WorkloadReport,
    /// Bytes the decode-only steps read (streamed weights once per step + every row's KV, or
    /// every row's recurrent state read and written) over their wall time, and that as a
    /// fraction of the measured copy bandwidth.
    decode_gbs: Option<f64>,
    decode_pct_of_copy: Option<f64>,
    /// With `--profile`: GPU time per op over the timed pass.
    #[serde(skip_serializing_if = "Option::is_none")]
    profile: Option<crate::profiling::ProfileJson>,
}

#[derive(Serialize)]
struct EvalFile {
    schema: &'static str,
    git_sha: String,
    device: fk_runtime::device::DeviceInfo,
    copy_gbs: f64,
    model: String,
    arch: String,
    dtype: String,
    streamed_weight_bytes: usize,
    /// KV-cache models only (see `cache` for every kind).
    #[serde(skip_serializing_if = "Option::is_none")]
    kv_bytes_per_token: Option<usize>,
    cache: CacheKind,
    /// Longest request (prompt + output) the workloads were built for.
    max_model_len: usize,
    candidate_ops: Vec<String>,
    runs: Vec<Run>,
}

pub fn run(a: EvalArgs) -> Result<i32> {
    if crate::encoders::is_encoder(a.model.as_deref(), a.arch.as_deref())? {
        return crate::eval_encoders::run(&a);
    }
    let dtype = a.dtype.as_deref().map(parse_dtype).transpose()?;
    let src = ModelSource { dir: a.model.clone(), arch: a.arch.clone(), random_weights: a.random_weights, dtype, seed: a.seed };
    let arch = resolve_arch(&src)?;
    let facts = config_facts(&src, &arch)?;
    let names: Vec<String> = if a.workloads.is_empty() { workloads::WORKLOADS.iter().map(|s| s.to_string()).collect() } else { a.workloads.clone() };
    for n in &names {
        if !workloads::WORKLOADS.contains(&n.as_str()) {
            bail!("unknown workload `{n}`; the LLM family has {}", workloads::WORKLOADS.join(", "));
        }
    }
    let cap = context_cap(a.max_model_len, facts.max_model_len())?;
    let candidate = if a.candidate { Some(candidate_table(&arch)?) } else { None };
    if let Some(p) = &a.json {
        if let Some(dir) = p.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).with_context(|| format!("create {}", dir.display()))?;
        }
    }
    let dev = gpu("eval")?;
    let model = load(&dev, &src)?;
    Eval { a: &a, names, candidate, model_name: src.name(), cap }.run(&dev, model.as_ref())
}

/// The longest request the workloads are built for: `--max-model-len` if given, never above
/// what the model can be sized for (its positions, or the recurrent cap).
fn context_cap(asked: Option<usize>, model_max: usize) -> Result<usize> {
    match asked {
        Some(0) => bail!("--max-model-len must be > 0"),
        Some(n) => Ok(n.min(model_max)),
        None => Ok(model_max),
    }
}

struct Eval<'a> {
    a: &'a EvalArgs,
    names: Vec<String>,
    candidate: Option<(OpTable, Vec<String>)>,
    model_name: String,
    /// Longest request (prompt + output) the workloads are built for.
    cap: usize,
}

impl Eval<'_> {
    fn run(self, dev: &Device, model: &dyn EngineModel) -> Result<i32> {
        let info = model.info();
        let copy = copy_bandwidth_gbs(dev)?;
        let weights = info.streamed_weight_bytes;
        eprintln!(
            "eval {} ({}, {}) on {}: {:.2} GB streamed per step, copy bandwidth {copy:.0} GB/s",
            self.model_name,
            info.arch,
            info.dtype,
            dev.info().name,
            weights as f64 / 1e9
        );
        let recurrent_note = match info.cache {
            CacheKind::PagedKv { .. } => None,
            CacheKind::Recurrent { bytes_per_sequence } => {
                let note = format!(
                    "{} is recurrent ({:.1} MiB of state per sequence): it has no position limit, so requests are capped at {} tokens{}",
                    info.arch,
                    bytes_per_sequence as f64 / (1u64 << 20) as f64,
                    self.cap,
                    if self.a.max_model_len.is_some() { " (--max-model-len)" } else { " (the recurrent cap; --max-model-len lowers it)" }
                );
                eprintln!("{note}");
                Some(note)
            }
        };
        let mut tables: Vec<(&'static str, OpTable)> = vec![("baseline", OpTable::baseline())];
        if let Some((t, _)) = &self.candidate {
            tables.push(("candidate", t.clone()));
        }
        let mut runs = Vec::new();
        for name in &self.names {
            let mut w = workloads::build(name, info.vocab_size, self.cap)?;
            w.notes.extend(recurrent_note.clone());
            let sizes = engine_sizes(self.a, &w, info.max_model_len());
            let mut fitted: Option<usize> = None;
            for (label, table) in &tables {
                let ctx = Context::new(dev, table.clone())?;
                let built = model.runner(&ctx, &sizes)?;
                // A context the KV cache cannot hold is cut to what it can (long_context on a
                // small GPU), and the workload is rebuilt and says so.
                let fits = built.runner.limits().max_model_len;
                if fits < w.max_seq_len() && fitted.is_none() {
                    w = workloads::build(name, info.vocab_size, fits)?;
                    w.notes.extend(recurrent_note.clone());
                    w.notes.push(format!("the KV cache holds {fits} tokens per sequence on this GPU, so prompts were cut to fit"));
                    fitted = Some(fits);
                }
                let describe = built.runner.describe();
                let mut engine = Engine::new(built.runner)?;
                let mut bar = Progress::new(format!("{name} [{label}]"));
                let (mut report, profile) = profiled(self.a.profile, &format!("{name} [{label}]"), || Ok(run_workload(&mut engine, &w, &mut |d, t| bar.update(d, t))?))?;
                if profile.is_some() {
                    report.notes.push(PROFILED_NOTE.into());
                }
                let decode_gbs = info.decode_gbs(&report.engine);
                runs.push(Run {
                    workload: name.clone(),
                    kernels: label,
                    config: built.config,
                    runner: describe,
                    report,
                    decode_gbs,
                    decode_pct_of_copy: decode_gbs.map(|g| 100.0 * g / copy),
                    profile,
                });
            }
        }
        print_table(&runs);
        if let Some(path) = &self.a.json {
            let file = EvalFile {
                schema: "fastkernels.eval.v1",
                git_sha: std::env::var("FASTKERNELS_GIT_SHA").unwrap_or_else(|_| "unknown".into()),
                device: dev.info().clone(),
                copy_gbs: copy,
                model: self.model_name.clone(),
                arch: info.arch.clone(),
                dtype: info.dtype.to_string(),
                streamed_weight_bytes: weights,
                kv_bytes_per_token: match info.cache {
                    CacheKind::PagedKv { bytes_per_token } => Some(bytes_per_token),
                    CacheKind::Recurrent { .. } => None,
                },
                cache: info.cache,
                max_model_len: self.cap,
                candidate_ops: self.candidate.as_ref().map(|c| c.1.clone()).unwrap_or_default(),
                runs,
            };
            std::fs::write(path, serde_json::to_string_pretty(&file)?).with_context(|| format!("write {}", path.display()))?;
            eprintln!("results in {}", path.display());
        }
        Ok(0)
    }
}

/// Engine sizes for `w`: contexts just long enough for its longest request; latency
/// workloads hold exactly their batch.
fn engine_sizes(a: &EvalArgs, w: &Workload, model_max: usize) -> EngineSizes {
    let default_seqs = match (w.mode, w.name) {
        (Mode::Latency { .. }, _) => w.requests.len(),
        (_, "LLM.long_context") => 64,
        _ => 256,
    };
    let max_num_seqs = a.max_num_seqs.unwrap_or(default_seqs);
    EngineSizes {
        max_num_seqs,
        max_batched_tokens: a.max_batched_tokens.unwrap_or(8192).max(max_num_seqs),
        // Whole KV blocks of 16 (no cost to a recurrent runner).
        max_model_len: w.max_seq_len().next_multiple_of(16).min(model_max),
        gpu_memory_utilization: a.gpu_memory_utilization,
        cuda_graphs: !a.no_cuda_graphs,
        fit_context_to_memory: true,
    }
}

/// A decode step's wall time split into device time (CUDA events around its kernels) and
/// the host's share (plan, uploads, readback): "6.32 (5.90+0.42)".
fn decode_split(s: &fk_llm::engine::EngineStats) -> String {
    if s.decode_steps == 0 {
        return String::new();
    }
    let per = |x: f64| 1e3 * x / s.decode_steps as f64;
    match s.decode_device_s {
        Some(d) => format!("{:.2} ({:.2}+{:.2})", per(s.decode_s), per(d), per(s.decode_s - d)),
        None => format!("{:.2}", per(s.decode_s)),
    }
}

fn print_table(runs: &[Run]) {
    let mut t = Table::new(&["workload", "kernels", "requests", "out tok/s", "total tok/s", "TTFT p50/p99 ms", "TPOT p50/p99 ms", "decode ms/step (GPU+host)", "decode GB/s", "% copy", "vs baseline"])
        .right_align(&[2, 3, 4, 7, 8, 9, 10]);
    for r in runs {
        let s = &r.report.summary;
        let base = runs.iter().find(|b| b.workload == r.workload && b.kernels == "baseline").map(|b| b.report.summary.output_tok_per_s);
        let speedup = match (r.kernels, base) {
            ("candidate", Some(b)) if b > 0.0 => format!("{:.3}x", s.output_tok_per_s / b),
            _ => "".into(),
        };
        t.row(vec![
            r.workload.clone(),
            r.kernels.to_string(),
            s.requests.to_string(),
            format!("{:.1}", s.output_tok_per_s),
            format!("{:.1}", s.total_tok_per_s),
            format!("{:.1} / {:.1}", s.ttft_s.p50 * 1e3, s.ttft_s.p99 * 1e3),
            format!("{:.2} / {:.2}", s.tpot_s.p50 * 1e3, s.tpot_s.p99 * 1e3),
            decode_split(&r.report.engine),
            r.decode_gbs.map(|g| format!("{g:.0}")).unwrap_or_default(),
            r.decode_pct_of_copy.map(|p| format!("{p:.1}")).unwrap_or_default(),
            speedup,
        ]);
    }
    print!("{}", t.render());
    for r in runs.iter().filter(|r| r.kernels == "baseline") {
        for n in &r.report.notes {
            println!("note: {}: {n}", r.workload);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::engine_model::RECURRENT_MAX_MODEL_LEN;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        a: EvalArgs,
    }

    fn args(extra: &[&str]) -> EvalArgs {
        Cli::parse_from(["eval"].iter().chain(extra)).a
    }

    #[test]
    fn the_context_cap_is_the_flag_within_the_models_limit() {
        assert_eq!(context_cap(None, 4096).unwrap(), 4096);
        assert_eq!(context_cap(Some(1000), 4096).unwrap(), 1000);
        assert_eq!(context_cap(Some(10_000), 4096).unwrap(), 4096);
        assert!(context_cap(Some(0), 4096).unwrap_err().to_string().contains("--max-model-len must be > 0"));
    }

    #[test]
    fn a_recurrent_model_runs_long_context_uncut_within_the_recurrent_cap() {
        let a = args(&["--arch", "mamba", "--random-weights"]);
        let cap = context_cap(a.max_model_len, RECURRENT_MAX_MODEL_LEN).unwrap();
        let w = workloads::build("LLM.long_context", 50_280, cap).unwrap();
        assert!(w.notes.is_empty(), "{:?}", w.notes);
        assert_eq!(w.max_seq_len(), 128 * 1024 + 256);
        let s = engine_sizes(&a, &w, RECURRENT_MAX_MODEL_LEN);
        assert_eq!((s.max_num_seqs, s.max_batched_tokens, s.max_model_len), (64, 8192, 128 * 1024 + 256));
        // --max-model-len caps it like a KV model's context.
        let a = args(&["--arch", "mamba", "--random-weights", "--max-model-len", "4096"]);
        let cap = context_cap(a.max_model_len, RECURRENT_MAX_MODEL_LEN).unwrap();
        let w = workloads::build("LLM.long_context", 50_280, cap).unwrap();
        assert!(w.max_seq_len() <= 4096 && !w.notes.is_empty());
        assert!(engine_sizes(&a, &w, RECURRENT_MAX_MODEL_LEN).max_model_len <= 4096);
    }

    #[test]
    fn latency_workloads_hold_exactly_their_batch() {
        let a = args(&["--arch", "mamba", "--random-weights", "--no-cuda-graphs"]);
        for (name, batch) in [("LLM.single_request", 1), ("LLM.fixed_batch_32", 32)] {
            let w = workloads::build(name, 50_280, RECURRENT_MAX_MODEL_LEN).unwrap();
            let s = engine_sizes(&a, &w, RECURRENT_MAX_MODEL_LEN);
            assert_eq!(s.max_num_seqs, batch, "{name}");
            assert!(s.max_model_len >= w.max_seq_len() && s.max_model_len % 16 == 0 && !s.cuda_graphs, "{name}: {s:?}");
        }
        let w = workloads::build("LLM.mixed", 50_280, RECURRENT_MAX_MODEL_LEN).unwrap();
        assert_eq!(engine_sizes(&a, &w, RECURRENT_MAX_MODEL_LEN).max_num_seqs, 256);
        // A KV model's context bounds the runner even when the workload asks for more.
        assert_eq!(engine_sizes(&a, &w, 2048).max_model_len, 2048);
    }

    #[test]
    fn candidate_runs_name_the_arch_and_its_slot() {
        let e = candidate_table("mixtral").unwrap_err().to_string();
        assert!(e.contains("no candidate slot for `mixtral`") && e.contains("candidates of: llama, mamba, mamba2"), "{e}");
        match candidate_table("mamba") {
            Ok((_, ops)) => assert!(!ops.is_empty() && !fk_mamba::kernels::CANDIDATES.is_empty()),
            Err(e) => {
                assert!(fk_mamba::kernels::CANDIDATES.is_empty());
                assert!(e.to_string().contains("fk-mamba's candidate slot"), "{e}");
            }
        }
    }
}
