//! The architectures this build runs, one entry each: how to read the config (before any
//! GPU), how to load the model as an [`EngineModel`], and the crate's candidate slot for
//! `eval --candidate`. Adding an architecture (a loader like `mamba2.rs`) is one entry in
//! [`ARCHS`].

use super::engine_model::{EngineModel, KvCacheModel};
use super::{mamba, mamba2, ConfigFacts, ModelSource};
use anyhow::Result;
use fk_baselines::OpTable;
use fk_llama::{LlamaConfig, LlamaForCausalLM};
use fk_mixtral::{MixtralConfig, MixtralForCausalLM};
use fk_runtime::{DType, Device};

pub struct Arch {
    /// config.json's `model_type`, and the `--arch` name.
    pub model_type: &'static str,
    /// What commands need before loading (validates the config).
    pub facts: fn(&ModelSource) -> Result<ConfigFacts>,
    pub load: fn(&Device, &ModelSource) -> Result<Box<dyn EngineModel>>,
    /// The crate's candidate kernel slot, if `eval --candidate` runs it.
    pub candidates: Option<CandidateSlot>,
}

/// An architecture crate's `kernels/` slot as this build compiled it.
pub struct CandidateSlot {
    pub crate_name: &'static str,
    pub dir: &'static str,
    /// The ops it replaces (empty: the slot is empty).
    pub ops: fn() -> Vec<String>,
    /// The baseline table with those ops replaced.
    pub table: fn() -> OpTable,
}

/// The slot of the crate `$krate` (which declares `fk_baselines::candidate_slot!`).
macro_rules! slot {
    ($krate:ident, $name:literal) => {
        Some(CandidateSlot {
            crate_name: $name,
            dir: $krate::kernels::SLOT_DIR,
            ops: || $krate::kernels::CANDIDATES.iter().map(|c| c.op.to_string()).collect(),
            table: $krate::kernels::candidate_table,
        })
    };
}

pub const ARCHS: &[Arch] = &[
    Arch { model_type: "llama", facts: llama_facts, load: load_llama, candidates: slot!(fk_llama, "fk-llama") },
    Arch { model_type: "mixtral", facts: mixtral_facts, load: load_mixtral, candidates: None },
    Arch { model_type: "mamba", facts: mamba::facts, load: mamba::load, candidates: slot!(fk_mamba, "fk-mamba") },
    Arch { model_type: "mamba2", facts: mamba2::facts, load: mamba2::load, candidates: slot!(fk_mamba2, "fk-mamba2") },
];

fn kv_facts(vocab_size: usize, eos: &[u32], max_pos: usize) -> ConfigFacts {
    ConfigFacts { vocab_size, eos_token_ids: eos.to_vec(), max_position_embeddings: Some(max_pos), recurrent: false }
}

/// The folder's config, or the shipped Llama-3.1-8B one.
fn llama_config(src: &ModelSource) -> fk_runtime::Result<LlamaConfig> {
    match &src.dir {
        Some(d) => LlamaConfig::from_file(d),
        None => Ok(LlamaConfig::llama_3_1_8b()),
    }
}

fn llama_facts(src: &ModelSource) -> Result<ConfigFacts> {
    let c = llama_config(src)?;
    Ok(kv_facts(c.vocab_size, &c.eos_token_ids, c.max_position_embeddings))
}

/// The folder's weights, or random weights at its config (or the shipped one).
fn load_llama(dev: &Device, src: &ModelSource) -> Result<Box<dyn EngineModel>> {
    let model = match (&src.dir, src.random_weights) {
        (Some(d), false) => LlamaForCausalLM::from_pretrained(dev, d, src.dtype)?,
        _ => LlamaForCausalLM::random(dev, &llama_config(src)?, src.dtype.unwrap_or(DType::BF16), src.seed)?,
    };
    let eos = model.config.eos_token_ids.clone();
    Ok(Box::new(KvCacheModel::new(model, "llama", eos)))
}

/// The folder's config, or the shipped Mixtral-8x7B-Instruct-v0.1 one.
fn mixtral_config(src: &ModelSource) -> fk_runtime::Result<MixtralConfig> {
    match &src.dir {
        Some(d) => MixtralConfig::from_file(d),
        None => Ok(MixtralConfig::mixtral_8x7b()),
    }
}

fn mixtral_facts(src: &ModelSource) -> Result<ConfigFacts> {
    let c = mixtral_config(src)?;
    Ok(kv_facts(c.vocab_size, &c.eos_token_ids, c.max_position_embeddings))
}

fn load_mixtral(dev: &Device, src: &ModelSource) -> Result<Box<dyn EngineModel>> {
    let model = match (&src.dir, src.random_weights) {
        (Some(d), false) => MixtralForCausalLM::from_pretrained(dev, d, src.dtype)?,
        _ => MixtralForCausalLM::random(dev, &mixtral_config(src)?, src.dtype.unwrap_or(DType::BF16), src.seed)?,
    };
    let eos = model.config.eos_token_ids.clone();
    Ok(Box::new(KvCacheModel::new(model, "mixtral", eos)))
}
