//! `LlamaConfig` from an HF `config.json`, in two stages: a lenient serde struct that
//! accepts what real checkpoints contain (unknown keys ignored, optional keys defaulted as
//! transformers does), then validation into the struct the code uses, with errors that name
//! the key and the file.

use fk_runtime::{Error, Result};
use serde::Deserialize;
use std::path::{Path, PathBuf};

/// `rope_scaling` as HF checkpoints write it, or transformers ≥ 5's `rope_parameters`
/// (the same keys plus `rope_theta`). Only `default` and `llama3` are accepted for Llama.
#[derive(Clone, Debug, Deserialize, PartialEq)]
pub struct RawRopeScaling {
    #[serde(alias = "type")]
    pub rope_type: Option<String>,
    pub rope_theta: Option<f64>,
    pub factor: Option<f64>,
    pub low_freq_factor: Option<f64>,
    pub high_freq_factor: Option<f64>,
    pub original_max_position_embeddings: Option<usize>,
}

#[derive(Clone, Debug, Deserialize)]
pub struct RawLlamaConfig {
    pub model_type: Option<String>,
    pub hidden_size: Option<usize>,
    pub intermediate_size: Option<usize>,
    pub num_hidden_layers: Option<usize>,
    pub num_attention_heads: Option<usize>,
    pub num_key_value_heads: Option<usize>,
    pub head_dim: Option<usize>,
    pub vocab_size: Option<usize>,
    pub max_position_embeddings: Option<usize>,
    pub rms_norm_eps: Option<f64>,
    pub rope_theta: Option<f64>,
    pub rope_scaling: Option<RawRopeScaling>,
    pub rope_parameters: Option<RawRopeScaling>,
    pub hidden_act: Option<String>,
    pub attention_bias: Option<bool>,
    pub mlp_bias: Option<bool>,
    pub tie_word_embeddings: Option<bool>,
    pub torch_dtype: Option<String>,
    /// One id or a list (Llama 3.1 Instruct stops on several).
    pub eos_token_id: Option<serde_json::Value>,
}

#[derive(Clone, Debug, PartialEq)]
pub enum RopeScaling {
    Default,
    Llama3 { factor: f64, low_freq_factor: f64, high_freq_factor: f64, original_max_position_embeddings: usize },
}

#[derive(Clone, Debug, PartialEq)]
pub struct LlamaConfig {
    pub hidden_size: usize,
    pub intermediate_size: usize,
    pub num_hidden_layers: usize,
    pub num_attention_heads: usize,
    pub num_key_value_heads: usize,
    pub head_dim: usize,
    pub vocab_size: usize,
    pub max_position_embeddings: usize,
    pub rms_norm_eps: f32,
    pub rope_theta: f64,
    pub rope_scaling: RopeScaling,
    pub attention_bias: bool,
    pub mlp_bias: bool,
    pub tie_word_embeddings: bool,
    /// Ids that end generation (`eos_token_id`, one or a list; empty if absent).
    pub eos_token_ids: Vec<u32>,
}

impl LlamaConfig {
    /// Read and validate `path` (a config.json or a folder holding one).
    pub fn from_file(path: &Path) -> Result<LlamaConfig> {
        // A folder (existing or not) means its config.json; a *.json path is the file itself.
        let is_json = path.extension().is_some_and(|e| e == "json");
        let file: PathBuf = if path.is_dir() || !is_json { path.join("config.json") } else { path.to_path_buf() };
        let text = std::fs::read_to_string(&file).map_err(|e| Error::io(format!("read {}", file.display()), e))?;
        Self::from_json(&text).map_err(|e| match e {
            Error::Config { message, .. } => Error::Config { file: Some(file.clone()), message },
            other => other,
        })
    }

    pub fn from_json(text: &str) -> Result<LlamaConfig> {
        let raw: RawLlamaConfig = serde_json::from_str(text).map_err(|e| Error::config(format!("not a valid config.json: {e}")))?;
        raw.validate()
    }

    /// The real meta-llama/Llama-3.1-8B-Instruct config, shipped in `configs/`.
    pub fn llama_3_1_8b() -> LlamaConfig {
        Self::from_json(include_str!("../configs/Llama-3.1-8B-Instruct/config.json")).expect("shipped config is valid")
    }

    /// The geometry the L1 benches use.
    pub fn shapes(&self) -> fk_baselines::harness::LlmShapes {
        fk_baselines::harness::LlmShapes {
            hidden: self.hidden_size,
            intermediate: self.intermediate_size,
            heads: self.num_attention_heads,
            kv_heads: self.num_key_value_heads,
            head_dim: self.head_dim,
            vocab: self.vocab_size,
            max_position: self.max_position_embeddings,
            eps: self.rms_norm_eps,
        }
    }
}

