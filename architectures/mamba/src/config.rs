//! `MambaConfig` from an HF `config.json`: a lenient serde struct (unknown keys ignored,
//! optional keys defaulted as transformers' `MambaConfig` does), validated into the struct the
//! code uses, with errors that name the key and the file.
//!
//! Hub checkpoints converted from state-spaces carry both spellings of some keys
//! (`d_model`/`hidden_size`, `n_layer`/`num_hidden_layers`), so both are read and must agree.

use fk_baselines::hf_config::{check_model_type, eps, from_file, parse, positive};
use fk_runtime::{Error, Result};
use serde::Deserialize;

#[derive(Clone, Debug, Deserialize)]
pub struct RawMambaConfig {
    pub model_type: Option<String>,
    pub hidden_size: Option<usize>,
    pub d_model: Option<usize>,
    pub num_hidden_layers: Option<usize>,
    pub n_layer: Option<usize>,
    pub vocab_size: Option<usize>,
    pub state_size: Option<usize>,
    pub expand: Option<usize>,
    pub intermediate_size: Option<usize>,
    pub conv_kernel: Option<usize>,
    /// `"auto"` (ceil(hidden / 16)) or a number.
    pub time_step_rank: Option<serde_json::Value>,
    pub layer_norm_epsilon: Option<f64>,
    pub use_bias: Option<bool>,
    pub use_conv_bias: Option<bool>,
    pub hidden_act: Option<String>,
    pub residual_in_fp32: Option<bool>,
    pub tie_word_embeddings: Option<bool>,
    /// An id or a list of ids.
    pub eos_token_id: Option<serde_json::Value>,
}

/// The validated config (transformers' names).
#[derive(Clone, Debug, PartialEq)]
pub struct MambaConfig {
    pub hidden_size: usize,
    pub num_hidden_layers: usize,
    pub vocab_size: usize,
    /// N, the SSM state size per channel.
    pub state_size: usize,
    /// `expand · hidden_size`: the mixer's channel count.
    pub intermediate_size: usize,
    pub conv_kernel: usize,
    pub time_step_rank: usize,
    pub layer_norm_epsilon: f32,
    /// Bias on in_proj and out_proj.
    pub use_bias: bool,
    pub use_conv_bias: bool,
    /// HF keeps the residual stream in f32 between blocks when set (every released checkpoint).
    pub residual_in_fp32: bool,
    pub tie_word_embeddings: bool,
    pub eos_token_ids: Vec<u32>,
}

/// The SSM kernels' limits (`baselines/include/fk/ops/*`): conv width 2..=4; d_state <= 64
/// (`FK_SELECTIVE_SCAN_MAX_DSTATE`; the decode update takes up to 256).
const MAX_CONV_KERNEL: usize = 4;
const MAX_STATE_SIZE: usize = 64;

impl MambaConfig {
    /// Read and validate `path` (a config.json or a folder holding one).
    pub fn from_file(path: &std::path::Path) -> Result<MambaConfig> {
        from_file(path, Self::from_json)
    }

    pub fn from_json(text: &str) -> Result<MambaConfig> {
        parse::<RawMambaConfig>(text)?.validate()
    }

    /// The real state-spaces/mamba-2.8b-hf config, shipped in `configs/` (transcribed, the hub
    /// cannot be reached from here).
    pub fn mamba_2_8b() -> MambaConfig {
        Self::from_json(include_str!("../configs/mamba-2.8b-hf/config.json"))
            .expect("shipped config is valid")
    }

    /// x_proj's output: `time_step_rank + 2·state_size` (dt, B, C).
    pub fn x_proj_dim(&self) -> usize {
        self.time_step_rank + 2 * self.state_size
    }
}

/// Either spelling of a key; both present must agree.
fn either(a: Option<usize>, a_key: &str, b: Option<usize>, b_key: &str) -> Result<usize> {
    match (a, b) {
        (Some(x), Some(y)) if x != y => Err(Error::config(format!(
            "`{a_key}` = {x} disagrees with `{b_key}` = {y}"
        ))),
        (Some(x), _) | (None, Some(x)) => positive(x, a_key),
        (None, None) => Err(Error::config(format!(
            "missing required key `{a_key}` (or `{b_key}`)"
        ))),
    }
}

fn eos_ids(v: Option<serde_json::Value>) -> Result<Vec<u32>> {
    use serde_json::Value;
    let one = |v: &Value| {
        v.as_u64()
            .map(|x| x as u32)
            .ok_or_else(|| Error::config(format!("`eos_token_id` entry {v} is not a token id")))
    };
    match v {
        // transformers' MambaConfig default.
        None => Ok(vec![0]),
        Some(Value::Null) => Ok(vec![]),
        Some(Value::Array(a)) => a.iter().map(one).collect(),
        Some(v) => Ok(vec![one(&v)?]),
    }
}

