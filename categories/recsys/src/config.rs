//! `BertConfig` for BERT and XLM-RoBERTa from an HF `config.json`: a lenient serde struct
//! (unknown keys ignored, optional keys defaulted as transformers does), then validation into
//! the struct the code uses. XLM-R differs from BERT only in its position ids (counted from
//! `pad_token_id + 1`, padding tokens at `pad_token_id`), so one struct serves both.

use fk_baselines::hf_config::{check_model_type, eps, from_file, head_dim, need, parse, positive};
use fk_baselines::reference::modules::Activation;
use fk_runtime::{Error, Result};
use serde::Deserialize;
use std::path::Path;

#[derive(Clone, Debug, Deserialize)]
pub struct RawBertConfig {
    pub model_type: Option<String>,
    pub vocab_size: Option<usize>,
    pub hidden_size: Option<usize>,
    pub num_hidden_layers: Option<usize>,
    pub num_attention_heads: Option<usize>,
    pub intermediate_size: Option<usize>,
    pub hidden_act: Option<String>,
    pub max_position_embeddings: Option<usize>,
    pub type_vocab_size: Option<usize>,
    pub layer_norm_eps: Option<f64>,
    pub pad_token_id: Option<usize>,
    pub position_embedding_type: Option<String>,
    pub is_decoder: Option<bool>,
}

/// How position ids are formed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PositionStyle {
    /// BERT: 0, 1, 2, … regardless of padding.
    Absolute,
    /// RoBERTa / XLM-R: real tokens count up from `pad_token_id + 1`; padding ids sit at
    /// `pad_token_id` (fairseq's `make_positions`).
    FromPadding,
}

#[derive(Clone, Debug, PartialEq)]
pub struct BertConfig {
    pub model_type: String,
    pub vocab_size: usize,
    pub hidden_size: usize,
    pub num_hidden_layers: usize,
    pub num_attention_heads: usize,
    pub head_dim: usize,
    pub intermediate_size: usize,
    pub hidden_act: Activation,
    pub max_position_embeddings: usize,
    pub type_vocab_size: usize,
    pub layer_norm_eps: f32,
    pub pad_token_id: usize,
    pub position_style: PositionStyle,
}

impl BertConfig {
    /// Read and validate `path` (a config.json or a folder holding one).
    pub fn from_file(path: &Path) -> Result<BertConfig> {
        from_file(path, Self::from_json)
    }

    pub fn from_json(text: &str) -> Result<BertConfig> {
        parse::<RawBertConfig>(text)?.validate()
    }

    /// The longest sequence the position table holds: all of it for BERT; for XLM-R the
    /// first `pad_token_id + 1` rows are never used by real tokens (514 → 512, 8194 → 8192).
    pub fn max_sequence_length(&self) -> usize {
        match self.position_style {
            PositionStyle::Absolute => self.max_position_embeddings,
            PositionStyle::FromPadding => self.max_position_embeddings.saturating_sub(self.pad_token_id + 1),
        }
    }
}

