//! The CPU reference BGE-M3 (XLMRobertaModel + normalised CLS) against HF transformers goldens
//! (tests/goldens/make_encoder_goldens.py) on a padded batch whose padding id (1) shifts the
//! XLM-R position ids; each sequence alone must give its rows of the batch; bad input is a
//! named error.

use fk_baselines::fixtures::{encoder_pairs, golden_root, load_cases, GoldenCase};
use fk_bge_m3::BgeM3;
use fk_recsys::{BertConfig, TokenBatch};
use fk_runtime::safetensors::Checkpoint;

fn cases() -> Vec<GoldenCase> {
    let root = golden_root("bge_m3", env!("CARGO_MANIFEST_DIR"));
    let cases = load_cases(&root).unwrap();
    assert!(cases.len() >= 2, "expected the golden configs in {}", root.display());
    cases
}

fn batch_of(g: &GoldenCase) -> TokenBatch {
    let shape = g.shape("input_ids").unwrap();
    let ids = g.ints("input_ids").unwrap().into_iter().map(|x| x as u32).collect();
    let mask = g.ints("attention_mask").unwrap().into_iter().map(|x| x != 0).collect();
    TokenBatch::new(shape[0], shape[1], ids, mask, None).unwrap()
}

fn model_of(g: &GoldenCase) -> BgeM3 {
    let cfg = BertConfig::from_file(&g.dir).unwrap();
    BgeM3::load(&Checkpoint::open(&g.dir).unwrap(), &cfg).unwrap_or_else(|e| panic!("{}: {e}", g.name))
}

#[test]
fn reference_matches_transformers() {
    for g in cases() {
        let out = model_of(&g).forward(&batch_of(&g)).unwrap();
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
        let b = batch_of(&g);
        let model = model_of(&g);
        let batched = model.forward(&b).unwrap();
        let h = model.model.cfg.hidden_size;
        for s in 0..b.batch {
            let ids = b.real_ids(s);
            let n = ids.len();
            let one = model.forward(&TokenBatch::from_sequences(&[ids], 1).unwrap()).unwrap();
            let rows = &batched.encoder.last_hidden_state[s * b.seq * h..(s * b.seq + n) * h];
            let max = rows.iter().zip(&one.encoder.last_hidden_state).map(|(a, b)| (a - b).abs()).fold(0f32, f32::max);
            assert!(max <= 1e-5, "{} sequence {s}: padding moved a real row by {max}", g.name);
            assert_eq!(&batched.dense_embedding[s * h..(s + 1) * h], &one.dense_embedding[..]);
        }
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
