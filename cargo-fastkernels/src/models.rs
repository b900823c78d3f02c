//! Which model a command runs: an HF folder (its `config.json`'s `model_type` picks the
//! architecture; weights from its safetensors, or drawn at random from the config), or an
//! architecture's shipped real config with random weights. Commands get the loaded model
//! through a [`ModelVisitor`], generic over the architecture's `CausalLm` type.

use anyhow::{bail, Context as _, Result};
use fk_llama::{LlamaConfig, LlamaForCausalLM};
use fk_mixtral::{MixtralConfig, MixtralForCausalLM};
use fk_llm::CausalLm;
use fk_runtime::{DType, Device};
use std::path::{Path, PathBuf};

/// `model_type` values (and `--arch` names) this build runs.
pub const SUPPORTED: &[&str] = &["llama", "mixtral"];

pub fn parse_dtype(s: &str) -> Result<DType> {
    match s {
        "f32" | "float32" => Ok(DType::F32),
        "f16" | "float16" => Ok(DType::F16),
        "bf16" | "bfloat16" => Ok(DType::BF16),
        other => bail!("--dtype {other}: expected f32, f16 or bf16"),
    }
}

pub fn model_type(dir: &Path) -> Result<String> {
    let file = dir.join("config.json");
    let text = std::fs::read_to_string(&file).with_context(|| format!("read {}", file.display()))?;
    // Python's bare `Infinity` (older Mamba-2 configs' time_step_limit) is read as transformers does.
    let v: serde_json::Value = serde_json::from_str(&fk_baselines::hf_config::python_non_finite(&text)).with_context(|| format!("{} is not valid JSON", file.display()))?;
    match v.get("model_type").and_then(|m| m.as_str()) {
        Some(m) => Ok(m.to_string()),
        None => bail!("{}: no `model_type`, so the architecture is unknown", file.display()),
    }
}

#[derive(Clone, Debug)]
pub struct ModelSource {
    /// HF folder; `None` = the architecture's shipped config (needs `random_weights`).
    pub dir: Option<PathBuf>,
    /// Architecture when no folder is given (or to check the folder's `model_type`).
    pub arch: Option<String>,
    pub random_weights: bool,
    /// Default: the checkpoint's dtype; bf16 for random weights.
    pub dtype: Option<DType>,
    pub seed: u64,
}

impl ModelSource {
    /// Short name for reports: the folder name or `<arch> (shipped config)`.
    pub fn name(&self) -> String {
        match (&self.dir, &self.arch) {
            (Some(d), _) => d.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| d.display().to_string()),
            (None, Some(a)) => format!("{a} (shipped config)"),
            (None, None) => "model".into(),
        }
    }
}

/// What a command does with the loaded model.
pub trait ModelVisitor {
    type Out;
    /// `model_type` is the architecture; `eos` the config's EOS ids.
    fn visit<M: CausalLm>(self, dev: &Device, model: &M, model_type: &str, eos: Vec<u32>) -> Result<Self::Out>;
}

fn normalize_arch(a: &str) -> String {
    a.trim_start_matches("fk-").replace('-', "_")
}

/// The architecture `src` names, checked to be one this build runs (no GPU needed, so
/// commands report a bad model before they look for a GPU).
pub fn resolve_arch(src: &ModelSource) -> Result<String> {
    let mt = match (&src.dir, &src.arch) {
        (Some(d), arch) => {
            let mt = model_type(d)?;
            if let Some(a) = arch {
                if normalize_arch(a) != mt {
                    bail!("--arch {a} but {} is a `{mt}` model", d.display());
                }
            }
            mt
        }
        (None, Some(a)) => {
            if !src.random_weights {
                bail!("--arch without --model needs --random-weights (the shipped config has no weights)");
            }
            normalize_arch(a)
        }
        (None, None) => bail!("name a model: --model DIR or --arch ARCH --random-weights"),
    };
    if mt == "mamba" || mt == "mamba2" {
        // generate runs Mamba and Mamba-2 itself (generate/mamba.rs); the other commands build
        // the KV-cache `GpuRunner` from a `CausalLm`, which a recurrent model is not.
        bail!("model_type `{mt}` runs under `cargo fastkernels generate` only so far (eval and serve need a KV-cache model: {})", SUPPORTED.join(", "));
    }
    if !SUPPORTED.contains(&mt.as_str()) {
        bail!("model_type `{mt}` is not supported by this build (supported: {})", SUPPORTED.join(", "));
    }
    Ok(mt)
}

