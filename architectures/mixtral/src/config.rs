//! `MixtralConfig` from an HF `config.json`: a lenient serde struct (unknown keys ignored,
//! optional keys defaulted as transformers' `MixtralConfig` does), then validation into the
//! struct the code uses, with errors that name the key and the file. The rotary, EOS and
//! attention-geometry rules are the family's ([`fk_llm::config`]).

use fk_llm::config::{attention_dims, need, parse_eos, parse_rope, positive, read_config, rms_eps, RawRopeScaling, RopeScaling};
use fk_runtime::{Error, Result};
use serde::Deserialize;

#[derive(Clone, Debug, Deserialize)]
pub struct RawMixtralConfig {
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
    pub sliding_window: Option<usize>,
    pub num_local_experts: Option<usize>,
    pub num_experts_per_tok: Option<usize>,
    pub hidden_act: Option<String>,
    pub tie_word_embeddings: Option<bool>,
    pub eos_token_id: Option<serde_json::Value>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct MixtralConfig {
    pub hidden_size: usize,
    /// Of each expert's gated MLP.
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
    /// Keys attend to at most this many previous positions (None: full causal attention,
    /// as Mixtral-8x7B-v0.1 ships).
    pub sliding_window: Option<usize>,
    pub num_local_experts: usize,
    pub num_experts_per_tok: usize,
    pub tie_word_embeddings: bool,
    pub eos_token_ids: Vec<u32>,
}

impl MixtralConfig {
    /// Read and validate `path` (a config.json or a folder holding one).
    pub fn from_file(path: &std::path::Path) -> Result<MixtralConfig> {
        read_config(path, Self::from_json)
    }

    pub fn from_json(text: &str) -> Result<MixtralConfig> {
        let raw: RawMixtralConfig = serde_json::from_str(text).map_err(|e| Error::config(format!("not a valid config.json: {e}")))?;
        raw.validate()
    }

    /// The real mistralai/Mixtral-8x7B-Instruct-v0.1 config, shipped in `configs/`
    /// (transcribed from the hub, which cannot be reached from here).
    pub fn mixtral_8x7b() -> MixtralConfig {
        Self::from_json(include_str!("../configs/Mixtral-8x7B-Instruct-v0.1/config.json")).expect("shipped config is valid")
    }
}

impl RawMixtralConfig {
    pub fn validate(self) -> Result<MixtralConfig> {
        if let Some(mt) = &self.model_type {
            if mt != "mixtral" {
                return Err(Error::config(format!("model_type is `{mt}`, expected `mixtral`")));
            }
        }
        let hidden = positive(need(self.hidden_size, "hidden_size")?, "hidden_size")?;
        let heads = positive(need(self.num_attention_heads, "num_attention_heads")?, "num_attention_heads")?;
        let (kv_heads, head_dim) = attention_dims(hidden, heads, self.num_key_value_heads, self.head_dim)?;
        if let Some(act) = &self.hidden_act {
            if act != "silu" {
                return Err(Error::config(format!("hidden_act `{act}` is not supported for Mixtral (expected `silu`)")));
            }
        }
        // transformers' MixtralConfig defaults: 8 experts, top-2, rope_theta 1e6, eps 1e-5.
        let experts = positive(self.num_local_experts.unwrap_or(8), "num_local_experts")?;
        let top_k = positive(self.num_experts_per_tok.unwrap_or(2), "num_experts_per_tok")?;
        if top_k > experts {
            return Err(Error::config(format!("num_experts_per_tok {top_k} exceeds num_local_experts {experts}")));
        }
        let (rope_theta, rope_scaling) = parse_rope(self.rope_theta, self.rope_scaling, self.rope_parameters, 1e6)?;
        Ok(MixtralConfig {
            hidden_size: hidden,
            intermediate_size: positive(need(self.intermediate_size, "intermediate_size")?, "intermediate_size")?,
            num_hidden_layers: positive(need(self.num_hidden_layers, "num_hidden_layers")?, "num_hidden_layers")?,
            num_attention_heads: heads,
            num_key_value_heads: kv_heads,
            head_dim,
            vocab_size: positive(need(self.vocab_size, "vocab_size")?, "vocab_size")?,
            max_position_embeddings: self.max_position_embeddings.unwrap_or(4096 * 32),
            rms_norm_eps: rms_eps(self.rms_norm_eps, 1e-5)?,
            rope_theta,
            rope_scaling,
            sliding_window: match self.sliding_window {
                Some(0) => return Err(Error::config("`sliding_window` must be > 0 (or null)")),
                w => w,
            },
            num_local_experts: experts,
            num_experts_per_tok: top_k,
            tie_word_embeddings: self.tie_word_embeddings.unwrap_or(false),
            eos_token_ids: parse_eos(&self.eos_token_id)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_mixtral_8x7b_config() {
        let c = MixtralConfig::mixtral_8x7b();
        assert_eq!((c.hidden_size, c.intermediate_size, c.num_hidden_layers), (4096, 14336, 32));
        assert_eq!((c.num_attention_heads, c.num_key_value_heads, c.head_dim, c.vocab_size), (32, 8, 128, 32000));
        assert_eq!((c.num_local_experts, c.num_experts_per_tok), (8, 2));
        assert_eq!((c.rope_theta, c.rope_scaling.clone(), c.sliding_window), (1e6, RopeScaling::Default, None));
        assert_eq!(c.max_position_embeddings, 32768);
        assert_eq!(c.eos_token_ids, vec![2]);
    }

    #[test]
    fn bad_configs_name_the_problem() {
        let ok = r#""hidden_size": 64, "intermediate_size": 96, "num_hidden_layers": 2, "num_attention_heads": 4, "vocab_size": 100"#;
        let cases = [
            (format!("{{{ok}, \"num_experts_per_tok\": 9}}"), "exceeds num_local_experts"),
            (format!("{{{ok}, \"num_local_experts\": 0}}"), "num_local_experts"),
            (format!("{{{ok}, \"sliding_window\": 0}}"), "sliding_window"),
            (format!("{{{ok}, \"hidden_act\": \"gelu\"}}"), "hidden_act"),
            (r#"{"model_type": "llama"}"#.to_string(), "expected `mixtral`"),
            (r#"{"hidden_size": 64, "num_attention_heads": 4}"#.to_string(), "intermediate_size"),
        ];
        for (json, needle) in cases {
            let e = MixtralConfig::from_json(&json).unwrap_err().to_string();
            assert!(e.contains(needle), "{json}: `{e}` should mention {needle}");
        }
        let d = MixtralConfig::from_json(&format!("{{{ok}}}")).unwrap();
        assert_eq!((d.num_local_experts, d.num_experts_per_tok, d.rope_theta, d.num_key_value_heads), (8, 2, 1e6, 4));
    }
}
