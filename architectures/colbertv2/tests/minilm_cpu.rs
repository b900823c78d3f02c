//! The BERT path end to end on a real checkpoint: sentence-transformers/all-MiniLM-L6-v2
//! (fetched by `cargo xtask fetch-minilm`; ~90 MB, never committed). Tokenize with the HF
//! `tokenizers` crate exactly as sentence-transformers does (tokenizer.json, truncation at
//! sentence_bert_config.json's max_seq_length, no padding), run `fk_recsys::BertModel` on CPU,
//! mean-pool the real tokens and L2-normalise; compare with goldens recorded with
//! sentence-transformers/transformers (tests/goldens/make_minilm_goldens.py): identical token
//! ids, cosine ≥ 0.9999 per sentence, and the first sentence's hidden states at rel. L2 1e-4.
//! Without the folder the test says it is skipped and why, and passes.

use fk_baselines::fixtures::model_tolerance;
use fk_baselines::reference::{l2_normalize, mean_pool};
use fk_recsys::{BertConfig, BertModel, TokenBatch};
use fk_runtime::compare::compare;
use fk_runtime::safetensors::Checkpoint;
use std::path::{Path, PathBuf};
use tokenizers::{Tokenizer, TruncationParams};

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn model_dir() -> PathBuf {
    std::env::var_os("FASTKERNELS_MINILM").map(PathBuf::from).unwrap_or_else(|| workspace().join(".fastkernels/models/all-MiniLM-L6-v2"))
}

fn read_json(path: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("parse {}: {e}", path.display()))
}

/// tokenizer.json pads to a fixed 128 and truncates at 128; sentence-transformers overrides
/// both (no padding per sentence here, truncation at max_seq_length = 256).
fn tokenizer(dir: &Path) -> Tokenizer {
    let max_len = read_json(&dir.join("sentence_bert_config.json"))["max_seq_length"].as_u64().expect("max_seq_length") as usize;
    let mut tok = Tokenizer::from_file(dir.join("tokenizer.json")).unwrap_or_else(|e| panic!("tokenizer.json: {e}"));
    tok.with_padding(None);
    tok.with_truncation(Some(TruncationParams { max_length: max_len, ..Default::default() })).expect("truncation params");
    tok
}

#[test]
fn minilm_sentence_embeddings_match_sentence_transformers() {
    let dir = model_dir();
    if !dir.join("model.safetensors").is_file() {
        eprintln!("SKIPPED: no all-MiniLM-L6-v2 checkpoint at {} (run `cargo xtask fetch-minilm`, or set FASTKERNELS_MINILM)", dir.display());
        return;
    }
    let goldens = workspace().join("tests/goldens/minilm");
    let golden = Checkpoint::open(goldens.join("golden.safetensors")).unwrap();
    let sentences: Vec<String> = serde_json::from_value(read_json(&goldens.join("sentences.json"))).unwrap();
    let ints = |k: &str| -> Vec<i64> { golden.host_bytes(k).unwrap().chunks_exact(8).map(|c| i64::from_le_bytes(c.try_into().unwrap())).collect() };
    let (gids, gmask) = (ints("input_ids"), ints("attention_mask"));
    let seq = golden.info("input_ids").unwrap().shape[1];
    let expected = golden.host_f32("sentence_embedding").unwrap();
    let norms = golden.host_f32("token_norms").unwrap();

    let cfg = BertConfig::from_file(&dir).unwrap();
    let model = BertModel::load(&Checkpoint::open(&dir).unwrap(), &cfg).unwrap();
    let tok = tokenizer(&dir);
    let h = cfg.hidden_size;
    for (s, text) in sentences.iter().enumerate() {
        let enc = tok.encode(text.as_str(), true).unwrap_or_else(|e| panic!("encode sentence {s}: {e}"));
        let ids: Vec<u32> = enc.get_ids().to_vec();
        let want: Vec<u32> = (0..seq).filter(|&t| gmask[s * seq + t] != 0).map(|t| gids[s * seq + t] as u32).collect();
        assert_eq!(ids, want, "sentence {s}: token ids differ from the HF tokenizer's");
        let n = ids.len();
        let batch = TokenBatch::new(1, n, ids, vec![true; n], Some(enc.get_type_ids().to_vec())).unwrap();
        let out = model.forward(&batch).unwrap();
        let pooled = l2_normalize(&mean_pool(&out.last_hidden_state, &vec![true; n], 1, n, h), h);
        let exp = &expected[s * h..(s + 1) * h];
        let cos: f64 = pooled.iter().zip(exp).map(|(a, &b)| a * b as f64).sum::<f64>()
            / exp.iter().map(|&b| (b as f64).powi(2)).sum::<f64>().sqrt();
        eprintln!("sentence {s} ({n} tokens): cosine {cos:.9} (1 - cos = {:.1e})", 1.0 - cos);
        assert!(cos >= 0.9999, "sentence {s}: cosine {cos} < 0.9999");
        // Per-token summary: every real token's hidden-state norm.
        let ours: Vec<f32> = out.last_hidden_state.chunks_exact(h).map(|r| r.iter().map(|&x| (x as f64).powi(2)).sum::<f64>().sqrt() as f32).collect();
        let theirs: Vec<f64> = norms[s * seq..s * seq + n].iter().map(|&x| x as f64).collect();
        let c = compare(&ours, &theirs, model_tolerance(false));
        assert!(c.passed(), "sentence {s} token norms: {c}");
        if s == 0 {
            let full: Vec<f64> = golden.host_f32("last_hidden_state.0").unwrap().into_iter().map(f64::from).collect();
            let c = compare(&out.last_hidden_state, &full, model_tolerance(false));
            eprintln!("sentence 0 last_hidden_state: rel_l2 {:.2e}", c.rel_l2);
            assert!(c.passed(), "sentence 0 last_hidden_state: {c}");
        }
    }
}
