//! `cargo fastkernels eval`: the family's workloads through the engine on the GPU (the
//! encoders' `Embed.*` workloads in `eval_encoders`), with a
//! progress bar, a summary table and JSON. `--candidate` runs each workload twice in the same
//! process — on the baseline kernels and on this build's candidate slot — and reports the
//! speedup, so an end-to-end gain is measured through exactly the code production runs.

use crate::models::{gpu, parse_dtype, resolve_arch, with_model, ModelSource, ModelVisitor};
use crate::progress::Progress;
use crate::table::Table;
use anyhow::{bail, Context as _, Result};
use clap::Args;
use fk_baselines::harness::bench::copy_bandwidth_gbs;
use fk_baselines::{Context, OpTable};
use fk_llm::engine::{run_workload, Engine, GpuRunner, GpuRunnerConfig, WorkloadReport};
use fk_llm::workloads::{self, Mode, Workload};
use fk_llm::{CausalLm, PagedKvCache};
use fk_runtime::Device;
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
    /// Cap on prompt + output tokens per request (default: the model's context); longer
    /// workload prompts are cut and the report says so
    #[arg(long)]
    pub(crate) max_model_len: Option<usize>,
    #[arg(long, default_value_t = 0.9)]
    pub(crate) gpu_memory_utilization: f64,
    /// Run decode steps eagerly instead of replaying CUDA graphs
    #[arg(long)]
    pub(crate) no_cuda_graphs: bool,
    /// Write the results (`fastkernels.eval.v1`) here
    #[arg(long, value_name = "FILE")]
    pub(crate) json: Option<PathBuf>,
}

#[derive(Serialize)]
struct Run {
    workload: String,
    kernels: &'static str,
    config: GpuRunnerConfig,
    runner: String,
    report: WorkloadReport,
    /// Bytes the decode-only steps read (streamed weights once per step + every row's KV)
    /// over their wall time, and that as a fraction of the measured copy bandwidth.
    decode_gbs: Option<f64>,
    decode_pct_of_copy: Option<f64>,
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
    kv_bytes_per_token: usize,
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
    let names: Vec<String> = if a.workloads.is_empty() { workloads::WORKLOADS.iter().map(|s| s.to_string()).collect() } else { a.workloads.clone() };
    for n in &names {
        if !workloads::WORKLOADS.contains(&n.as_str()) {
            bail!("unknown workload `{n}`; the LLM family has {}", workloads::WORKLOADS.join(", "));
        }
    }
    let candidate = if a.candidate { Some(candidate_table(&arch)?) } else { None };
    if let Some(p) = &a.json {
        if let Some(dir) = p.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).with_context(|| format!("create {}", dir.display()))?;
        }
    }
    let dev = gpu("eval")?;
    with_model(&dev, &src, Eval { a: &a, names, candidate, model_name: src.name(), arch })
}

/// This build's candidate op table for `arch`, and the ops it replaces.
fn candidate_table(arch: &str) -> Result<(OpTable, Vec<String>)> {
    match arch {
        "llama" => {
            let ops: Vec<String> = fk_llama::kernels::CANDIDATES.iter().map(|c| c.op.to_string()).collect();
            if ops.is_empty() {
                bail!("--candidate: fk-llama's candidate slot ({}) is empty in this build, so the candidate equals the baseline", fk_llama::kernels::SLOT_DIR);
            }
            Ok((fk_llama::kernels::candidate_table(), ops))
        }
        other => bail!("--candidate: no candidate slot for `{other}`"),
    }
}

struct Eval<'a> {
    a: &'a EvalArgs,
    names: Vec<String>,
    candidate: Option<(OpTable, Vec<String>)>,
    model_name: String,
    arch: String,
}

