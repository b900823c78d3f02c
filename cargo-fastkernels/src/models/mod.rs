//! Which model a command runs: an HF folder (its `config.json`'s `model_type` picks the
//! architecture; weights from its safetensors, or drawn at random from the config), or an
//! architecture's shipped real config with random weights. Commands get the loaded model as
//! a `Box<dyn EngineModel>` ([`engine_model`]): something that builds the engine's runner,
//! whether the model keeps a KV cache or a recurrent state, with the facts reports need.
//! Adding an architecture is one entry in [`archs::ARCHS`].

mod archs;
pub mod engine_model;
mod mamba;
mod mamba2;

use anyhow::{bail, Context as _, Result};
use archs::{Arch, ARCHS};
use engine_model::EngineModel;
use fk_baselines::OpTable;
use fk_runtime::{DType, Device};
use std::path::{Path, PathBuf};

/// `model_type` values (and `--arch` names) this build runs, for messages.
pub fn supported() -> String {
    ARCHS.iter().map(|a| a.model_type).collect::<Vec<_>>().join(", ")
}

fn arch(model_type: &str) -> Result<&'static Arch> {
    match ARCHS.iter().find(|a| a.model_type == model_type) {
        Some(a) => Ok(a),
        None => bail!("model_type `{model_type}` is not supported by this build (supported: {})", supported()),
    }
}

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
    arch(&mt)?;
    Ok(mt)
}

/// Load the model `src` names on `dev`, ready for the engine.
pub fn load(dev: &Device, src: &ModelSource) -> Result<Box<dyn EngineModel>> {
    (arch(&resolve_arch(src)?)?.load)(dev, src)
}

/// This build's candidate op table for `model_type` and the ops it replaces, for
/// `eval --candidate`: an error naming the problem when the architecture has no slot or its
/// slot is empty (the candidate would equal the baseline).
pub fn candidate_table(model_type: &str) -> Result<(OpTable, Vec<String>)> {
    let with_slot = || ARCHS.iter().filter(|a| a.candidates.is_some()).map(|a| a.model_type).collect::<Vec<_>>().join(", ");
    let Some(slot) = &arch(model_type)?.candidates else {
        bail!("--candidate: no candidate slot for `{model_type}` (eval runs the candidates of: {})", with_slot());
    };
    let ops = (slot.ops)();
    if ops.is_empty() {
        bail!("--candidate: {}'s candidate slot ({}) is empty in this build, so the candidate equals the baseline", slot.crate_name, slot.dir);
    }
    Ok(((slot.table)(), ops))
}

/// The GPU, or an error that says a GPU is needed for `what`.
pub fn gpu(what: &str) -> Result<Device> {
    Device::new(0).with_context(|| format!("{what} needs an NVIDIA GPU"))
}

/// What a command needs to know about a model before loading it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigFacts {
    pub vocab_size: usize,
    pub eos_token_ids: Vec<u32>,
    /// `None` for a model without positions (recurrent): see
    /// [`engine_model::RECURRENT_MAX_MODEL_LEN`] for the cap used instead.
    pub max_position_embeddings: Option<usize>,
    /// A fixed-size state per sequence (Mamba) rather than a KV cache.
    pub recurrent: bool,
}

impl ConfigFacts {
    /// Longest sequence an engine may be sized for.
    pub fn max_model_len(&self) -> usize {
        self.max_position_embeddings.unwrap_or(engine_model::RECURRENT_MAX_MODEL_LEN)
    }
}

