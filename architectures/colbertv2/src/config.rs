//! The real colbert-ir/colbertv2.0 config (BERT base, shipped in `configs/`). ColBERT's own
//! settings (`dim` = 128, query/doc max lengths) live in its `artifact.metadata`, not in
//! config.json; the projection width is read from `linear.weight`'s shape instead.

use fk_recsys::BertConfig;

/// colbert-ir/colbertv2.0's `config.json` (transcribed; see configs/README.md).
pub fn colbertv2_config() -> BertConfig {
    BertConfig::from_json(include_str!("../configs/colbertv2.0/config.json")).expect("shipped config is valid")
}

#[cfg(test)]
mod tests {
    use super::*;
    use fk_recsys::PositionStyle;

    #[test]
    fn shipped_config_is_bert_base() {
        let c = colbertv2_config();
        assert_eq!((c.hidden_size, c.num_hidden_layers, c.num_attention_heads, c.head_dim), (768, 12, 12, 64));
        assert_eq!((c.intermediate_size, c.vocab_size, c.max_position_embeddings, c.type_vocab_size), (3072, 30522, 512, 2));
        assert_eq!((c.layer_norm_eps, c.position_style, c.max_sequence_length()), (1e-12, PositionStyle::Absolute, 512));
    }
}