impl RawMambaConfig {
    pub fn validate(self) -> Result<MambaConfig> {
        check_model_type(self.model_type.as_deref(), &["mamba"])?;
        let hidden = either(self.hidden_size, "hidden_size", self.d_model, "d_model")?;
        let layers = either(
            self.num_hidden_layers,
            "num_hidden_layers",
            self.n_layer,
            "n_layer",
        )?;
        // Defaults are transformers' MambaConfig's.
        let vocab = positive(self.vocab_size.unwrap_or(50280), "vocab_size")?;
        let state = positive(self.state_size.unwrap_or(16), "state_size")?;
        if state > MAX_STATE_SIZE {
            return Err(Error::config(format!(
                "`state_size` {state} exceeds {MAX_STATE_SIZE}, the selective_scan kernel's limit"
            )));
        }
        let expand = positive(self.expand.unwrap_or(2), "expand")?;
        // transformers recomputes intermediate_size from expand and ignores the saved one; a
        // file where they disagree was edited by hand, so say so rather than pick one.
        let inter = expand * hidden;
        if let Some(i) = self.intermediate_size.filter(|&i| i != inter) {
            return Err(Error::config(format!(
                "`intermediate_size` {i} != expand {expand} × hidden_size {hidden}"
            )));
        }
        let conv = self.conv_kernel.unwrap_or(4);
        if !(2..=MAX_CONV_KERNEL).contains(&conv) {
            return Err(Error::config(format!("`conv_kernel` {conv} must be in 2..={MAX_CONV_KERNEL} (the causal_conv1d kernels' range)")));
        }
        let rank = match self.time_step_rank {
            None => hidden.div_ceil(16),
            Some(serde_json::Value::String(s)) if s == "auto" => hidden.div_ceil(16),
            Some(v) => positive(
                v.as_u64().ok_or_else(|| {
                    Error::config(format!(
                        "`time_step_rank` must be \"auto\" or a positive integer, got {v}"
                    ))
                })? as usize,
                "time_step_rank",
            )?,
        };
        let act = self.hidden_act.as_deref().unwrap_or("silu");
        if act != "silu" && act != "swish" {
            return Err(Error::config(format!(
                "`hidden_act` `{act}` is not supported (the conv and gate kernels apply SiLU)"
            )));
        }
        Ok(MambaConfig {
            hidden_size: hidden,
            num_hidden_layers: layers,
            vocab_size: vocab,
            state_size: state,
            intermediate_size: inter,
            conv_kernel: conv,
            time_step_rank: rank,
            layer_norm_epsilon: eps(
                self.layer_norm_epsilon.unwrap_or(1e-5),
                "layer_norm_epsilon",
            )?,
            use_bias: self.use_bias.unwrap_or(false),
            use_conv_bias: self.use_conv_bias.unwrap_or(true),
            residual_in_fp32: self.residual_in_fp32.unwrap_or(true),
            tie_word_embeddings: self.tie_word_embeddings.unwrap_or(true),
            eos_token_ids: eos_ids(self.eos_token_id)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_mamba_2_8b_config() {
        let c = MambaConfig::mamba_2_8b();
        assert_eq!(
            (c.hidden_size, c.num_hidden_layers, c.vocab_size),
            (2560, 64, 50280)
        );
        assert_eq!(
            (
                c.state_size,
                c.intermediate_size,
                c.conv_kernel,
                c.time_step_rank
            ),
            (16, 5120, 4, 160)
        );
        assert_eq!(
            (
                c.use_bias,
                c.use_conv_bias,
                c.residual_in_fp32,
                c.tie_word_embeddings
            ),
            (false, true, true, true)
        );
        assert_eq!(
            (
                c.layer_norm_epsilon,
                c.eos_token_ids.clone(),
                c.x_proj_dim()
            ),
            (1e-5, vec![0], 192)
        );
    }

    #[test]
    fn bad_configs_name_the_problem() {
        let ok = r#""hidden_size": 64, "num_hidden_layers": 2, "vocab_size": 100"#;
        let cases = [
            (format!("{{{ok}, \"conv_kernel\": 5}}"), "conv_kernel"),
            (format!("{{{ok}, \"state_size\": 0}}"), "state_size"),
            (format!("{{{ok}, \"state_size\": 65}}"), "exceeds 64"),
            (
                format!("{{{ok}, \"time_step_rank\": \"big\"}}"),
                "time_step_rank",
            ),
            (
                format!("{{{ok}, \"intermediate_size\": 100}}"),
                "intermediate_size",
            ),
            (format!("{{{ok}, \"n_layer\": 3}}"), "disagrees"),
            (format!("{{{ok}, \"hidden_act\": \"gelu\"}}"), "hidden_act"),
            (
                r#"{"model_type": "llama", "hidden_size": 8, "num_hidden_layers": 1}"#.to_string(),
                "expected mamba",
            ),
            (r#"{"num_hidden_layers": 1}"#.to_string(), "hidden_size"),
        ];
        for (json, needle) in cases {
            let e = MambaConfig::from_json(&json).unwrap_err().to_string();
            assert!(e.contains(needle), "{json}: `{e}` should mention {needle}");
        }
        let d = MambaConfig::from_json(&format!("{{{ok}}}")).unwrap();
        assert_eq!(
            (
                d.intermediate_size,
                d.time_step_rank,
                d.state_size,
                d.conv_kernel
            ),
            (128, 4, 16, 4)
        );
        let d = MambaConfig::from_json(r#"{"d_model": 40, "n_layer": 1, "eos_token_id": [1, 2]}"#)
            .unwrap();
        assert_eq!(
            (d.hidden_size, d.time_step_rank, d.eos_token_ids.clone()),
            (40, 3, vec![1, 2])
        );
    }
}