impl ModelVisitor for Eval<'_> {
    type Out = i32;
    fn visit<M: CausalLm>(self, dev: &Device, model: &M, _mt: &str, _eos: Vec<u32>) -> Result<i32> {
        let spec = model.spec();
        let copy = copy_bandwidth_gbs(dev)?;
        let weights = model.streamed_weight_bytes();
        let kv_bpt = PagedKvCache::bytes_per_token(spec.num_layers, spec.kv_heads, spec.head_dim, spec.dtype);
        eprintln!(
            "eval {} ({}, {}) on {}: {:.2} GB streamed per step, copy bandwidth {copy:.0} GB/s",
            self.model_name,
            self.arch,
            spec.dtype,
            dev.info().name,
            weights as f64 / 1e9
        );
        let cap = self.a.max_model_len.unwrap_or(spec.max_position_embeddings).min(spec.max_position_embeddings);
        let mut tables: Vec<(&'static str, OpTable)> = vec![("baseline", OpTable::baseline())];
        if let Some((t, _)) = &self.candidate {
            tables.push(("candidate", t.clone()));
        }
        let mut runs = Vec::new();
        for name in &self.names {
            let mut w = workloads::build(name, spec.vocab_size, cap)?;
            let cfg = self.runner_config(&w, spec.max_position_embeddings);
            let mut fitted: Option<usize> = None;
            for (label, table) in &tables {
                let ctx = Context::new(dev, table.clone())?;
                let mut runner = GpuRunner::new(model, &ctx, cfg)?;
                // A context the KV cache cannot hold is cut to what it can (long_context on a
                // small GPU), and the workload is rebuilt and says so.
                let fits = fk_llm::engine::StepRunner::limits(&runner).max_model_len;
                if fits < w.max_seq_len() && fitted.is_none() {
                    w = workloads::build(name, spec.vocab_size, fits)?;
                    w.notes.push(format!("the KV cache holds {fits} tokens per sequence on this GPU, so prompts were cut to fit"));
                    fitted = Some(fits);
                }
                runner.capture_decode_graphs()?;
                let describe = fk_llm::engine::StepRunner::describe(&runner);
                let mut engine = Engine::new(runner)?;
                let mut bar = Progress::new(format!("{name} [{label}]"));
                let report = run_workload(&mut engine, &w, &mut |d, t| bar.update(d, t))?;
                let s = &report.engine;
                let decode_gbs = (s.decode_steps > 0 && s.decode_s > 0.0)
                    .then(|| (s.decode_steps as f64 * weights as f64 + s.decode_kv_tokens as f64 * kv_bpt as f64) / s.decode_s / 1e9);
                runs.push(Run {
                    workload: name.clone(),
                    kernels: label,
                    config: cfg,
                    runner: describe,
                    report,
                    decode_gbs,
                    decode_pct_of_copy: decode_gbs.map(|g| 100.0 * g / copy),
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
                arch: self.arch.clone(),
                dtype: spec.dtype.to_string(),
                streamed_weight_bytes: weights,
                kv_bytes_per_token: kv_bpt,
                candidate_ops: self.candidate.as_ref().map(|c| c.1.clone()).unwrap_or_default(),
                runs,
            };
            std::fs::write(path, serde_json::to_string_pretty(&file)?).with_context(|| format!("write {}", path.display()))?;
            eprintln!("results in {}", path.display());
        }
        Ok(0)
    }
}

impl Eval<'_> {
    /// Engine sizes for `w`: contexts just long enough for its longest request; latency
    /// workloads hold exactly their batch.
    fn runner_config(&self, w: &Workload, max_pos: usize) -> GpuRunnerConfig {
        let default_seqs = match (w.mode, w.name) {
            (Mode::Latency { .. }, _) => w.requests.len(),
            (_, "LLM.long_context") => 64,
            _ => 256,
        };
        let max_num_seqs = self.a.max_num_seqs.unwrap_or(default_seqs);
        let block = 16;
        GpuRunnerConfig {
            max_num_seqs,
            max_batched_tokens: self.a.max_batched_tokens.unwrap_or(8192).max(max_num_seqs),
            block_size: block,
            max_model_len: w.max_seq_len().next_multiple_of(block).min(max_pos),
            gpu_memory_utilization: self.a.gpu_memory_utilization,
            num_blocks: None,
            cuda_graphs: !self.a.no_cuda_graphs,
            max_graph_batch: 256,
            fit_context_to_memory: true,
        }
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