fn need<T>(v: Option<T>, key: &str) -> Result<T> {
    v.ok_or_else(|| Error::config(format!("missing required key `{key}`")))
}

fn positive(v: usize, key: &str) -> Result<usize> {
    if v == 0 {
        Err(Error::config(format!("`{key}` must be > 0")))
    } else {
        Ok(v)
    }
}

impl RawLlamaConfig {
    pub fn validate(self) -> Result<LlamaConfig> {
        if let Some(mt) = &self.model_type {
            if mt != "llama" {
                return Err(Error::config(format!("model_type is `{mt}`, expected `llama`")));
            }
        }
        let hidden = positive(need(self.hidden_size, "hidden_size")?, "hidden_size")?;
        let heads = positive(need(self.num_attention_heads, "num_attention_heads")?, "num_attention_heads")?;
        // transformers: num_key_value_heads defaults to num_attention_heads (MHA) and
        // head_dim to hidden_size / num_attention_heads.
        let kv_heads = positive(self.num_key_value_heads.unwrap_or(heads), "num_key_value_heads")?;
        if heads % kv_heads != 0 {
            return Err(Error::config(format!("num_attention_heads {heads} is not a multiple of num_key_value_heads {kv_heads}")));
        }
        let head_dim = match self.head_dim {
            Some(d) => positive(d, "head_dim")?,
            None if hidden % heads == 0 => hidden / heads,
            None => return Err(Error::config(format!("hidden_size {hidden} is not divisible by num_attention_heads {heads} and head_dim is not set"))),
        };
        if head_dim % 2 != 0 {
            return Err(Error::config(format!("head_dim {head_dim} must be even for rotary embeddings")));
        }
        if let Some(act) = &self.hidden_act {
            if act != "silu" {
                return Err(Error::config(format!("hidden_act `{act}` is not supported for Llama (expected `silu`)")));
            }
        }
        let eps = self.rms_norm_eps.unwrap_or(1e-6);
        if !(eps.is_finite() && eps > 0.0) {
            return Err(Error::config(format!("rms_norm_eps {eps} must be > 0")));
        }
        // transformers ≥ 5 folds rope_theta and the scaling into `rope_parameters`; older
        // files (every hub Llama) have `rope_theta` and `rope_scaling`. Accept both, not both
        // disagreeing.
        let rope = match (self.rope_scaling, self.rope_parameters) {
            (Some(a), Some(b)) if a.rope_type != b.rope_type => {
                return Err(Error::config("`rope_scaling` and `rope_parameters` disagree on rope_type"))
            }
            (a, b) => b.or(a),
        };
        let theta = match (self.rope_theta, rope.as_ref().and_then(|r| r.rope_theta)) {
            (Some(a), Some(b)) if a != b => {
                return Err(Error::config(format!("rope_theta {a} and rope_parameters.rope_theta {b} disagree")))
            }
            (a, b) => a.or(b).unwrap_or(10000.0),
        };
        if !(theta.is_finite() && theta > 1.0) {
            return Err(Error::config(format!("rope_theta {theta} must be > 1")));
        }
        let rope_scaling = match rope {
            None => RopeScaling::Default,
            Some(s) => match s.rope_type.as_deref() {
                None | Some("default") => RopeScaling::Default,
                Some("llama3") => RopeScaling::Llama3 {
                    factor: need(s.factor, "rope_scaling.factor")?,
                    low_freq_factor: need(s.low_freq_factor, "rope_scaling.low_freq_factor")?,
                    high_freq_factor: need(s.high_freq_factor, "rope_scaling.high_freq_factor")?,
                    original_max_position_embeddings: need(
                        s.original_max_position_embeddings,
                        "rope_scaling.original_max_position_embeddings",
                    )?,
                },
                Some(other) => return Err(Error::config(format!("rope_scaling type `{other}` is not supported (default, llama3)"))),
            },
        };
        let eos_token_ids = match &self.eos_token_id {
            None | Some(serde_json::Value::Null) => vec![],
            Some(serde_json::Value::Number(n)) => vec![n.as_u64().ok_or_else(|| Error::config(format!("eos_token_id {n} is not a token id")))? as u32],
            Some(serde_json::Value::Array(a)) => a
                .iter()
                .map(|v| v.as_u64().map(|x| x as u32).ok_or_else(|| Error::config(format!("eos_token_id entry {v} is not a token id"))))
                .collect::<Result<_>>()?,
            Some(other) => return Err(Error::config(format!("eos_token_id {other} must be an id or a list of ids"))),
        };
        Ok(LlamaConfig {
            eos_token_ids,
            hidden_size: hidden,
            intermediate_size: positive(need(self.intermediate_size, "intermediate_size")?, "intermediate_size")?,
            num_hidden_layers: positive(need(self.num_hidden_layers, "num_hidden_layers")?, "num_hidden_layers")?,
            num_attention_heads: heads,
            num_key_value_heads: kv_heads,
            head_dim,
            vocab_size: positive(need(self.vocab_size, "vocab_size")?, "vocab_size")?,
            max_position_embeddings: self.max_position_embeddings.unwrap_or(2048),
            rms_norm_eps: eps as f32,
            rope_theta: theta,
            rope_scaling,
            attention_bias: self.attention_bias.unwrap_or(false),
            mlp_bias: self.mlp_bias.unwrap_or(false),
            tie_word_embeddings: self.tie_word_embeddings.unwrap_or(false),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_llama_3_1_8b_config() {
        let c = LlamaConfig::llama_3_1_8b();
        assert_eq!((c.hidden_size, c.intermediate_size, c.num_hidden_layers), (4096, 14336, 32));
        assert_eq!((c.num_attention_heads, c.num_key_value_heads, c.head_dim, c.vocab_size), (32, 8, 128, 128256));
        assert_eq!(c.rms_norm_eps, 1e-5);
        assert_eq!(
            c.rope_scaling,
            RopeScaling::Llama3 { factor: 8.0, low_freq_factor: 1.0, high_freq_factor: 4.0, original_max_position_embeddings: 8192 }
        );
        assert!(!c.tie_word_embeddings);
        assert_eq!(c.eos_token_ids, vec![128001, 128008, 128009]);
    }

    #[test]
    fn bad_configs_name_the_problem() {
        let cases = [
            (r#"{"hidden_size": 64, "num_attention_heads": 4}"#, "intermediate_size"),
            (r#"{"intermediate_size": 8, "num_hidden_layers": 1, "num_attention_heads": 4, "vocab_size": 10}"#, "hidden_size"),
            (r#"{"hidden_size": 64, "intermediate_size": 8, "num_hidden_layers": 1, "num_attention_heads": 4, "num_key_value_heads": 3, "vocab_size": 10}"#, "multiple"),
            (r#"{"model_type": "mistral"}"#, "model_type"),
            (r#"{"hidden_size": 64, "intermediate_size": 8, "num_hidden_layers": 1, "num_attention_heads": 4, "vocab_size": 10, "rope_scaling": {"rope_type": "yarn", "factor": 4.0}}"#, "yarn"),
            (r#"{"hidden_size": 64, "intermediate_size": 8, "num_hidden_layers": 1, "num_attention_heads": 4, "vocab_size": 10, "rope_scaling": {"rope_type": "llama3", "factor": 8.0}}"#, "low_freq_factor"),
            (r#"{"hidden_size": "big"}"#, "not a valid config.json"),
        ];
        for (json, needle) in cases {
            let e = LlamaConfig::from_json(json).unwrap_err().to_string();
            assert!(e.contains(needle), "{json}: `{e}` should mention {needle}");
        }
    }

    #[test]
    fn transformers5_rope_parameters_are_read() {
        let c = LlamaConfig::from_json(r#"{"hidden_size": 64, "intermediate_size": 96, "num_hidden_layers": 2, "num_attention_heads": 4, "vocab_size": 100,
            "rope_parameters": {"rope_type": "llama3", "rope_theta": 500000.0, "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0, "original_max_position_embeddings": 32}}"#).unwrap();
        assert_eq!(c.rope_theta, 500000.0);
        assert!(matches!(c.rope_scaling, RopeScaling::Llama3 { original_max_position_embeddings: 32, .. }));
        let e = LlamaConfig::from_json(r#"{"hidden_size": 64, "intermediate_size": 96, "num_hidden_layers": 2, "num_attention_heads": 4, "vocab_size": 100,
            "rope_theta": 10000.0, "rope_parameters": {"rope_type": "default", "rope_theta": 500000.0}}"#).unwrap_err();
        assert!(e.to_string().contains("disagree"), "{e}");
    }

    #[test]
    fn defaults_follow_transformers() {
        let c = LlamaConfig::from_json(r#"{"hidden_size": 64, "intermediate_size": 96, "num_hidden_layers": 2, "num_attention_heads": 4, "vocab_size": 100}"#).unwrap();
        assert_eq!((c.num_key_value_heads, c.head_dim, c.rope_scaling.clone()), (4, 16, RopeScaling::Default));
        assert_eq!(c.rms_norm_eps, 1e-6);
    }

    #[test]
    fn missing_file_names_the_path() {
        let e = LlamaConfig::from_file(Path::new("/nonexistent/llama")).unwrap_err().to_string();
        assert!(e.contains("/nonexistent/llama/config.json"), "{e}");
    }
}
