//! The CPU reference ColBERT against HF transformers goldens
//! (tests/goldens/make_encoder_goldens.py): embeddings, every layer, last_hidden_state,
//! pooler_output and the normalised token embeddings of a padded batch; each sequence run
//! alone must give its rows of the padded batch; bad input is a named error.

use fk_baselines::fixtures::{arch_cases, encoder_pairs, GoldenCase};
use fk_colbertv2::ColBERT;
use fk_recsys::goldens::{max_padding_drift, token_batch};
use fk_recsys::{BertConfig, TokenBatch};
use fk_runtime::safetensors::Checkpoint;

fn cases() -> Vec<GoldenCase> {
    arch_cases("colbertv2", env!("CARGO_MANIFEST_DIR"), 2).unwrap()
}

fn model_of(g: &GoldenCase) -> ColBERT {
    let cfg = BertConfig::from_file(&g.dir).unwrap();
    ColBERT::load(&Checkpoint::open(&g.dir).unwrap(), &cfg).unwrap_or_else(|e| panic!("{}: {e}", g.name))
}

#[test]
fn reference_matches_transformers() {
    for g in cases() {
        let out = model_of(&g).forward(&token_batch(&g).unwrap()).unwrap();
        let mut pairs = encoder_pairs(&out.encoder);
        pairs.push(("token_embeddings".into(), &out.token_embeddings[..]));
        for (key, rel) in g.check(&pairs).unwrap_or_else(|e| panic!("{e}")) {
            eprintln!("{} {key}: rel_l2 {rel:.2e}", g.name);
        }
    }
}

#[test]
fn padding_changes_no_real_token() {
    for g in cases() {
        let drift = max_padding_drift(&model_of(&g).bert, &token_batch(&g).unwrap()).unwrap();
        assert!(drift <= 1e-5, "{}: padding moved a real row by {drift}", g.name);
    }
}

#[test]
fn bad_input_is_a_named_error() {
    let g = cases().into_iter().find(|g| !g.is_bf16()).unwrap();
    let model = model_of(&g);
    let cfg = &model.bert.cfg;
    let too_long = TokenBatch::from_sequences(&[vec![5; cfg.max_position_embeddings + 1]], 0).unwrap();
    let e = model.forward(&too_long).err().expect("too long must fail").to_string();
    assert!(e.contains("max_position_embeddings") && e.contains(&format!("{}", cfg.max_position_embeddings + 1)), "{e}");
    let bad_id = TokenBatch::from_sequences(&[vec![5, cfg.vocab_size as u32]], 0).unwrap();
    let e = model.forward(&bad_id).err().expect("id out of range must fail").to_string();
    assert!(e.contains("vocab_size") && e.contains(&cfg.vocab_size.to_string()), "{e}");
    let bad_tt = TokenBatch::new(1, 2, vec![5, 6], vec![true, true], Some(vec![0, 2])).unwrap();
    let e = model.forward(&bad_tt).err().expect("token type out of range must fail").to_string();
    assert!(e.contains("type_vocab_size"), "{e}");
    // A config that disagrees with the checkpoint names the tensor.
    let wrong = BertConfig { intermediate_size: cfg.intermediate_size + 1, ..cfg.clone() };
    let e = ColBERT::load(&Checkpoint::open(&g.dir).unwrap(), &wrong).err().expect("wrong config must fail").to_string();
    assert!(e.contains("intermediate.dense.weight"), "{e}");
}
