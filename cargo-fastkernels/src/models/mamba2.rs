//! Mamba-2 (`model_type` `mamba2`) as an [`EngineModel`]: `Mamba2ForCausalLM` under fk-mamba2's
//! `Mamba2Runner` (the family's `RecurrentRunner`, as Mamba's: decode steps replay CUDA graphs
//! unless `--no-cuda-graphs`).

use super::engine_model::{CacheKind, EngineModel, ModelInfo, RecurrentConfig, RecurrentModel};
use super::{ConfigFacts, ModelSource};
use anyhow::Result;
use fk_baselines::Context;
use fk_llm::engine::StepRunner;
use fk_mamba2::{LogitsRows, Mamba2Config, Mamba2ForCausalLM, Mamba2Runner, Mamba2RunnerConfig, RecurrentLm, Step};
use fk_runtime::{DType, Device};

/// The config `src` names: the folder's, or the shipped Mamba-Codestral-7B one.
fn config(src: &ModelSource) -> fk_runtime::Result<Mamba2Config> {
    match &src.dir {
        Some(d) => Mamba2Config::from_file(d),
        None => Ok(Mamba2Config::mamba_codestral_7b()),
    }
}

/// No positions: the context is capped at `RECURRENT_MAX_MODEL_LEN` instead.
pub fn facts(src: &ModelSource) -> Result<ConfigFacts> {
    let c = config(src)?;
    Ok(ConfigFacts { vocab_size: c.vocab_size, eos_token_ids: c.eos_token_ids.clone(), max_position_embeddings: None, recurrent: true })
}

/// The folder's weights, or random weights at its config (or the shipped one).
fn load_model(dev: &Device, src: &ModelSource) -> fk_runtime::Result<Mamba2ForCausalLM> {
    match (&src.dir, src.random_weights) {
        (Some(d), false) => Mamba2ForCausalLM::from_pretrained(dev, d, src.dtype),
        _ => Mamba2ForCausalLM::random(dev, &config(src)?, src.dtype.unwrap_or(DType::BF16), src.seed),
    }
}

fn runner<'a>(m: &'a Mamba2ForCausalLM, ctx: &Context, c: RecurrentConfig) -> fk_runtime::Result<Box<dyn StepRunner + 'a>> {
    let cfg = Mamba2RunnerConfig { max_num_seqs: c.max_num_seqs, max_model_len: c.max_model_len, max_batched_tokens: c.max_batched_tokens };
    let mut runner = Mamba2Runner::new(m, ctx, cfg)?;
    runner.set_cuda_graphs(c.cuda_graphs);
    Ok(Box::new(runner))
}

/// The whole prompt as one prefill on a fresh state slot, logits at every position.
fn prompt_logits(m: &Mamba2ForCausalLM, ctx: &Context, prompt: &[u32]) -> fk_runtime::Result<Vec<f32>> {
    let mut cache = m.new_state_cache(1)?;
    let slot = cache.slots_mut().allocate().map_err(|e| fk_runtime::Error::bad_input("Mamba2ForCausalLM prompt logits", e.to_string()))?;
    cache.reset(slot)?;
    Ok(m.forward(ctx, prompt, Step::Prefill { lens: &[prompt.len()] }, &cache, &[slot], LogitsRows::All, false)?.logits)
}

pub fn load(dev: &Device, src: &ModelSource) -> Result<Box<dyn EngineModel>> {
    let model = load_model(dev, src)?;
    let info = ModelInfo {
        arch: "mamba2".into(),
        dtype: model.dtype,
        vocab_size: model.config.vocab_size,
        eos_token_ids: model.config.eos_token_ids.clone(),
        max_position_embeddings: None,
        streamed_weight_bytes: model.streamed_weight_bytes(),
        cache: CacheKind::Recurrent { bytes_per_sequence: model.state_spec().bytes_per_slot() },
    };
    Ok(Box::new(RecurrentModel::new(model, info, runner, prompt_logits)?))
}
