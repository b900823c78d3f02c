//! The tensors HF `BertModel` / `XLMRobertaModel` checkpoints hold (names and shapes as the
//! loader asks for them), for random weights at a real config (`fk_runtime::random_weights`).

use crate::BertConfig;

/// `embeddings.*`, `encoder.layer.{l}.*` and, with `pooler`, `pooler.dense.*`; no prefix.
pub fn bert_weight_specs(c: &BertConfig, pooler: bool) -> Vec<(String, Vec<usize>)> {
    let (h, i) = (c.hidden_size, c.intermediate_size);
    let mut v: Vec<(String, Vec<usize>)> = vec![
        ("embeddings.word_embeddings.weight".into(), vec![c.vocab_size, h]),
        ("embeddings.position_embeddings.weight".into(), vec![c.max_position_embeddings, h]),
        ("embeddings.token_type_embeddings.weight".into(), vec![c.type_vocab_size, h]),
        ("embeddings.LayerNorm.weight".into(), vec![h]),
        ("embeddings.LayerNorm.bias".into(), vec![h]),
    ];
    let linear = |v: &mut Vec<(String, Vec<usize>)>, name: String, inf: usize, outf: usize| {
        v.push((format!("{name}.weight"), vec![outf, inf]));
        v.push((format!("{name}.bias"), vec![outf]));
    };
    let norm = |v: &mut Vec<(String, Vec<usize>)>, name: String| {
        v.push((format!("{name}.weight"), vec![h]));
        v.push((format!("{name}.bias"), vec![h]));
    };
    for l in 0..c.num_hidden_layers {
        let p = format!("encoder.layer.{l}");
        for n in ["query", "key", "value"] {
            linear(&mut v, format!("{p}.attention.self.{n}"), h, h);
        }
        linear(&mut v, format!("{p}.attention.output.dense"), h, h);
        norm(&mut v, format!("{p}.attention.output.LayerNorm"));
        linear(&mut v, format!("{p}.intermediate.dense"), h, i);
        linear(&mut v, format!("{p}.output.dense"), i, h);
        norm(&mut v, format!("{p}.output.LayerNorm"));
    }
    if pooler {
        linear(&mut v, "pooler.dense".into(), h, h);
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bert_base_has_its_parameter_count() {
        let c = BertConfig::from_json(r#"{"model_type": "bert", "vocab_size": 30522, "hidden_size": 768, "num_hidden_layers": 12, "num_attention_heads": 12, "intermediate_size": 3072, "max_position_embeddings": 512}"#).unwrap();
        let n: usize = bert_weight_specs(&c, true).iter().map(|(_, s)| s.iter().product::<usize>()).sum();
        // bert-base-uncased: 109,482,240 parameters (with the pooler).
        assert_eq!(n, 109_482_240);
        assert_eq!(bert_weight_specs(&c, false).len(), 5 + 12 * 16);
    }
}
