//! The `serve` subcommand: its flags (vLLM's names where vLLM has one), building the GPU
//! engine from an HF model folder, and running the server until Ctrl-C or SIGTERM.

use super::{run, Codec, ServerConfig, ServerState};
use crate::models::engine_model::{check_sizes, EngineModel, EngineSizes};
use crate::models::{config_facts, load, parse_dtype, resolve_arch, ConfigFacts, ModelSource};
use anyhow::{bail, Context as _, Result};
use clap::Args;
use fk_baselines::{Context, OpTable};
use fk_llm::engine::{Engine, EngineService, ServiceOptions};
use fk_runtime::Device;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

#[derive(Args)]
pub struct ServeArgs {
    /// HF model folder: config.json + safetensors (or only config.json with --random-weights);
    /// a tokenizer.json there enables text prompts and text output
    #[arg(long, value_name = "DIR")]
    model: PathBuf,
    /// Draw random weights from config.json instead of loading safetensors (seeded by --seed)
    #[arg(long)]
    random_weights: bool,
    /// Seed of --random-weights
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Weights/activations dtype: f32, f16 or bf16 (default: the checkpoint's; bf16 with --random-weights)
    #[arg(long)]
    dtype: Option<String>,
    #[arg(long, default_value = "127.0.0.1")]
    host: String,
    #[arg(long, default_value_t = 8000)]
    port: u16,
    /// The model id clients send and /v1/models lists (default: --model as given)
    #[arg(long, value_name = "NAME")]
    served_model_name: Option<String>,
    /// Most tokens (prompt + output) of one request (default: the model's
    /// max_position_embeddings, at most 8192: every step uploads block tables this long per
    /// sequence, so raise it only for long prompts; a recurrent model such as Mamba has no
    /// positions and no block tables: 262144)
    #[arg(long, value_name = "N")]
    max_model_len: Option<usize>,
    /// Most sequences in one engine step
    #[arg(long, value_name = "N", default_value_t = 256)]
    max_num_seqs: usize,
    /// Most tokens in one engine step (the chunked-prefill budget)
    #[arg(long, alias = "max-num-batched-tokens", value_name = "N", default_value_t = 8192)]
    max_batched_tokens: usize,
    /// Fraction of GPU memory this process may use once the KV cache is allocated
    #[arg(long, value_name = "F", default_value_t = 0.9)]
    gpu_memory_utilization: f64,
    /// Requests accepted at once (queued + running); beyond it requests get 503 at once
    #[arg(long, value_name = "N", default_value_t = 1024)]
    max_inflight: usize,
    /// Run decode steps eagerly instead of replaying CUDA graphs
    #[arg(long)]
    no_cuda_graphs: bool,
    /// Largest request body in bytes (default: room for a whole-context prompt, at least 1 MiB)
    #[arg(long, value_name = "BYTES")]
    max_body_bytes: Option<usize>,
    /// On Ctrl-C/SIGTERM, seconds running requests get to finish before they are ended
    #[arg(long, value_name = "SECONDS", default_value_t = 30)]
    shutdown_timeout: u64,
}

pub fn run_cli(a: ServeArgs) -> Result<i32> {
    if a.max_inflight == 0 {
        bail!("--max-inflight must be >= 1");
    }
    if !(a.gpu_memory_utilization > 0.0 && a.gpu_memory_utilization <= 1.0) {
        bail!("--gpu-memory-utilization {} must be in (0, 1]", a.gpu_memory_utilization);
    }
    let dtype = a.dtype.as_deref().map(parse_dtype).transpose()?;
    let src = ModelSource { dir: Some(a.model.clone()), arch: None, random_weights: a.random_weights, dtype, seed: a.seed };
    let mt = resolve_arch(&src)?;
    let facts = config_facts(&src, &mt)?;
    let codec = Codec::load(&a.model)?;
    let sizes = EngineSizes {
        max_num_seqs: a.max_num_seqs,
        max_batched_tokens: a.max_batched_tokens,
        max_model_len: a.max_model_len.unwrap_or_else(|| default_max_model_len(&facts)),
        gpu_memory_utilization: a.gpu_memory_utilization,
        cuda_graphs: !a.no_cuda_graphs,
        fit_context_to_memory: false,
    };
    check_sizes(facts.max_position_embeddings, &sizes)?;
    // Checked here, before anything is started, for a plain message on a machine without one.
    drop(Device::new(0).context("serve needs an NVIDIA GPU")?);
    let name = a.served_model_name.clone().unwrap_or_else(|| a.model.display().to_string());
    eprintln!("loading `{name}` ({mt}) …");
    let opts = ServiceOptions { max_inflight: a.max_inflight };
    let service = spawn_engine(name, facts.eos_token_ids.clone(), opts, src, sizes)?;
    let service = Arc::new(service);
    let info = service.info().clone();
    let mut config = ServerConfig::for_engine(&info);
    config.shutdown_grace = Duration::from_secs(a.shutdown_timeout);
    if let Some(b) = a.max_body_bytes {
        config.max_body_bytes = b;
    }
    let tokenizer = codec.has_tokenizer();
    let state = ServerState::new(service, codec, config);
    // One blocking-pool thread follows each request's stream (see `stream`), plus room for
    // tokenizing prompts.
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().max_blocking_threads(a.max_inflight + 64).build().context("start the async runtime")?;
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind((a.host.as_str(), a.port)).await.with_context(|| format!("listen on {}:{}", a.host, a.port))?;
        let addr = listener.local_addr()?;
        // A recurrent runner's blocks are bookkeeping only (its runner line gives its state).
        let blocks = if facts.recurrent { String::new() } else { format!(", {} KV blocks of {}", info.limits.num_blocks, info.limits.block_size) };
        eprintln!(
            "serving `{}` on http://{addr} — {}; max_model_len {}{blocks}; {}",
            info.model,
            info.runner,
            info.limits.max_model_len,
            if tokenizer { "text prompts via tokenizer.json" } else { "token-id prompts only (no tokenizer.json)" }
        );
        run(listener, state, shutdown_signal()).await.context("the server failed")?;
        eprintln!("server stopped");
        Ok(0)
    })
}

