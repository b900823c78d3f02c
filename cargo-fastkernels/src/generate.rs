//! `cargo fastkernels generate`: run an HF model folder (the architecture chosen by
//! config.json's `model_type`) on the GPU and print the continuation of a prompt given as
//! token ids. `--random-weights` takes a folder with only a config.json (e.g. the shipped
//! real configs) and draws weights at random, for end-to-end timing at real sizes.
//!
//! Every architecture runs the same way: one request through the family's engine, on the
//! runner its model needs (the KV-cache `GpuRunner`, or a recurrent model's own, e.g.
//! Mamba's `MambaRunner`), so `generate` times exactly what `serve` and `eval` run.

use crate::models::engine_model::{EngineSizes, RunnerConfig};
use crate::models::{config_facts, gpu, load, parse_dtype, resolve_arch, ModelSource};
use anyhow::{bail, Result};
use clap::Args;
use fk_baselines::Context;
use fk_llm::engine::{validate_request, Engine, RunnerLimits};
use fk_llm::{GenerationTiming, RequestParams, SamplingParams};
use fk_runtime::DType;
use std::path::PathBuf;

#[derive(Args)]
pub struct GenerateArgs {
    /// HF model folder: config.json + safetensors (or only config.json with --random-weights)
    #[arg(long, value_name = "DIR")]
    model: PathBuf,
    /// Prompt token ids, comma separated: 1,2,3
    #[arg(long, value_name = "IDS", value_delimiter = ',', required = true)]
    prompt_ids: Vec<u32>,
    #[arg(long, default_value_t = 32)]
    max_new_tokens: usize,
    /// Weights/activations dtype: f32, f16 or bf16 (default: the checkpoint's; bf16 with --random-weights)
    #[arg(long)]
    dtype: Option<String>,
    /// 0 = greedy
    #[arg(long, default_value_t = 0.0)]
    temperature: f32,
    #[arg(long, default_value_t = 0)]
    top_k: u32,
    #[arg(long, default_value_t = 1.0)]
    top_p: f32,
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Keep generating past EOS ids
    #[arg(long)]
    ignore_eos: bool,
    /// Draw random weights from config.json instead of loading safetensors (seeded by --seed)
    #[arg(long)]
    random_weights: bool,
    /// Run decode steps eagerly instead of replaying CUDA graphs
    #[arg(long)]
    no_cuda_graphs: bool,
    /// Write the logits of every prompt position ([prompt_len, vocab] f32) and the prompt here
    #[arg(long, value_name = "FILE.safetensors")]
    logits_out: Option<PathBuf>,
    /// Print one JSON object instead of text
    #[arg(long)]
    json: bool,
}

impl GenerateArgs {
    fn sampling(&self) -> SamplingParams {
        SamplingParams { temperature: self.temperature, top_k: self.top_k, top_p: self.top_p, seed: self.seed }
    }

    fn request(&self, eos_token_ids: Vec<u32>) -> RequestParams {
        RequestParams { max_new_tokens: self.max_new_tokens, sampling: self.sampling(), eos_token_ids, ignore_eos: self.ignore_eos }
    }
}

/// The engine's checks of one request (vocabulary, context, sampling), made against the
/// model's config before a GPU is looked for.
fn check_request(a: &GenerateArgs, vocab_size: usize, max_model_len: usize) -> Result<()> {
    let l = RunnerLimits { num_blocks: 1, block_size: 1, max_model_len, max_num_seqs: 1, max_batched_tokens: 1, vocab_size };
    validate_request(&l, &a.prompt_ids, &a.request(Vec::new()))?;
    Ok(())
}

