//! `DINOv3ViTConfig` from an HF `config.json` (`model_type` `dinov3_vit`): lenient raw struct,
//! then validation; defaults as transformers (ViT-S/16: 384 wide, 12 layers, 6 heads).

use fk_baselines::hf_config::{check_model_type, eps, from_file, head_dim, parse, positive};
use fk_baselines::reference::modules::Activation;
use fk_runtime::{Error, Result};
use serde::Deserialize;
use std::path::Path;

#[derive(Clone, Debug, Deserialize)]
pub struct RawDINOv3ViTConfig {
    pub model_type: Option<String>,
    pub patch_size: Option<usize>,
    pub hidden_size: Option<usize>,
    pub intermediate_size: Option<usize>,
    pub num_hidden_layers: Option<usize>,
    pub num_attention_heads: Option<usize>,
    pub hidden_act: Option<String>,
    pub layer_norm_eps: Option<f64>,
    pub rope_theta: Option<f64>,
    pub image_size: Option<usize>,
    pub num_channels: Option<usize>,
    pub query_bias: Option<bool>,
    pub key_bias: Option<bool>,
    pub value_bias: Option<bool>,
    pub proj_bias: Option<bool>,
    pub mlp_bias: Option<bool>,
    pub layerscale_value: Option<f64>,
    pub use_gated_mlp: Option<bool>,
    pub num_register_tokens: Option<usize>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct DINOv3ViTConfig {
    pub patch_size: usize,
    pub hidden_size: usize,
    pub intermediate_size: usize,
    pub num_hidden_layers: usize,
    pub num_attention_heads: usize,
    pub head_dim: usize,
    pub hidden_act: Activation,
    pub layer_norm_eps: f32,
    pub rope_theta: f64,
    /// The pretraining size; any multiple of `patch_size` runs (RoPE needs no interpolation).
    pub image_size: usize,
    pub num_channels: usize,
    pub query_bias: bool,
    pub key_bias: bool,
    pub value_bias: bool,
    pub proj_bias: bool,
    pub mlp_bias: bool,
    pub use_gated_mlp: bool,
    pub num_register_tokens: usize,
}

impl DINOv3ViTConfig {
    pub fn from_file(path: &Path) -> Result<DINOv3ViTConfig> {
        from_file(path, Self::from_json)
    }

    pub fn from_json(text: &str) -> Result<DINOv3ViTConfig> {
        parse::<RawDINOv3ViTConfig>(text)?.validate()
    }

    /// CLS + register tokens, which RoPE leaves alone.
    pub fn num_prefix_tokens(&self) -> usize {
        1 + self.num_register_tokens
    }
}

/// facebook/dinov3-vit7b16-pretrain-lvd1689m (transcribed; see configs/README.md).
pub fn dinov3_vit7b16() -> DINOv3ViTConfig {
    DINOv3ViTConfig::from_json(include_str!("../configs/dinov3-vit7b16-pretrain-lvd1689m/config.json")).expect("shipped config is valid")
}

impl RawDINOv3ViTConfig {
    pub fn validate(self) -> Result<DINOv3ViTConfig> {
        check_model_type(self.model_type.as_deref(), &["dinov3_vit"])?;
        let hidden = positive(self.hidden_size.unwrap_or(384), "hidden_size")?;
        let heads = positive(self.num_attention_heads.unwrap_or(6), "num_attention_heads")?;
        let hd = head_dim(hidden, heads)?;
        // The 2D RoPE splits a head into (y, x) × (cos, sin) quarters.
        if hd % 4 != 0 {
            return Err(Error::config(format!("head_dim {hd} must be a multiple of 4 for DINOv3's 2D RoPE")));
        }
        let theta = self.rope_theta.unwrap_or(100.0);
        if !(theta.is_finite() && theta > 0.0) {
            return Err(Error::config(format!("rope_theta {theta} must be > 0")));
        }
        Ok(DINOv3ViTConfig {
            patch_size: positive(self.patch_size.unwrap_or(16), "patch_size")?,
            hidden_size: hidden,
            intermediate_size: positive(self.intermediate_size.unwrap_or(1536), "intermediate_size")?,
            num_hidden_layers: positive(self.num_hidden_layers.unwrap_or(12), "num_hidden_layers")?,
            num_attention_heads: heads,
            head_dim: hd,
            hidden_act: Activation::from_hf(self.hidden_act.as_deref().unwrap_or("gelu"), "hidden_act")?,
            layer_norm_eps: eps(self.layer_norm_eps.unwrap_or(1e-5), "layer_norm_eps")?,
            rope_theta: theta,
            image_size: positive(self.image_size.unwrap_or(224), "image_size")?,
            num_channels: positive(self.num_channels.unwrap_or(3), "num_channels")?,
            query_bias: self.query_bias.unwrap_or(true),
            key_bias: self.key_bias.unwrap_or(false),
            value_bias: self.value_bias.unwrap_or(true),
            proj_bias: self.proj_bias.unwrap_or(true),
            mlp_bias: self.mlp_bias.unwrap_or(true),
            use_gated_mlp: self.use_gated_mlp.unwrap_or(false),
            num_register_tokens: self.num_register_tokens.unwrap_or(0),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_vit7b16() {
        let c = dinov3_vit7b16();
        assert_eq!((c.hidden_size, c.intermediate_size, c.num_hidden_layers, c.num_attention_heads, c.head_dim), (4096, 8192, 40, 32, 128));
        assert_eq!((c.patch_size, c.image_size, c.num_register_tokens, c.num_prefix_tokens()), (16, 224, 4, 5));
        assert_eq!((c.use_gated_mlp, c.hidden_act, c.rope_theta), (true, Activation::Silu, 100.0));
        assert_eq!((c.query_bias, c.key_bias, c.value_bias, c.proj_bias, c.mlp_bias), (false, false, false, true, true));
    }

    #[test]
    fn bad_configs_name_the_problem() {
        let cases = [
            (r#"{"model_type": "dinov2"}"#, "model_type"),
            (r#"{"hidden_size": 60, "num_attention_heads": 6}"#, "multiple of 4"),
            (r#"{"hidden_size": 64, "num_attention_heads": 5}"#, "divisible"),
            (r#"{"hidden_act": "tanh"}"#, "tanh"),
            (r#"{"rope_theta": -1.0}"#, "rope_theta"),
        ];
        for (json, needle) in cases {
            let e = DINOv3ViTConfig::from_json(json).unwrap_err().to_string();
            assert!(e.contains(needle), "{json}: `{e}` should mention {needle}");
        }
    }
}
