//! The real BAAI/bge-m3 config (XLM-RoBERTa large, 8192-token context), shipped in `configs/`.

use fk_recsys::BertConfig;

/// BAAI/bge-m3's `config.json` (transcribed; see configs/README.md).
pub fn bge_m3_config() -> BertConfig {
    BertConfig::from_json(include_str!("../configs/bge-m3/config.json")).expect("shipped config is valid")
}

#[cfg(test)]
mod tests {
    use super::*;
    use fk_recsys::PositionStyle;

    #[test]
    fn shipped_config_is_xlm_roberta_large_8k() {
        let c = bge_m3_config();
        assert_eq!((c.hidden_size, c.num_hidden_layers, c.num_attention_heads, c.head_dim), (1024, 24, 16, 64));
        assert_eq!((c.intermediate_size, c.vocab_size, c.type_vocab_size, c.pad_token_id), (4096, 250002, 1, 1));
        assert_eq!((c.position_style, c.max_position_embeddings, c.max_sequence_length()), (PositionStyle::FromPadding, 8194, 8192));
        assert_eq!(c.layer_norm_eps, 1e-5);
    }
}
