//! Mamba (`model_type` `mamba`) as an [`EngineModel`]: `MambaForCausalLM` under the family's
//! `RecurrentRunner` (fk-mamba's `MambaRunner`). Mamba-2 plugs in the same way (`mamba2.rs`
//! and its entry in `archs::ARCHS`).

use super::engine_model::{EngineModel, RecurrentModel};
use super::{ConfigFacts, ModelSource};
use anyhow::Result;
use fk_mamba::{MambaConfig, MambaForCausalLM};
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
pub fn load(dev: &Device, src: &ModelSource) -> Result<Box<dyn EngineModel>> {
    let model = match (&src.dir, src.random_weights) {
        (Some(d), false) => MambaForCausalLM::from_pretrained(dev, d, src.dtype)?,
        _ => MambaForCausalLM::random(dev, &config(src)?, src.dtype.unwrap_or(DType::BF16), src.seed)?,
    };
    let eos = model.config.eos_token_ids.clone();
    Ok(Box::new(RecurrentModel::new(model, "mamba", eos)))
}
