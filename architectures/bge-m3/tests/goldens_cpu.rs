//! The CPU reference BGE-M3 (XLMRobertaModel + normalised CLS) against HF transformers goldens
//! (tests/goldens/make_encoder_goldens.py) on a padded batch whose padding id (1) shifts the
//! XLM-R position ids; each sequence alone must give its rows of the batch; bad input is a
//! named error.

use fk_baselines::fixtures::{arch_cases, encoder_pairs, GoldenCase};
use fk_bge_m3::BgeM3;
use fk_recsys::goldens::{max_padding_drift, token_batch};
use fk_recsys::{BertConfig, TokenBatch};
use fk_runtime::safetensors::Checkpoint;

fn cases() -> Vec<GoldenCase> {
    arch_cases("bge_m3", env!("CARGO_MANIFEST_DIR"), 2).unwrap()
}

fn model_of(g: &GoldenCase) -> BgeM3 {
    let cfg = BertConfig::from_file(&g.dir).unwrap();
    BgeM3::load(&Checkpoint::open(&g.dir).unwrap(), &cfg).unwrap_or_else(|e| panic!("{}: {e}", g.name))
}

#[test]
fn reference_matches_transformers() {
    for g in cases() {
        let out = model_of(&g).forward(&token_batch(&g).unwrap()).unwrap();
        let mut pairs = encoder_pairs(&out.encoder);
        pairs.push(("dense_embedding".into(), &out.dense_embedding[..]));
        for (key, rel) in g.check(&pairs).unwrap_or_else(|e| panic!("{e}")) {
            eprintln!("{} {key}: rel_l2 {rel:.2e}", g.name);
        }
    }
}

#[test]
fn padding_changes_no_real_token() {
    for g in cases() {
        let drift = max_padding_drift(&model_of(&g).model, &token_batch(&g).unwrap()).unwrap();
        assert!(drift <= 1e-5, "{}: padding moved a real row by {drift}", g.name);
    }
}

#[test]
fn bad_input_is_a_named_error() {
    let g = cases().into_iter().find(|g| !g.is_bf16()).unwrap();
    let model = model_of(&g);
    let cfg = &model.model.cfg;
    // XLM-R: positions start after pad_token_id, so max_position_embeddings - 2 tokens fit.
    let fits = TokenBatch::from_sequences(&[vec![5; cfg.max_sequence_length()]], 1).unwrap();
    model.forward(&fits).unwrap();
    let too_long = TokenBatch::from_sequences(&[vec![5; cfg.max_sequence_length() + 1]], 1).unwrap();
    let e = model.forward(&too_long).err().expect("too long must fail").to_string();
    assert!(e.contains("max_position_embeddings"), "{e}");
    let bad_id = TokenBatch::from_sequences(&[vec![0, cfg.vocab_size as u32 + 7]], 1).unwrap();
    let e = model.forward(&bad_id).err().expect("id out of range must fail").to_string();
    assert!(e.contains("vocab_size"), "{e}");
}