/// `--max-model-len`'s default: a KV model's context up to 8192 tokens (longer block tables
/// cost every step), a recurrent model's cap (its per-sequence state does not grow).
fn default_max_model_len(f: &ConfigFacts) -> usize {
    if f.recurrent {
        f.max_model_len()
    } else {
        f.max_model_len().min(8192)
    }
}

/// Start the engine thread: it loads the model (so the thread owns the CUDA context, graphs
/// and cache) and runs it under the runner the model needs.
fn spawn_engine(name: String, eos: Vec<u32>, opts: ServiceOptions, src: ModelSource, sizes: EngineSizes) -> Result<EngineService> {
    Ok(EngineService::spawn(name, eos, opts, move || {
        let fail = |e: anyhow::Error| fk_runtime::Error::config(format!("{e:#}"));
        let dev = Device::new(0)?;
        // The runner borrows the model for as long as the engine runs, which is the rest of
        // the process: leaking it is what ties the two lifetimes together.
        let model: &'static dyn EngineModel = Box::leak(load(&dev, &src).map_err(fail)?);
        let ctx = Context::new(&dev, OpTable::baseline())?;
        Engine::new(model.runner(&ctx, &sizes).map_err(fail)?.runner)
    })?)
}

/// Ctrl-C or SIGTERM (what container runtimes and systemd send).
async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    eprintln!("shutting down: no new requests; running ones get the grace period …");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::engine_model::RECURRENT_MAX_MODEL_LEN;

    fn facts(max_pos: Option<usize>) -> ConfigFacts {
        ConfigFacts { vocab_size: 100, eos_token_ids: vec![0], max_position_embeddings: max_pos, recurrent: max_pos.is_none() }
    }

    #[test]
    fn the_default_context_depends_on_the_cache() {
        assert_eq!(default_max_model_len(&facts(Some(131_072))), 8192);
        assert_eq!(default_max_model_len(&facts(Some(2048))), 2048);
        assert_eq!(default_max_model_len(&facts(None)), RECURRENT_MAX_MODEL_LEN);
    }
}
