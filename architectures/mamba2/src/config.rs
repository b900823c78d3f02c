//! `Mamba2Config` from an HF `config.json`: a lenient serde struct (unknown keys ignored,
//! optional keys defaulted as transformers' `Mamba2Config` does), validated into the struct the
//! code uses, with errors that name the key and the file.
//!
//! `time_step_limit` comes as plain numbers, as transformers >= 5 writes non-finite floats
//! (`{"__float__": "Infinity"}`), or as Python's bare `Infinity` (older checkpoints such as
//! Mamba-Codestral); `fk_baselines::hf_config` reads all three.
//!
//! `rms_norm` and `norm_before_gate` (written by transformers 4.44 and mamba_ssm) are accepted
//! and ignored, as transformers' `Mamba2Mixer` ignores them: it always gates, then normalises
//! per group (`MambaRMSNormGated`, mamba_ssm's `norm_before_gate=False`).

use fk_baselines::ffi::{SELECTIVE_STATE_UPDATE_MAX_DSTATE, SSD_CHUNK_SCAN_MAX_DSTATE, SSD_CHUNK_SCAN_MAX_HEADDIM};
use fk_baselines::hf_config::{check_model_type, eps, float_value, from_file, parse, positive};
use fk_runtime::{Error, Result};
use serde::Deserialize;

#[derive(Clone, Debug, Deserialize)]
pub struct RawMamba2Config {
    pub model_type: Option<String>,
    pub hidden_size: Option<usize>,
    pub num_hidden_layers: Option<usize>,
    pub vocab_size: Option<usize>,
    pub num_heads: Option<usize>,
    pub head_dim: Option<usize>,
    pub n_groups: Option<usize>,
    pub state_size: Option<usize>,
    pub expand: Option<usize>,
    pub conv_kernel: Option<usize>,
    pub chunk_size: Option<usize>,
    /// `[min, max]` clamp of the softplus'd time step (prefill only, as in transformers).
    pub time_step_limit: Option<serde_json::Value>,
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
pub struct Mamba2Config {
    pub hidden_size: usize,
    pub num_hidden_layers: usize,
    pub vocab_size: usize,
    /// SSM heads; each has a scalar A, D, dt and a `[head_dim, state_size]` state.
    pub num_heads: usize,
    pub head_dim: usize,
    /// Groups sharing B and C (`num_heads / n_groups` heads each); also the gated norm's groups.
    pub n_groups: usize,
    /// N, the SSM state size.
    pub state_size: usize,
    /// `expand · hidden_size` = `num_heads · head_dim`: the mixer's channel count.
    pub intermediate_size: usize,
    pub conv_kernel: usize,
    /// Chunk length of the SSD prefill. The result does not depend on it (only the summation
    /// order), so the GPU kernel may use its own; kept for the reference and for fidelity.
    pub chunk_size: usize,
    /// (min, max) of the time step after softplus; `(0, inf)` is no clamp.
    pub time_step_limit: (f32, f32),
    pub layer_norm_epsilon: f32,
    /// Bias on in_proj and out_proj.
    pub use_bias: bool,
    pub use_conv_bias: bool,
    /// HF keeps the residual stream in f32 between blocks when set (every released checkpoint).
    pub residual_in_fp32: bool,
    pub tie_word_embeddings: bool,
    pub eos_token_ids: Vec<u32>,
}

/// The kernels' limits (`baselines/include/fk/ops/*`): causal_conv1d widths 2..=4; d_state of
/// both the prefill scan (ssd_chunk_scan) and the decode update (selective_state_update);
/// head_dim of ssd_chunk_scan.
const MAX_CONV_KERNEL: usize = 4;
const MAX_STATE_SIZE: usize = min(SELECTIVE_STATE_UPDATE_MAX_DSTATE, SSD_CHUNK_SCAN_MAX_DSTATE);
const MAX_HEAD_DIM: usize = SSD_CHUNK_SCAN_MAX_HEADDIM;

const fn min(a: usize, b: usize) -> usize {
    if a < b {
        a
    } else {
        b
    }
}

impl Mamba2Config {
    /// Read and validate `path` (a config.json or a folder holding one).
    pub fn from_file(path: &std::path::Path) -> Result<Mamba2Config> {
        from_file(path, Self::from_json)
    }

    pub fn from_json(text: &str) -> Result<Mamba2Config> {
        parse::<RawMamba2Config>(text)?.validate()
    }

    /// The real mistralai/Mamba-Codestral-7B-v0.1 config, shipped in `configs/` (transcribed,
    /// the hub cannot be reached from here).
    pub fn mamba_codestral_7b() -> Mamba2Config {
        Self::from_json(include_str!("../configs/Mamba-Codestral-7B-v0.1/config.json")).expect("shipped config is valid")
    }

