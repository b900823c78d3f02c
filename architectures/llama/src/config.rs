//! `LlamaConfig` from an HF `config.json`, in two stages: a lenient serde struct that
//! accepts what real checkpoints contain (unknown keys ignored, optional keys defaulted as
//! transformers does), then validation into the struct the code uses, with errors that name
//! the key and the file.

use fk_llm::config::{read_config, CoreDefaults, DecoderCore, RawDecoderConfig};
pub use fk_llm::config::{RawRopeScaling, RopeScaling};
use fk_runtime::Result;
use serde::Deserialize;
#[cfg(test)]
use std::path::Path;

#[derive(Clone, Debug, Deserialize)]
pub struct RawLlamaConfig {
    #[serde(flatten)]
    pub core: RawDecoderConfig,
    pub attention_bias: Option<bool>,
    pub mlp_bias: Option<bool>,
}

/// The validated config: the decoder's common keys ([`DecoderCore`], reached through
/// `Deref`: `cfg.hidden_size`, …) and Llama's own.
#[derive(Clone, Debug, PartialEq)]
pub struct LlamaConfig {
    pub core: DecoderCore,
    pub attention_bias: bool,
    pub mlp_bias: bool,
}

impl std::ops::Deref for LlamaConfig {
    type Target = DecoderCore;
    fn deref(&self) -> &DecoderCore {
        &self.core
    }
}

impl std::ops::DerefMut for LlamaConfig {
    fn deref_mut(&mut self) -> &mut DecoderCore {
        &mut self.core
    }
}

/// transformers' `LlamaConfig` defaults for what a file may omit.
const DEFAULTS: CoreDefaults = CoreDefaults { model_type: "llama", name: "Llama", max_position_embeddings: 2048, rms_norm_eps: 1e-6, rope_theta: 10000.0 };

impl LlamaConfig {
    /// Read and validate `path` (a config.json or a folder holding one).
    pub fn from_file(path: &std::path::Path) -> Result<LlamaConfig> {
        read_config(path, Self::from_json)
    }

    pub fn from_json(text: &str) -> Result<LlamaConfig> {
        fk_baselines::hf_config::parse::<RawLlamaConfig>(text)?.validate()
    }

    /// The real meta-llama/Llama-3.1-8B-Instruct config, shipped in `configs/`.
    pub fn llama_3_1_8b() -> LlamaConfig {
        Self::from_json(include_str!("../configs/Llama-3.1-8B-Instruct/config.json")).expect("shipped config is valid")
    }
}

impl RawLlamaConfig {
    pub fn validate(self) -> Result<LlamaConfig> {
        Ok(LlamaConfig { core: self.core.validate(&DEFAULTS)?, attention_bias: self.attention_bias.unwrap_or(false), mlp_bias: self.mlp_bias.unwrap_or(false) })
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