/// The facts of the model `src` names, from its config, validated (no GPU needed, so a bad
/// config is reported before a GPU is looked for). `model_type` is [`resolve_arch`]'s answer.
pub fn config_facts(src: &ModelSource, model_type: &str) -> Result<ConfigFacts> {
    (arch(model_type)?.facts)(src)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn golden(arch: &str, name: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/goldens").join(arch).join(name)
    }

    fn folder(dir: PathBuf) -> ModelSource {
        ModelSource { dir: Some(dir), arch: None, random_weights: false, dtype: None, seed: 0 }
    }

    fn shipped(arch: &str) -> ModelSource {
        ModelSource { dir: None, arch: Some(arch.into()), random_weights: true, dtype: None, seed: 0 }
    }

    #[test]
    fn mamba_resolves_for_every_command_from_a_folder_or_its_shipped_config() {
        let src = folder(golden("mamba", "tiny-tied-f32"));
        assert_eq!(resolve_arch(&src).unwrap(), "mamba");
        let f = config_facts(&src, "mamba").unwrap();
        assert_eq!(f, ConfigFacts { vocab_size: 301, eos_token_ids: vec![0], max_position_embeddings: None, recurrent: true });
        assert_eq!(f.max_model_len(), engine_model::RECURRENT_MAX_MODEL_LEN, "no positions: the recurrent cap");
        let with_arch = ModelSource { arch: Some("fk-mamba".into()), ..src.clone() };
        assert_eq!(resolve_arch(&with_arch).unwrap(), "mamba");
        let src = shipped("mamba");
        assert_eq!(resolve_arch(&src).unwrap(), "mamba");
        let f = config_facts(&src, "mamba").unwrap();
        assert_eq!((f.vocab_size, f.max_position_embeddings), (fk_mamba::MambaConfig::mamba_2_8b().vocab_size, None));
    }

    #[test]
    fn mamba2_resolves_from_a_folder_or_the_shipped_codestral_config() {
        let src = folder(golden("mamba2", "tiny-g2-chunk4-f32"));
        assert_eq!(resolve_arch(&src).unwrap(), "mamba2");
        let f = config_facts(&src, "mamba2").unwrap();
        assert_eq!(f, ConfigFacts { vocab_size: 301, eos_token_ids: vec![0], max_position_embeddings: None, recurrent: true });
        // The shipped folder's config.json has Python's bare `Infinity` (time_step_limit).
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../architectures/mamba2/configs/Mamba-Codestral-7B-v0.1");
        assert_eq!(resolve_arch(&ModelSource { random_weights: true, ..folder(dir) }).unwrap(), "mamba2");
        let f = config_facts(&shipped("mamba2"), "mamba2").unwrap();
        assert_eq!((f.vocab_size, f.eos_token_ids.clone(), f.max_position_embeddings), (32768, vec![2], None));
    }

    #[test]
    fn kv_models_keep_their_positions() {
        let src = folder(golden("llama", "tiny-gqa-llama3-f32"));
        assert_eq!(resolve_arch(&src).unwrap(), "llama");
        let f = config_facts(&src, "llama").unwrap();
        let c = fk_llama::LlamaConfig::from_file(src.dir.as_ref().unwrap()).unwrap();
        assert_eq!(f, ConfigFacts { vocab_size: c.vocab_size, eos_token_ids: c.eos_token_ids.clone(), max_position_embeddings: Some(c.max_position_embeddings), recurrent: false });
        assert_eq!(f.max_model_len(), c.max_position_embeddings);
    }

    #[test]
    fn every_supported_arch_has_facts_and_unknown_ones_are_named() {
        assert_eq!(supported(), "llama, mixtral, mamba, mamba2");
        for a in ARCHS.iter().map(|a| a.model_type) {
            let src = shipped(a);
            assert_eq!(resolve_arch(&src).unwrap(), a);
            let f = config_facts(&src, a).unwrap();
            assert!(f.vocab_size > 0 && f.max_model_len() > 0, "{a}: {f:?}");
        }
        let e = resolve_arch(&shipped("rwkv7")).unwrap_err().to_string();
        assert!(e.contains("model_type `rwkv7` is not supported") && e.contains("llama, mixtral, mamba, mamba2"), "{e}");
        let e = config_facts(&shipped("bert"), "bert").unwrap_err().to_string();
        assert!(e.contains("model_type `bert` is not supported"), "{e}");
        let tmp = std::env::temp_dir().join(format!("fk-models-unknown-{}", std::process::id()));
        std::fs::create_dir_all(&tmp).unwrap();
        std::fs::write(tmp.join("config.json"), r#"{"model_type": "rwkv"}"#).unwrap();
        let e = resolve_arch(&folder(tmp.clone())).unwrap_err().to_string();
        let _ = std::fs::remove_dir_all(&tmp);
        assert!(e.contains("model_type `rwkv` is not supported by this build"), "{e}");
    }

    #[test]
    fn a_bad_mamba_config_is_named_before_any_gpu() {
        let tmp = std::env::temp_dir().join(format!("fk-models-bad-mamba-{}", std::process::id()));
        std::fs::create_dir_all(&tmp).unwrap();
        std::fs::write(tmp.join("config.json"), r#"{"model_type": "mamba", "hidden_size": 64, "num_hidden_layers": 2, "conv_kernel": 7}"#).unwrap();
        let src = folder(tmp.clone());
        let arch = resolve_arch(&src).unwrap();
        let e = config_facts(&src, &arch).unwrap_err().to_string();
        let _ = std::fs::remove_dir_all(&tmp);
        assert!(e.contains("conv_kernel"), "{e}");
        let e = resolve_arch(&ModelSource { arch: Some("llama".into()), ..folder(golden("mamba", "tiny-tied-f32")) }).unwrap_err().to_string();
        assert!(e.contains("is a `mamba` model"), "{e}");
    }
}
