//! Config pieces every decoder-only LLM of the family parses the same way from an HF
//! `config.json`: rotary parameters (`rope_theta` + `rope_scaling`, or transformers ≥ 5's
//! `rope_parameters`), EOS ids, and the required-key helpers whose errors name the key.
//! [`RawDecoderConfig`] holds the keys every Llama-shaped decoder has and
//! [`RawDecoderConfig::validate`] turns them into a [`DecoderCore`]; architecture configs
//! (`LlamaConfig`, `MixtralConfig`, …) flatten it into their raw struct and add their own keys.

use fk_runtime::{Error, Result};
use serde::Deserialize;

/// `rope_scaling` as HF checkpoints write it, or transformers ≥ 5's `rope_parameters`
/// (the same keys plus `rope_theta`). Only `default` and `llama3` are accepted.
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

#[derive(Clone, Debug, PartialEq)]
pub enum RopeScaling {
    Default,
    Llama3 { factor: f64, low_freq_factor: f64, high_freq_factor: f64, original_max_position_embeddings: usize },
}

pub use fk_baselines::hf_config::{from_file as read_config, need, positive};

/// Resolve rotary settings from the raw keys: `(rope_theta, scaling)`.
pub fn parse_rope(rope_theta: Option<f64>, rope_scaling: Option<RawRopeScaling>, rope_parameters: Option<RawRopeScaling>, default_theta: f64) -> Result<(f64, RopeScaling)> {
        // transformers ≥ 5 folds rope_theta and the scaling into `rope_parameters`; older
        // files (every hub Llama) have `rope_theta` and `rope_scaling`. Accept both, not both
        // disagreeing.
        let rope = match (rope_scaling, rope_parameters) {
            (Some(a), Some(b)) if a.rope_type != b.rope_type => {
                return Err(Error::config("`rope_scaling` and `rope_parameters` disagree on rope_type"))
            }
            (a, b) => b.or(a),
        };
        let theta = match (rope_theta, rope.as_ref().and_then(|r| r.rope_theta)) {
            (Some(a), Some(b)) if a != b => {
                return Err(Error::config(format!("rope_theta {a} and rope_parameters.rope_theta {b} disagree")))
            }
            (a, b) => a.or(b).unwrap_or(default_theta),
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
    Ok((theta, rope_scaling))
}

/// `eos_token_id`: absent, one id, or a list (Llama 3.1 Instruct stops on several).
pub fn parse_eos(eos_token_id: &Option<serde_json::Value>) -> Result<Vec<u32>> {
    let eos_token_ids = match eos_token_id {
        None | Some(serde_json::Value::Null) => vec![],
        Some(serde_json::Value::Number(n)) => vec![n.as_u64().ok_or_else(|| Error::config(format!("eos_token_id {n} is not a token id")))? as u32],
        Some(serde_json::Value::Array(a)) => a
            .iter()
            .map(|v| v.as_u64().map(|x| x as u32).ok_or_else(|| Error::config(format!("eos_token_id entry {v} is not a token id"))))
            .collect::<Result<_>>()?,
        Some(other) => return Err(Error::config(format!("eos_token_id {other} must be an id or a list of ids"))),
    };
    Ok(eos_token_ids)
}

/// `num_key_value_heads` (default: MHA) and `head_dim` (default: hidden / heads), checked.
pub fn attention_dims(hidden: usize, heads: usize, kv_heads: Option<usize>, head_dim: Option<usize>) -> Result<(usize, usize)> {
    // transformers: num_key_value_heads defaults to num_attention_heads (MHA) and
    // head_dim to hidden_size / num_attention_heads.
    let kv_heads = positive(kv_heads.unwrap_or(heads), "num_key_value_heads")?;
    if heads % kv_heads != 0 {
        return Err(Error::config(format!("num_attention_heads {heads} is not a multiple of num_key_value_heads {kv_heads}")));
    }
    let head_dim = match head_dim {
        Some(d) => positive(d, "head_dim")?,
        None if hidden % heads == 0 => hidden / heads,
        None => return Err(Error::config(format!("hidden_size {hidden} is not divisible by num_attention_heads {heads} and head_dim is not set"))),
    };
    if head_dim % 2 != 0 {
        return Err(Error::config(format!("head_dim {head_dim} must be even for rotary embeddings")));
    }
    Ok((kv_heads, head_dim))
}

/// `rms_norm_eps` (default `default`), checked positive.
pub fn rms_eps(v: Option<f64>, default: f64) -> Result<f32> {
    let eps = v.unwrap_or(default);
    if !(eps.is_finite() && eps > 0.0) {
        return Err(Error::config(format!("rms_norm_eps {eps} must be > 0")));
    }
    Ok(eps as f32)
}

/// The keys every Llama-shaped decoder's `config.json` has (unknown keys are ignored).
#[derive(Clone, Debug, Deserialize)]
pub struct RawDecoderConfig {
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
    pub tie_word_embeddings: Option<bool>,
    /// One id or a list (Llama 3.1 Instruct stops on several).
    pub eos_token_id: Option<serde_json::Value>,
}

/// What an architecture's transformers config class defaults that the file may omit.
pub struct CoreDefaults {
    pub model_type: &'static str,
    /// For errors: `Llama`, `Mixtral`.
    pub name: &'static str,
    pub max_position_embeddings: usize,
    pub rms_norm_eps: f64,
    pub rope_theta: f64,
}

/// The validated common part of a decoder config.
#[derive(Clone, Debug, PartialEq)]
pub struct DecoderCore {
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
    pub tie_word_embeddings: bool,
    pub eos_token_ids: Vec<u32>,
}

impl DecoderCore {
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

impl RawDecoderConfig {
    pub fn validate(self, d: &CoreDefaults) -> Result<DecoderCore> {
        fk_baselines::hf_config::check_model_type(self.model_type.as_deref(), &[d.model_type])?;
        let hidden = positive(need(self.hidden_size, "hidden_size")?, "hidden_size")?;
        let heads = positive(need(self.num_attention_heads, "num_attention_heads")?, "num_attention_heads")?;
        let (kv_heads, head_dim) = attention_dims(hidden, heads, self.num_key_value_heads, self.head_dim)?;
        if let Some(act) = &self.hidden_act {
            if act != "silu" {
                return Err(Error::config(format!("hidden_act `{act}` is not supported for {} (expected `silu`)", d.name)));
            }
        }
        let (rope_theta, rope_scaling) = parse_rope(self.rope_theta, self.rope_scaling, self.rope_parameters, d.rope_theta)?;
        Ok(DecoderCore {
            hidden_size: hidden,
            intermediate_size: positive(need(self.intermediate_size, "intermediate_size")?, "intermediate_size")?,
            num_hidden_layers: positive(need(self.num_hidden_layers, "num_hidden_layers")?, "num_hidden_layers")?,
            num_attention_heads: heads,
            num_key_value_heads: kv_heads,
            head_dim,
            vocab_size: positive(need(self.vocab_size, "vocab_size")?, "vocab_size")?,
            max_position_embeddings: self.max_position_embeddings.unwrap_or(d.max_position_embeddings),
            rms_norm_eps: rms_eps(self.rms_norm_eps, d.rms_norm_eps)?,
            rope_theta,
            rope_scaling,
            tie_word_embeddings: self.tie_word_embeddings.unwrap_or(false),
            eos_token_ids: parse_eos(&self.eos_token_id)?,
        })
    }
}

impl DecoderCore {
    /// The geometry the CPU reference needs.
    pub fn dims(&self) -> crate::reference::DecoderDims {
        crate::reference::DecoderDims {
            hidden: self.hidden_size,
            heads: self.num_attention_heads,
            kv_heads: self.num_key_value_heads,
            head_dim: self.head_dim,
            vocab: self.vocab_size,
            max_position_embeddings: self.max_position_embeddings,
            rms_norm_eps: self.rms_norm_eps,
            rope_theta: self.rope_theta,
            rope_scaling: self.rope_scaling.clone(),
            tie_word_embeddings: self.tie_word_embeddings,
        }
    }
}
