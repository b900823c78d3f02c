//! `cargo fastkernels generate` for Mamba (`model_type` `mamba`). The family's `Generator` and
//! engine are built around `CausalLm`, whose forward takes the paged KV cache; a recurrent
//! model keeps a fixed-size state per sequence instead, so Mamba runs here through fk-mamba's
//! own prefill + decode over its recurrent-state cache. Greedy decoding only, eager (no CUDA
//! graphs yet).

use super::GenerateArgs;
use anyhow::{bail, Result};
use fk_baselines::Context;
use fk_mamba::model::argmax;
use fk_mamba::{LogitsRows, MambaConfig, MambaForCausalLM, Step};
use fk_runtime::{DType, Device};
use std::time::Instant;

/// What this path does not do yet, refused before a GPU is looked for.
pub fn check_args(a: &GenerateArgs) -> Result<()> {
    if a.temperature != 0.0 {
        bail!("mamba: only greedy decoding (--temperature 0) is implemented so far");
    }
    Ok(())
}

pub fn run(a: &GenerateArgs, dev: &Device, dtype: Option<DType>) -> Result<i32> {
    let model = if a.random_weights {
        MambaForCausalLM::random(
            dev,
            &MambaConfig::from_file(&a.model)?,
            dtype.unwrap_or(DType::BF16),
            a.seed,
        )?
    } else {
        MambaForCausalLM::from_pretrained(dev, &a.model, dtype)?
    };
    let ctx = Context::new(dev, fk_baselines::OpTable::baseline())?;
    let v = model.config.vocab_size;
    let mut cache = model.new_state_cache(1)?;
    let slot = cache.slots_mut().allocate()?;
    cache.reset(slot)?;
    let prompt = &a.prompt_ids;
    let start = Instant::now();
    let rows = if a.logits_out.is_some() {
        LogitsRows::All
    } else {
        LogitsRows::Last
    };
    let out = model.forward(
        &ctx,
        prompt,
        Step::Prefill {
            lens: &[prompt.len()],
        },
        &cache,
        &[slot],
        rows,
        false,
    )?;
    if let Some(path) = &a.logits_out {
        let bytes: Vec<u8> = out.logits.iter().flat_map(|x| x.to_le_bytes()).collect();
        let ids: Vec<u8> = prompt
            .iter()
            .flat_map(|&t| (t as i64).to_le_bytes())
            .collect();
        fk_runtime::safetensors::write_safetensors(
            path,
            &[
                ("logits", DType::F32, &[prompt.len(), v], &bytes),
                ("input_ids", DType::I64, &[prompt.len()], &ids),
            ],
        )?;
    }
    let ttft = start.elapsed().as_secs_f64();
    let eos = &model.config.eos_token_ids;
    let mut tokens = Vec::new();
    let mut next = argmax(&out.logits[out.logits.len() - v..]);
    let decode_start = Instant::now();
    while a.max_new_tokens > 0 {
        tokens.push(next);
        if tokens.len() == a.max_new_tokens || (!a.ignore_eos && eos.contains(&next)) {
            break;
        }
        next = argmax(
            &model
                .forward(
                    &ctx,
                    &[next],
                    Step::Decode,
                    &cache,
                    &[slot],
                    LogitsRows::All,
                    false,
                )?
                .logits,
        );
    }
    let decode_s = decode_start.elapsed().as_secs_f64();
    let tok_s = if tokens.len() > 1 {
        (tokens.len() - 1) as f64 / decode_s
    } else {
        0.0
    };
    if a.json {
        let v = serde_json::json!({
            "model": a.model, "model_type": "mamba", "dtype": model.dtype.to_string(), "device": dev.info().name,
            "prompt_ids": prompt, "output_ids": tokens, "sampling": "greedy", "cuda_graphs": false,
            "timing": {"ttft_s": ttft, "decode_tok_per_s": tok_s}, "logits_out": a.logits_out,
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
        eprintln!("mamba {} on {}: {} prompt + {} new tokens; TTFT {:.2} ms, decode {tok_s:.1} tok/s (eager)", model.dtype, dev.info().name, prompt.len(), tokens.len(), ttft * 1e3);
    }
    Ok(0)
}
