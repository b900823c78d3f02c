//! `cargo fastkernels generate` for the recurrent models (`model_type` `mamba`, `mamba2`).
//! `Generator` is built around `CausalLm`, whose forward takes the paged KV cache; a recurrent
//! model keeps a fixed-size state per sequence instead, so it runs through the family's engine
//! with fk-linear-attn's `RecurrentRunner` (one request; eager, no CUDA graphs yet), the same
//! code for every `RecurrentLm`.

use super::GenerateArgs;
use anyhow::{bail, Result};
use fk_baselines::Context;
use fk_llm::engine::Engine;
use fk_llm::{RequestParams, SamplingParams};
use fk_linear_attn::{LogitsRows, RecurrentLm, RecurrentRunner, RecurrentRunnerConfig, Step};
use fk_mamba::{MambaConfig, MambaForCausalLM};
use fk_mamba2::{Mamba2Config, Mamba2ForCausalLM};
use fk_runtime::{DType, Device};

/// The recurrent `model_type`s generate runs.
pub const RECURRENT: &[&str] = &["mamba", "mamba2"];

/// Validates the folder's config for `mt` (before a GPU is looked for).
pub fn check_config(a: &GenerateArgs, mt: &str) -> Result<()> {
    match mt {
        "mamba" => drop(MambaConfig::from_file(&a.model)?),
        "mamba2" => drop(Mamba2Config::from_file(&a.model)?),
        other => bail!("model_type `{other}` is not a recurrent model ({})", RECURRENT.join(", ")),
    }
    Ok(())
}

fn sampling(a: &GenerateArgs) -> SamplingParams {
    SamplingParams {
        temperature: a.temperature,
        top_k: a.top_k,
        top_p: a.top_p,
        seed: a.seed,
    }
}

/// Bad sampling settings are refused before a GPU is looked for.
pub fn check_args(a: &GenerateArgs) -> Result<()> {
    sampling(a).validate()?;
    if a.max_new_tokens == 0 {
        bail!("--max-new-tokens must be > 0");
    }
    Ok(())
}

/// The prompt's logits `[len, vocab]` (f32) on a fresh state: what `--logits-out` writes.
fn prompt_logits<M: RecurrentLm>(model: &M, ctx: &Context, prompt: &[u32]) -> Result<Vec<f32>> {
    let mut cache = model.new_state_cache(1)?;
    let slot = cache.slots_mut().allocate()?;
    cache.reset(slot)?;
    Ok(model
        .forward(
            ctx,
            prompt,
            Step::Prefill {
                lens: &[prompt.len()],
            },
            &cache,
            &[slot],
            LogitsRows::All,
            false,
        )?
        .logits)
}

/// Loads the `mt` model of `a.model` (or draws random weights) and generates.
pub fn run(a: &GenerateArgs, dev: &Device, dtype: Option<DType>, mt: &str) -> Result<i32> {
    let random_dtype = dtype.unwrap_or(DType::BF16);
    match mt {
        "mamba" => {
            let model = if a.random_weights {
                MambaForCausalLM::random(dev, &MambaConfig::from_file(&a.model)?, random_dtype, a.seed)?
            } else {
                MambaForCausalLM::from_pretrained(dev, &a.model, dtype)?
            };
            generate(a, dev, &model, &model.config.eos_token_ids, mt)
        }
        "mamba2" => {
            let model = if a.random_weights {
                Mamba2ForCausalLM::random(dev, &Mamba2Config::from_file(&a.model)?, random_dtype, a.seed)?
            } else {
                Mamba2ForCausalLM::from_pretrained(dev, &a.model, dtype)?
            };
            generate(a, dev, &model, &model.config.eos_token_ids, mt)
        }
        other => bail!("model_type `{other}` is not a recurrent model ({})", RECURRENT.join(", ")),
    }
}

fn generate<M: RecurrentLm>(a: &GenerateArgs, dev: &Device, model: &M, eos_token_ids: &[u32], mt: &str) -> Result<i32> {
    let ctx = Context::new(dev, fk_baselines::OpTable::baseline())?;
    let prompt = &a.prompt_ids;
    if let Some(path) = &a.logits_out {
        let logits = prompt_logits(model, &ctx, prompt)?;
        let bytes: Vec<u8> = logits.iter().flat_map(|x| x.to_le_bytes()).collect();
        let ids: Vec<u8> = prompt
            .iter()
            .flat_map(|&t| (t as i64).to_le_bytes())
            .collect();
        let v = model.vocab_size();
        fk_runtime::safetensors::write_safetensors(
            path,
            &[
                ("logits", DType::F32, &[prompt.len(), v], &bytes),
                ("input_ids", DType::I64, &[prompt.len()], &ids),
            ],
        )?;
    }
    let cfg = RecurrentRunnerConfig {
        max_num_seqs: 1,
        max_model_len: prompt.len() + a.max_new_tokens,
        max_batched_tokens: prompt.len(),
    };
    let mut engine = Engine::new(RecurrentRunner::new(model, &ctx, cfg)?)?;
    let params = RequestParams {
        max_new_tokens: a.max_new_tokens,
        sampling: sampling(a),
        eos_token_ids: eos_token_ids.to_vec(),
        ignore_eos: a.ignore_eos,
    };
    engine.add_request(prompt.clone(), params)?;
    let mut tokens = Vec::new();
    let metrics = engine.run_to_completion(|o| tokens.push(o.token))?;
    let m = metrics
        .first()
        .ok_or_else(|| anyhow::anyhow!("the engine finished without the request"))?;
    let tok_s = m.tpot_s.map_or(0.0, |t| 1.0 / t);
    if a.json {
        let v = serde_json::json!({
            "model": a.model, "model_type": mt, "dtype": model.dtype().to_string(), "device": dev.info().name,
            "prompt_ids": prompt, "output_ids": tokens, "sampling": sampling(a), "cuda_graphs": false,
            "timing": {"ttft_s": m.ttft_s, "decode_tok_per_s": tok_s, "latency_s": m.latency_s}, "logits_out": a.logits_out,
        });
        println!("{}", serde_json::to_string_pretty(&v)?);
    } else {
        println!(
            "{}",
            tokens
                .iter()
                .map(|t| t.to_string())
                .collect::<Vec<_>>()
                .join(",")
        );
        eprintln!(
            "{mt} {} on {}: {} prompt + {} new tokens; TTFT {:.2} ms, decode {tok_s:.1} tok/s (eager){}",
            model.dtype(),
            dev.info().name,
            prompt.len(),
            tokens.len(),
            m.ttft_s * 1e3,
            a.logits_out.as_ref().map(|p| format!("; prompt logits in {}", p.display())).unwrap_or_default()
        );
    }
    Ok(0)
}
