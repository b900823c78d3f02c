//! The CPU reference ColBERT against HF transformers goldens
//! (tests/goldens/make_encoder_goldens.py): embeddings, every layer, last_hidden_state,
//! pooler_output and the normalised token embeddings of a padded batch; each sequence run
//! alone must give its rows of the padded batch; bad input is a named error.

use fk_baselines::fixtures::{encoder_pairs, golden_root, load_cases, GoldenCase};
use fk_colbertv2::ColBERT;
use fk_recsys::{BertConfig, TokenBatch};
use fk_runtime::safetensors::Checkpoint;

fn cases() -> Vec<GoldenCase> {
    let root = golden_root("colbertv2", env!("CARGO_MANIFEST_DIR"));
    let cases = load_cases(&root).unwrap();
    assert!(cases.len() >= 2, "expected the golden configs in {}", root.display());
    cases
}

fn batch_of(g: &GoldenCase) -> TokenBatch {
    let shape = g.shape("input_ids").unwrap();
    let ids = g.ints("input_ids").unwrap().into_iter().map(|x| x as u32).collect();
    let mask = g.ints("attention_mask").unwrap().into_iter().map(|x| x != 0).collect();
    let tt = g.ints("token_type_ids").unwrap().into_iter().map(|x| x as u32).collect();
    TokenBatch::new(shape[0], shape[1], ids, mask, Some(tt)).unwrap()
}

fn model_of(g: &GoldenCase) -> ColBERT {
    let cfg = BertConfig::from_file(&g.dir).unwrap();
    ColBERT::load(&Checkpoint::open(&g.dir).unwrap(), &cfg).unwrap_or_else(|e| panic!("{}: {e}", g.name))
}

#[test]
fn reference_matches_transformers() {
    for g in cases() {
        let b = batch_of(&g);
        let out = model_of(&g).forward(&b).unwrap();
        let mut pairs = encoder_pairs(&out.encoder);
        pairs.push(("token_embeddings".into(), &out.token_embeddings[..]));
        for (key, rel) in g.check(&pairs).unwrap_or_else(|e| panic!("{e}")) {
            eprintln!("{} {key}: rel_l2 {rel:.2e}", g.name);
        }
    }
}

/// Each sequence alone (no padding) gives exactly its real rows of the padded batch.
#[test]
fn padding_changes_no_real_token() {
    for g in cases() {
        let b = batch_of(&g);
        let model = model_of(&g);
        let batched = model.forward(&b).unwrap();
        let h = model.bert.cfg.hidden_size;
        for s in 0..b.batch {
            let n = b.attention_mask[s * b.seq..(s + 1) * b.seq].iter().filter(|&&m| m).count();
            let tt = b.token_type_ids.as_ref().map(|t| t[s * b.seq..s * b.seq + n].to_vec());
            let alone = TokenBatch::new(1, n, b.real_ids(s), vec![true; n], tt).unwrap();
            let one = model.forward(&alone).unwrap();
            let rows = &batched.encoder.last_hidden_state[s * b.seq * h..(s * b.seq + n) * h];
            let max = rows.iter().zip(&one.encoder.last_hidden_state).map(|(a, b)| (a - b).abs()).fold(0f32, f32::max);
            assert!(max <= 1e-5, "{} sequence {s}: padding moved a real row by {max}", g.name);
        }
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
