//! `MixtralConfig` from an HF `config.json`: a lenient serde struct (unknown keys ignored,
//! optional keys defaulted as transformers' `MixtralConfig` does), then validation into the
//! struct the code uses, with errors that name the key and the file. The rotary, EOS and
//! attention-geometry rules are the family's ([`fk_llm::config`]).

use fk_llm::config::{positive, read_config, CoreDefaults, DecoderCore, RawDecoderConfig};
use fk_runtime::{Error, Result};
use serde::Deserialize;

#[derive(Clone, Debug, Deserialize)]
pub struct RawMixtralConfig {
    #[serde(flatten)]
    pub core: RawDecoderConfig,
    pub sliding_window: Option<usize>,
    pub num_local_experts: Option<usize>,
    pub num_experts_per_tok: Option<usize>,
}

/// The validated config: the decoder's common keys ([`DecoderCore`], reached through
/// `Deref`: `cfg.hidden_size`, …; `intermediate_size` is each expert's) and Mixtral's own.
#[derive(Clone, Debug, PartialEq)]
pub struct MixtralConfig {
    pub core: DecoderCore,
    /// Keys attend to at most this many previous positions (None: full causal attention,
    /// as Mixtral-8x7B-v0.1 ships).
    pub sliding_window: Option<usize>,
    pub num_local_experts: usize,
    pub num_experts_per_tok: usize,
}

impl std::ops::Deref for MixtralConfig {
    type Target = DecoderCore;
    fn deref(&self) -> &DecoderCore {
        &self.core
    }
}

impl std::ops::DerefMut for MixtralConfig {
    fn deref_mut(&mut self) -> &mut DecoderCore {
        &mut self.core
    }
}

/// transformers' `MixtralConfig` defaults for what a file may omit.
const DEFAULTS: CoreDefaults = CoreDefaults { model_type: "mixtral", name: "Mixtral", max_position_embeddings: 4096 * 32, rms_norm_eps: 1e-5, rope_theta: 1e6 };

impl MixtralConfig {
    /// Read and validate `path` (a config.json or a folder holding one).
    pub fn from_file(path: &std::path::Path) -> Result<MixtralConfig> {
        read_config(path, Self::from_json)
    }

    pub fn from_json(text: &str) -> Result<MixtralConfig> {
        fk_baselines::hf_config::parse::<RawMixtralConfig>(text)?.validate()
    }

    /// The real mistralai/Mixtral-8x7B-Instruct-v0.1 config, shipped in `configs/`
    /// (transcribed from the hub, which cannot be reached from here).
    pub fn mixtral_8x7b() -> MixtralConfig {
        Self::from_json(include_str!("../configs/Mixtral-8x7B-Instruct-v0.1/config.json")).expect("shipped config is valid")
    }
}

impl RawMixtralConfig {
    pub fn validate(self) -> Result<MixtralConfig> {
        let core = self.core.validate(&DEFAULTS)?;
        // transformers' MixtralConfig defaults: 8 experts, top-2.
        let experts = positive(self.num_local_experts.unwrap_or(8), "num_local_experts")?;
        let top_k = positive(self.num_experts_per_tok.unwrap_or(2), "num_experts_per_tok")?;
        if top_k > experts {
            return Err(Error::config(format!("num_experts_per_tok {top_k} exceeds num_local_experts {experts}")));
        }
        let sliding_window = match self.sliding_window {
            Some(0) => return Err(Error::config("`sliding_window` must be > 0 (or null)")),
            w => w,
        };
        Ok(MixtralConfig { core, sliding_window, num_local_experts: experts, num_experts_per_tok: top_k })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use fk_llm::config::RopeScaling;

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
            (r#"{"model_type": "llama"}"#.to_string(), "expected mixtral"),
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
