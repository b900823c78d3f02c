//! Mamba (`model_type` `mamba`) as an [`EngineModel`]: `MambaForCausalLM` under fk-mamba's
//! `MambaRunner`. Mamba-2 plugs in the same way (`mamba2.rs` and its entry in `archs::ARCHS`).

use super::engine_model::{CacheKind, EngineModel, ModelInfo, RecurrentConfig, RecurrentModel};
use super::{ConfigFacts, ModelSource};
use anyhow::Result;
use fk_baselines::Context;
use fk_llm::engine::StepRunner;
use fk_mamba::{LogitsRows, MambaConfig, MambaForCausalLM, MambaRunner, MambaRunnerConfig, Step};
use fk_runtime::{DType, Device};

/// The config `src` names: the folder's, or the shipped Mamba-2.8B one.
fn config(src: &ModelSource) -> fk_runtime::Result<MambaConfig> {
    match &src.dir {
        Some(d) => MambaConfig::from_file(d),
        None => Ok(MambaConfig::mamba_2_8b()),
    }
}

/// No positions: the context is capped at `RECURRENT_MAX_MODEL_LEN` instead.
pub fn facts(src: &ModelSource) -> Result<ConfigFacts> {
    let c = config(src)?;
    Ok(ConfigFacts { vocab_size: c.vocab_size, eos_token_ids: c.eos_token_ids.clone(), max_position_embeddings: None, recurrent: true })
}

/// The folder's weights, or random weights at its config (or the shipped one).
fn load_model(dev: &Device, src: &ModelSource) -> fk_runtime::Result<MambaForCausalLM> {
    match (&src.dir, src.random_weights) {
        (Some(d), false) => MambaForCausalLM::from_pretrained(dev, d, src.dtype),
        _ => MambaForCausalLM::random(dev, &config(src)?, src.dtype.unwrap_or(DType::BF16), src.seed),
    }
}

fn runner<'a>(m: &'a MambaForCausalLM, ctx: &Context, c: RecurrentConfig) -> fk_runtime::Result<Box<dyn StepRunner + 'a>> {
    let cfg = MambaRunnerConfig { max_num_seqs: c.max_num_seqs, max_model_len: c.max_model_len, max_batched_tokens: c.max_batched_tokens };
    let mut runner = MambaRunner::new(m, ctx, cfg)?;
    runner.set_cuda_graphs(c.cuda_graphs);
    Ok(Box::new(runner))
}

/// The whole prompt as one prefill on a fresh state slot, logits at every position.
fn prompt_logits(m: &MambaForCausalLM, ctx: &Context, prompt: &[u32]) -> fk_runtime::Result<Vec<f32>> {
    let mut cache = m.new_state_cache(1)?;
    let slot = cache.slots_mut().allocate().map_err(|e| fk_runtime::Error::bad_input("MambaForCausalLM prompt logits", e.to_string()))?;
    cache.reset(slot)?;
    Ok(m.forward(ctx, prompt, Step::Prefill { lens: &[prompt.len()] }, &cache, &[slot], LogitsRows::All, false)?.logits)
}

pub fn load(dev: &Device, src: &ModelSource) -> Result<Box<dyn EngineModel>> {
    let model = load_model(dev, src)?;
    let info = ModelInfo {
        arch: "mamba".into(),
        dtype: model.dtype,
        vocab_size: model.config.vocab_size,
        eos_token_ids: model.config.eos_token_ids.clone(),
        max_position_embeddings: None,
        streamed_weight_bytes: model.streamed_weight_bytes(),
        cache: CacheKind::Recurrent { bytes_per_sequence: model.state_spec().bytes_per_slot() },
    };
    Ok(Box::new(RecurrentModel::new(model, info, runner, prompt_logits)?))
}
