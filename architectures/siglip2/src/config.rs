//! `Siglip2VisionConfig` from an HF `config.json`: either a full `siglip2` config (the
//! vision tower's keys under `vision_config`, as every hub checkpoint has) or a
//! `siglip2_vision_model` one. Lenient raw struct, then validation; defaults as transformers.

use fk_baselines::hf_config::{check_model_type, eps, from_file, head_dim, need, parse, positive};
use fk_baselines::reference::modules::Activation;
use fk_runtime::{Error, Result};
use serde::Deserialize;
use std::path::Path;

#[derive(Clone, Debug, Default, Deserialize)]
pub struct RawSiglip2VisionConfig {
    pub model_type: Option<String>,
    pub hidden_size: Option<usize>,
    pub intermediate_size: Option<usize>,
    pub num_hidden_layers: Option<usize>,
    pub num_attention_heads: Option<usize>,
    pub num_channels: Option<usize>,
    pub num_patches: Option<usize>,
    pub patch_size: Option<usize>,
    pub hidden_act: Option<String>,
    pub layer_norm_eps: Option<f64>,
    pub vision_use_head: Option<bool>,
    /// Present in a full `siglip2` config.
    pub vision_config: Option<Box<RawSiglip2VisionConfig>>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Siglip2VisionConfig {
    pub hidden_size: usize,
    pub intermediate_size: usize,
    pub num_hidden_layers: usize,
    pub num_attention_heads: usize,
    pub head_dim: usize,
    pub num_channels: usize,
    /// Size of the learned position table (a square grid).
    pub num_patches: usize,
    /// `sqrt(num_patches)`: the position grid's side.
    pub position_embedding_size: usize,
    pub patch_size: usize,
    pub hidden_act: Activation,
    pub layer_norm_eps: f32,
    pub vision_use_head: bool,
}

impl Siglip2VisionConfig {
    pub fn from_file(path: &Path) -> Result<Siglip2VisionConfig> {
        from_file(path, Self::from_json)
    }

    pub fn from_json(text: &str) -> Result<Siglip2VisionConfig> {
        parse::<RawSiglip2VisionConfig>(text)?.validate()
    }

    /// `C·p·p`: the length of one flattened patch.
    pub fn patch_dim(&self) -> usize {
        self.num_channels * self.patch_size * self.patch_size
    }
}

/// google/siglip2-so400m-patch16-naflex's vision tower (transcribed; see configs/README.md).
pub fn siglip2_so400m_naflex() -> Siglip2VisionConfig {
    Siglip2VisionConfig::from_json(include_str!("../configs/siglip2-so400m-patch16-naflex/config.json")).expect("shipped config is valid")
}

impl RawSiglip2VisionConfig {
    pub fn validate(self) -> Result<Siglip2VisionConfig> {
        check_model_type(self.model_type.as_deref(), &["siglip2", "siglip2_vision_model"])?;
        let v = match (self.model_type.as_deref(), self.vision_config) {
            (Some("siglip2"), Some(v)) => *v,
            (Some("siglip2"), None) => return Err(Error::config("model_type `siglip2` needs a `vision_config`")),
            (_, _) => RawSiglip2VisionConfig { vision_config: None, ..self },
        };
        let hidden = positive(v.hidden_size.unwrap_or(768), "hidden_size")?;
        let heads = positive(v.num_attention_heads.unwrap_or(12), "num_attention_heads")?;
        let num_patches = positive(v.num_patches.unwrap_or(256), "num_patches")?;
        let side = (num_patches as f64).sqrt().round() as usize;
        if side * side != num_patches {
            return Err(Error::config(format!("num_patches {num_patches} is not a square grid")));
        }
        Ok(Siglip2VisionConfig {
            hidden_size: hidden,
            intermediate_size: positive(v.intermediate_size.unwrap_or(3072), "intermediate_size")?,
            num_hidden_layers: positive(v.num_hidden_layers.unwrap_or(12), "num_hidden_layers")?,
            num_attention_heads: heads,
            head_dim: head_dim(hidden, heads)?,
            num_channels: positive(v.num_channels.unwrap_or(3), "num_channels")?,
            num_patches,
            position_embedding_size: side,
            patch_size: positive(need(v.patch_size.or(Some(16)), "patch_size")?, "patch_size")?,
            hidden_act: Activation::from_hf(v.hidden_act.as_deref().unwrap_or("gelu_pytorch_tanh"), "hidden_act")?,
            layer_norm_eps: eps(v.layer_norm_eps.unwrap_or(1e-6), "layer_norm_eps")?,
            vision_use_head: v.vision_use_head.unwrap_or(true),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_so400m_naflex() {
        let c = siglip2_so400m_naflex();
        assert_eq!((c.hidden_size, c.intermediate_size, c.num_hidden_layers, c.num_attention_heads), (1152, 4304, 27, 16));
        assert_eq!((c.head_dim, c.patch_size, c.num_patches, c.position_embedding_size, c.patch_dim()), (72, 16, 256, 16, 768));
        assert_eq!((c.hidden_act, c.layer_norm_eps, c.vision_use_head), (Activation::GeluTanh, 1e-6, true));
    }

    #[test]
    fn bad_configs_name_the_problem() {
        let cases = [
            (r#"{"model_type": "siglip2"}"#, "vision_config"),
            (r#"{"model_type": "siglip"}"#, "model_type"),
            (r#"{"model_type": "siglip2_vision_model", "num_patches": 200}"#, "square"),
            (r#"{"model_type": "siglip2_vision_model", "hidden_size": 100, "num_attention_heads": 16}"#, "divisible"),
            (r#"{"model_type": "siglip2_vision_model", "patch_size": 0}"#, "patch_size"),
        ];
        for (json, needle) in cases {
            let e = Siglip2VisionConfig::from_json(json).unwrap_err().to_string();
            assert!(e.contains(needle), "{json}: `{e}` should mention {needle}");
        }
    }
}
