//! `cargo fastkernels generate`: run an HF model folder (the architecture chosen by
//! config.json's `model_type`) on the GPU and print the continuation of a prompt given as
//! token ids. `--random-weights` takes a folder with only a config.json (e.g. the shipped
//! real configs) and draws weights at random, for end-to-end timing at real sizes.

mod mamba;

use crate::models::{gpu, model_type, parse_dtype, resolve_arch, with_model, ModelSource, ModelVisitor};
use anyhow::{bail, Result};
use clap::Args;
use fk_baselines::Context;
use fk_llm::{CausalLm, Generation, GenerationConfig, Generator, GeneratorOptions, SamplingParams};
use fk_runtime::{DType, Device};
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

pub fn run(a: GenerateArgs) -> Result<i32> {
    let dtype = a.dtype.as_deref().map(parse_dtype).transpose()?;
    if a.prompt_ids.is_empty() {
        bail!("--prompt-ids is empty");
    }
    // Mamba and Mamba-2 are recurrent: they run outside the KV-cache `CausalLm` path (see
    // generate/mamba.rs).
    let mt = model_type(&a.model)?;
    if mamba::RECURRENT.contains(&mt.as_str()) {
        mamba::check_config(&a, &mt)?;
        mamba::check_args(&a)?;
        return mamba::run(&a, &gpu("generate")?, dtype, &mt);
    }
    let src = ModelSource { dir: Some(a.model.clone()), arch: None, random_weights: a.random_weights, dtype, seed: a.seed };
    resolve_arch(&src)?;
    let dev = gpu("generate")?;
    with_model(&dev, &src, Generate(&a))
}

struct Generate<'a>(&'a GenerateArgs);

impl ModelVisitor for Generate<'_> {
    type Out = i32;
    fn visit<M: CausalLm>(self, dev: &Device, model: &M, mt: &str, eos: Vec<u32>) -> Result<i32> {
        run_model(dev, model, self.0, mt, eos)
    }
}

fn run_model<M: CausalLm>(dev: &Device, model: &M, a: &GenerateArgs, mt: &str, eos: Vec<u32>) -> Result<i32> {
    let spec = model.spec();
    let ctx = Context::new(dev, fk_baselines::OpTable::baseline())?;
    let need = a.prompt_ids.len() + a.max_new_tokens;
    if need > spec.max_position_embeddings {
        bail!("{} prompt tokens + {} new tokens exceed the model's context of {} tokens", a.prompt_ids.len(), a.max_new_tokens, spec.max_position_embeddings);
    }
    // Size everything for exactly this request: one sequence of `need` tokens.
    let opts = GeneratorOptions {
        max_batch: 1,
        max_model_len: need,
        max_prefill_tokens: a.prompt_ids.len(),
        block_size: 16,
        cuda_graphs: !a.no_cuda_graphs,
    };
    let mut gen = Generator::new(model, &ctx, opts)?;
    if let Some(path) = &a.logits_out {
        let logits = gen.prompt_logits(&a.prompt_ids, None)?;
        let bytes: Vec<u8> = logits.iter().flat_map(|v| v.to_le_bytes()).collect();
        let ids: Vec<u8> = a.prompt_ids.iter().flat_map(|&v| (v as i64).to_le_bytes()).collect();
        fk_runtime::safetensors::write_safetensors(
            path,
            &[("logits", DType::F32, &[a.prompt_ids.len(), spec.vocab_size], &bytes), ("input_ids", DType::I64, &[a.prompt_ids.len()], &ids)],
        )?;
    }
    let cfg = GenerationConfig {
        max_new_tokens: a.max_new_tokens,
        sampling: SamplingParams { temperature: a.temperature, top_k: a.top_k, top_p: a.top_p, seed: a.seed },
        eos_token_ids: eos,
        ignore_eos: a.ignore_eos,
    };
    let Generation { tokens, timing } = gen.generate(std::slice::from_ref(&a.prompt_ids), &cfg)?;
    let out = &tokens[0];
    if a.json {
        let v = serde_json::json!({
            "model": a.model, "model_type": mt, "dtype": spec.dtype.to_string(), "device": dev.info().name,
            "prompt_ids": a.prompt_ids, "output_ids": out, "sampling": cfg.sampling, "cuda_graphs": !a.no_cuda_graphs,
            "timing": timing, "logits_out": a.logits_out,
        });
        println!("{}", serde_json::to_string_pretty(&v)?);
    } else {
        println!("{}", out.iter().map(|t| t.to_string()).collect::<Vec<_>>().join(","));
        eprintln!(
            "{mt} {} on {}: {} prompt + {} new tokens; TTFT {:.2} ms, decode {:.1} tok/s{}",
            spec.dtype,
            dev.info().name,
            a.prompt_ids.len(),
            out.len(),
            timing.ttft_s * 1e3,
            timing.decode_tok_per_s,
            a.logits_out.as_ref().map(|p| format!("; prompt logits in {}", p.display())).unwrap_or_default()
        );
    }
    Ok(0)
}
