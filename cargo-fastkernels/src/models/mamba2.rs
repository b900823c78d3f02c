//! Mamba-2 (`model_type` `mamba2`) as an [`EngineModel`]: `Mamba2ForCausalLM` under the
//! family's `RecurrentRunner` (fk-mamba2's `Mamba2Runner`: decode steps replay CUDA graphs
//! unless `--no-cuda-graphs`).

use super::engine_model::{EngineModel, RecurrentModel};
use super::{ConfigFacts, ModelSource};
use anyhow::Result;
use fk_mamba2::{Mamba2Config, Mamba2ForCausalLM};
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
pub fn load(dev: &Device, src: &ModelSource) -> Result<Box<dyn EngineModel>> {
    let model = match (&src.dir, src.random_weights) {
        (Some(d), false) => Mamba2ForCausalLM::from_pretrained(dev, d, src.dtype)?,
        _ => Mamba2ForCausalLM::random(dev, &config(src)?, src.dtype.unwrap_or(DType::BF16), src.seed)?,
    };
    let eos = model.config.eos_token_ids.clone();
    Ok(Box::new(RecurrentModel::new(model, "mamba2", eos)))
}