impl RawBertConfig {
    pub fn validate(self) -> Result<BertConfig> {
        check_model_type(self.model_type.as_deref(), &["bert", "xlm-roberta", "roberta"])?;
        let model_type = self.model_type.clone().unwrap_or_else(|| "bert".into());
        if self.is_decoder == Some(true) {
            return Err(Error::config("is_decoder = true: only the bidirectional encoder is supported"));
        }
        if let Some(p) = self.position_embedding_type.as_deref() {
            if p != "absolute" {
                return Err(Error::config(format!("position_embedding_type `{p}` is not supported (absolute)")));
            }
        }
        let hidden = positive(need(self.hidden_size, "hidden_size")?, "hidden_size")?;
        let heads = positive(need(self.num_attention_heads, "num_attention_heads")?, "num_attention_heads")?;
        let style = if model_type == "bert" { PositionStyle::Absolute } else { PositionStyle::FromPadding };
        // transformers: BERT pads with 0, RoBERTa/XLM-R with 1.
        let pad = self.pad_token_id.unwrap_or(if style == PositionStyle::Absolute { 0 } else { 1 });
        let max_pos = positive(self.max_position_embeddings.unwrap_or(512), "max_position_embeddings")?;
        if style == PositionStyle::FromPadding && max_pos <= pad + 1 {
            return Err(Error::config(format!("max_position_embeddings {max_pos} leaves no position after pad_token_id {pad}")));
        }
        let vocab = positive(need(self.vocab_size, "vocab_size")?, "vocab_size")?;
        Ok(BertConfig {
            model_type,
            vocab_size: vocab,
            hidden_size: hidden,
            num_hidden_layers: positive(need(self.num_hidden_layers, "num_hidden_layers")?, "num_hidden_layers")?,
            num_attention_heads: heads,
            head_dim: head_dim(hidden, heads)?,
            intermediate_size: positive(need(self.intermediate_size, "intermediate_size")?, "intermediate_size")?,
            hidden_act: Activation::from_hf(self.hidden_act.as_deref().unwrap_or("gelu"), "hidden_act")?,
            max_position_embeddings: max_pos,
            type_vocab_size: positive(self.type_vocab_size.unwrap_or(2), "type_vocab_size")?,
            layer_norm_eps: eps(self.layer_norm_eps.unwrap_or(1e-12), "layer_norm_eps")?,
            pad_token_id: pad,
            position_style: style,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: &str = r#""hidden_size": 64, "num_attention_heads": 4, "num_hidden_layers": 2, "intermediate_size": 96, "vocab_size": 100"#;

    #[test]
    fn defaults_follow_transformers() {
        let c = BertConfig::from_json(&format!("{{{MIN}}}")).unwrap();
        assert_eq!((c.head_dim, c.max_position_embeddings, c.type_vocab_size, c.pad_token_id), (16, 512, 2, 0));
        assert_eq!((c.layer_norm_eps, c.hidden_act, c.position_style), (1e-12, Activation::Gelu, PositionStyle::Absolute));
        let x = BertConfig::from_json(&format!(r#"{{{MIN}, "model_type": "xlm-roberta", "max_position_embeddings": 514}}"#)).unwrap();
        assert_eq!((x.pad_token_id, x.position_style, x.max_sequence_length()), (1, PositionStyle::FromPadding, 512));
    }

    #[test]
    fn bad_configs_name_the_problem() {
        let cases = [
            (r#"{"hidden_size": 64}"#.to_string(), "num_attention_heads"),
            (format!(r#"{{{MIN}, "model_type": "gpt2"}}"#), "model_type"),
            (format!(r#"{{{MIN}, "hidden_act": "mish"}}"#), "mish"),
            (format!(r#"{{{MIN}, "position_embedding_type": "relative_key"}}"#), "relative_key"),
            (r#"{"hidden_size": 64, "num_attention_heads": 5, "num_hidden_layers": 2, "intermediate_size": 96, "vocab_size": 100}"#.to_string(), "divisible"),
            (format!(r#"{{{MIN}, "is_decoder": true}}"#), "is_decoder"),
            (format!(r#"{{{MIN}, "layer_norm_eps": 0.0}}"#), "layer_norm_eps"),
            (r#"{"hidden_size": "big"}"#.to_string(), "not a valid config.json"),
        ];
        for (json, needle) in cases {
            let e = BertConfig::from_json(&json).unwrap_err().to_string();
            assert!(e.contains(needle), "{json}: `{e}` should mention {needle}");
        }
    }

    #[test]
    fn missing_file_names_the_path() {
        let e = BertConfig::from_file(Path::new("/nonexistent/bert")).unwrap_err().to_string();
        assert!(e.contains("/nonexistent/bert/config.json"), "{e}");
    }
}