pub fn run(a: GenerateArgs) -> Result<i32> {
    let dtype = a.dtype.as_deref().map(parse_dtype).transpose()?;
    if a.prompt_ids.is_empty() {
        bail!("--prompt-ids is empty");
    }
    if a.max_new_tokens == 0 {
        bail!("--max-new-tokens must be > 0");
    }
    let src = ModelSource { dir: Some(a.model.clone()), arch: None, random_weights: a.random_weights, dtype, seed: a.seed };
    let mt = resolve_arch(&src)?;
    let facts = config_facts(&src, &mt)?;
    check_request(&a, facts.vocab_size, facts.max_model_len())?;
    let dev = gpu("generate")?;
    let model = load(&dev, &src)?;
    let info = model.info();
    let ctx = Context::new(&dev, fk_baselines::OpTable::baseline())?;
    let prompt = &a.prompt_ids;
    if let Some(path) = &a.logits_out {
        let logits = model.prompt_logits(&ctx, prompt)?;
        let bytes: Vec<u8> = logits.iter().flat_map(|v| v.to_le_bytes()).collect();
        let ids: Vec<u8> = prompt.iter().flat_map(|&v| (v as i64).to_le_bytes()).collect();
        fk_runtime::safetensors::write_safetensors(
            path,
            &[("logits", DType::F32, &[prompt.len(), info.vocab_size], &bytes), ("input_ids", DType::I64, &[prompt.len()], &ids)],
        )?;
    }
    // Size everything for exactly this request: one sequence, its prompt in one step.
    let sizes = EngineSizes {
        max_num_seqs: 1,
        max_batched_tokens: prompt.len(),
        max_model_len: prompt.len() + a.max_new_tokens,
        gpu_memory_utilization: 0.9,
        cuda_graphs: !a.no_cuda_graphs,
        fit_context_to_memory: false,
    };
    let built = model.runner(&ctx, &sizes)?;
    let cuda_graphs = matches!(built.config, RunnerConfig::PagedKv(c) if c.cuda_graphs);
    let mut engine = Engine::new(built.runner)?;
    engine.add_request(prompt.clone(), a.request(info.eos_token_ids.clone()))?;
    let mut tokens = Vec::new();
    let metrics = engine.run_to_completion(|o| tokens.push(o.token))?;
    let m = metrics.first().ok_or_else(|| anyhow::anyhow!("the engine finished without the request"))?;
    let stats = engine.stats();
    let timing = GenerationTiming {
        ttft_s: m.ttft_s,
        decode_s: stats.decode_s,
        decode_steps: stats.decode_steps as usize,
        total_s: m.latency_s,
        decode_tok_per_s: if stats.decode_s > 0.0 { stats.decode_steps as f64 / stats.decode_s } else { 0.0 },
    };
    if a.json {
        let mut t = serde_json::to_value(&timing)?;
        // `latency_s` (= total_s) is the name the earlier Mamba-only path used.
        t["latency_s"] = serde_json::json!(timing.total_s);
        let v = serde_json::json!({
            "model": a.model, "model_type": mt, "dtype": info.dtype.to_string(), "device": dev.info().name,
            "prompt_ids": prompt, "output_ids": tokens, "sampling": a.sampling(), "cuda_graphs": cuda_graphs,
            "timing": t, "logits_out": a.logits_out,
        });
        println!("{}", serde_json::to_string_pretty(&v)?);
    } else {
        println!("{}", tokens.iter().map(|t| t.to_string()).collect::<Vec<_>>().join(","));
        eprintln!(
            "{mt} {} on {}: {} prompt + {} new tokens; TTFT {:.2} ms, decode {:.1} tok/s{}{}",
            info.dtype,
            dev.info().name,
            prompt.len(),
            tokens.len(),
            timing.ttft_s * 1e3,
            timing.decode_tok_per_s,
            if cuda_graphs { "" } else { " (eager)" },
            a.logits_out.as_ref().map(|p| format!("; prompt logits in {}", p.display())).unwrap_or_default()
        );
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        a: GenerateArgs,
    }

    fn args(extra: &[&str]) -> GenerateArgs {
        Cli::parse_from(["generate", "--model", "m"].iter().chain(extra)).a
    }

    #[test]
    fn a_request_is_checked_against_the_config_before_any_gpu() {
        check_request(&args(&["--prompt-ids", "1,2,3", "--max-new-tokens", "5"]), 10, 8).unwrap();
        let e = check_request(&args(&["--prompt-ids", "1,2,3", "--max-new-tokens", "6"]), 10, 8).unwrap_err().to_string();
        assert!(e.contains("exceed the context of 8 tokens"), "{e}");
        let e = check_request(&args(&["--prompt-ids", "1,10"]), 10, 100).unwrap_err().to_string();
        assert!(e.contains("outside the vocabulary"), "{e}");
        let e = check_request(&args(&["--prompt-ids", "1", "--top-p", "1.5"]), 10, 100).unwrap_err().to_string();
        assert!(e.contains("top_p"), "{e}");
    }
}