    /// Channels of the causal conv: x, B and C (`intermediate + 2·n_groups·state_size`).
    pub fn conv_dim(&self) -> usize {
        self.intermediate_size + 2 * self.n_groups * self.state_size
    }

    /// in_proj's output: gate z, the conv input xBC, dt (`intermediate + conv_dim + num_heads`).
    pub fn in_proj_dim(&self) -> usize {
        self.intermediate_size + self.conv_dim() + self.num_heads
    }

    /// Channels per group of the gated RMSNorm.
    pub fn norm_group_size(&self) -> usize {
        self.intermediate_size / self.n_groups
    }
}

fn eos_ids(v: Option<serde_json::Value>) -> Result<Vec<u32>> {
    use serde_json::Value;
    let one = |v: &Value| v.as_u64().map(|x| x as u32).ok_or_else(|| Error::config(format!("`eos_token_id` entry {v} is not a token id")));
    match v {
        // transformers' Mamba2Config default.
        None => Ok(vec![2]),
        Some(Value::Null) => Ok(vec![]),
        Some(Value::Array(a)) => a.iter().map(one).collect(),
        Some(v) => Ok(vec![one(&v)?]),
    }
}

fn time_step_limit(v: Option<serde_json::Value>) -> Result<(f32, f32)> {
    const KEY: &str = "time_step_limit";
    let Some(v) = v else { return Ok((0.0, f32::INFINITY)) };
    let pair = v.as_array().filter(|a| a.len() == 2).ok_or_else(|| Error::config(format!("`{KEY}` must be a [min, max] pair, got {v}")))?;
    let (lo, hi) = (float_value(&pair[0], KEY)?, float_value(&pair[1], KEY)?);
    // NaN fails both comparisons; a negative min would be a no-op after softplus anyway, but
    // a file saying so was not written by transformers.
    if !(lo >= 0.0 && lo.is_finite() && hi > lo) {
        return Err(Error::config(format!("`{KEY}` [{lo}, {hi}] must have 0 <= min < max (max may be Infinity)")));
    }
    Ok((lo as f32, hi as f32))
}

impl RawMamba2Config {
    pub fn validate(self) -> Result<Mamba2Config> {
        check_model_type(self.model_type.as_deref(), &["mamba2"])?;
        // Defaults are transformers' Mamba2Config's (which are Mamba-Codestral's sizes).
        let hidden = positive(self.hidden_size.unwrap_or(4096), "hidden_size")?;
        let layers = positive(self.num_hidden_layers.unwrap_or(64), "num_hidden_layers")?;
        let vocab = positive(self.vocab_size.unwrap_or(32768), "vocab_size")?;
        let heads = positive(self.num_heads.unwrap_or(128), "num_heads")?;
        let head_dim = positive(self.head_dim.unwrap_or(64), "head_dim")?;
        let groups = positive(self.n_groups.unwrap_or(8), "n_groups")?;
        let state = positive(self.state_size.unwrap_or(128), "state_size")?;
        let expand = positive(self.expand.unwrap_or(2), "expand")?;
        if state > MAX_STATE_SIZE {
            return Err(Error::config(format!("`state_size` {state} exceeds {MAX_STATE_SIZE}, the SSM kernels' limit")));
        }
        if head_dim > MAX_HEAD_DIM {
            return Err(Error::config(format!("`head_dim` {head_dim} exceeds {MAX_HEAD_DIM}, the ssd_chunk_scan kernel's limit")));
        }
        let inter = expand * hidden;
        if heads * head_dim != inter {
            return Err(Error::config(format!("`num_heads` {heads} × `head_dim` {head_dim} != `expand` {expand} × `hidden_size` {hidden}")));
        }
        if heads % groups != 0 {
            return Err(Error::config(format!("`num_heads` {heads} is not a multiple of `n_groups` {groups}")));
        }
        let conv = self.conv_kernel.unwrap_or(4);
        if !(2..=MAX_CONV_KERNEL).contains(&conv) {
            return Err(Error::config(format!("`conv_kernel` {conv} must be in 2..={MAX_CONV_KERNEL} (the causal_conv1d kernels' range)")));
        }
        let act = self.hidden_act.as_deref().unwrap_or("silu");
        if act != "silu" && act != "swish" {
            return Err(Error::config(format!("`hidden_act` `{act}` is not supported (the conv and gate kernels apply SiLU)")));
        }
        Ok(Mamba2Config {
            hidden_size: hidden,
            num_hidden_layers: layers,
            vocab_size: vocab,
            num_heads: heads,
            head_dim,
            n_groups: groups,
            state_size: state,
            intermediate_size: inter,
            conv_kernel: conv,
            chunk_size: positive(self.chunk_size.unwrap_or(256), "chunk_size")?,
            time_step_limit: time_step_limit(self.time_step_limit)?,
            layer_norm_epsilon: eps(self.layer_norm_epsilon.unwrap_or(1e-5), "layer_norm_epsilon")?,
            use_bias: self.use_bias.unwrap_or(false),
            use_conv_bias: self.use_conv_bias.unwrap_or(true),
            residual_in_fp32: self.residual_in_fp32.unwrap_or(true),
            tie_word_embeddings: self.tie_word_embeddings.unwrap_or(false),
            eos_token_ids: eos_ids(self.eos_token_id)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_codestral_config() {
        let c = Mamba2Config::mamba_codestral_7b();
        assert_eq!((c.hidden_size, c.num_hidden_layers, c.vocab_size, c.intermediate_size), (4096, 64, 32768, 8192));
        assert_eq!((c.num_heads, c.head_dim, c.n_groups, c.state_size, c.conv_kernel, c.chunk_size), (128, 64, 8, 128, 4, 256));
        assert_eq!((c.use_bias, c.use_conv_bias, c.residual_in_fp32, c.tie_word_embeddings), (false, true, true, false));
        assert_eq!((c.layer_norm_epsilon, c.time_step_limit), (1e-5, (0.0, f32::INFINITY)));
        assert_eq!((c.conv_dim(), c.in_proj_dim(), c.norm_group_size()), (8192 + 2048, 8192 + 10240 + 128, 1024));
    }

    #[test]
    fn time_step_limit_forms() {
        for (limit, want) in [
            (r#"[0.0, {"__float__": "Infinity"}]"#, (0.0, f32::INFINITY)),
            ("[0.0, Infinity]", (0.0, f32::INFINITY)),
            ("[0.001, 0.1]", (0.001, 0.1)),
            ("[0, 1]", (0.0, 1.0)),
        ] {
            let c = Mamba2Config::from_json(&with("time_step_limit", limit)).unwrap();
            assert_eq!(c.time_step_limit, want, "{limit}");
        }
        let c = Mamba2Config::from_json(&with("chunk_size", "256")).unwrap();
        assert_eq!((c.time_step_limit, c.eos_token_ids.clone(), c.chunk_size, c.tie_word_embeddings), ((0.0, f32::INFINITY), vec![2], 256, false));
    }

    /// A small valid config with `key` set to the JSON text `value` (Python literals allowed).
    fn with(key: &str, value: &str) -> String {
        let mut base = serde_json::json!({"hidden_size": 32, "num_heads": 4, "head_dim": 16, "n_groups": 2, "state_size": 8, "num_hidden_layers": 1});
        base.as_object_mut().unwrap().remove(key);
        let text = base.to_string();
        format!("{}, \"{key}\": {value}}}", &text[..text.len() - 1])
    }

    #[test]
    fn bad_configs_name_the_problem() {
        let cases = [
            (with("conv_kernel", "5"), "conv_kernel"),
            (with("conv_kernel", "1"), "conv_kernel"),
            (with("head_dim", "8"), "head_dim"),
            (with("n_groups", "3"), "n_groups"),
            (with("n_groups", "0"), "n_groups"),
            (with("state_size", "257"), "exceeds 256"),
            (with("head_dim", "512"), "head_dim"),
            (with("chunk_size", "0"), "chunk_size"),
            (with("time_step_limit", "[0.1]"), "time_step_limit"),
            (with("time_step_limit", "[0.2, 0.1]"), "time_step_limit"),
            (with("time_step_limit", "[-1, 1]"), "time_step_limit"),
            (with("time_step_limit", "[0, \"big\"]"), "time_step_limit"),
            (with("time_step_limit", "[NaN, 1]"), "time_step_limit"),
            (with("hidden_act", "\"gelu\""), "hidden_act"),
            (with("layer_norm_epsilon", "0"), "layer_norm_epsilon"),
            (with("eos_token_id", "\"x\""), "eos_token_id"),
            (with("model_type", "\"mamba\""), "expected mamba2"),
            ("{\"hidden_size\": 8,}".to_string(), "not a valid config.json"),
        ];
        for (json, needle) in cases {
            let e = Mamba2Config::from_json(&json).unwrap_err().to_string();
            assert!(e.contains(needle), "{json}: `{e}` should mention {needle}");
        }
        assert!(Mamba2Config::from_json(&with("eos_token_id", "[0, 2]")).unwrap().eos_token_ids == [0, 2]);
    }
}