/// Load the model `src` names on `dev` and hand it to `v`.
pub fn with_model<V: ModelVisitor>(dev: &Device, src: &ModelSource, v: V) -> Result<V::Out> {
    let mt = resolve_arch(src)?;
    match mt.as_str() {
        "llama" => {
            let model = load_llama(dev, src)?;
            let eos = model.config.eos_token_ids.clone();
            v.visit(dev, &model, &mt, eos)
        }
        "mixtral" => {
            let model = load_mixtral(dev, src)?;
            let eos = model.config.eos_token_ids.clone();
            v.visit(dev, &model, &mt, eos)
        }
        other => unreachable!("{other} is in SUPPORTED but has no arm"),
    }
}

/// The GPU, or an error that says a GPU is needed for `what`.
pub fn gpu(what: &str) -> Result<Device> {
    Device::new(0).with_context(|| format!("{what} needs an NVIDIA GPU"))
}

/// A Llama from `src`: the folder's weights, random weights at its config, or at the shipped
/// Llama-3.1-8B config.
pub fn load_llama(dev: &Device, src: &ModelSource) -> fk_runtime::Result<LlamaForCausalLM> {
    match (&src.dir, src.random_weights) {
        (Some(d), true) => LlamaForCausalLM::random(dev, &LlamaConfig::from_file(d)?, src.dtype.unwrap_or(DType::BF16), src.seed),
        (Some(d), false) => LlamaForCausalLM::from_pretrained(dev, d, src.dtype),
        (None, _) => LlamaForCausalLM::random(dev, &LlamaConfig::llama_3_1_8b(), src.dtype.unwrap_or(DType::BF16), src.seed),
    }
}

/// A Mixtral from `src`, as [`load_llama`] (shipped config: Mixtral-8x7B-Instruct-v0.1).
pub fn load_mixtral(dev: &Device, src: &ModelSource) -> fk_runtime::Result<MixtralForCausalLM> {
    match (&src.dir, src.random_weights) {
        (Some(d), true) => MixtralForCausalLM::random(dev, &MixtralConfig::from_file(d)?, src.dtype.unwrap_or(DType::BF16), src.seed),
        (Some(d), false) => MixtralForCausalLM::from_pretrained(dev, d, src.dtype),
        (None, _) => MixtralForCausalLM::random(dev, &MixtralConfig::mixtral_8x7b(), src.dtype.unwrap_or(DType::BF16), src.seed),
    }
}

/// `(eos_token_ids, max_position_embeddings)` of the model `src` names, from its config (no
/// GPU needed). `arch` is [`resolve_arch`]'s answer.
pub fn config_facts(src: &ModelSource, arch: &str) -> Result<(Vec<u32>, usize)> {
    Ok(match (arch, &src.dir) {
        ("llama", Some(d)) => {
            let c = LlamaConfig::from_file(d)?;
            (c.eos_token_ids.clone(), c.max_position_embeddings)
        }
        ("llama", None) => {
            let c = LlamaConfig::llama_3_1_8b();
            (c.eos_token_ids.clone(), c.max_position_embeddings)
        }
        ("mixtral", Some(d)) => {
            let c = MixtralConfig::from_file(d)?;
            (c.eos_token_ids.clone(), c.max_position_embeddings)
        }
        ("mixtral", None) => {
            let c = MixtralConfig::mixtral_8x7b();
            (c.eos_token_ids.clone(), c.max_position_embeddings)
        }
        (other, _) => bail!("model_type `{other}` is not supported by this build (supported: {})", SUPPORTED.join(", ")),
    })
}
