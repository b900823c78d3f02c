//! The CPU reference `LlamaForCausalLM` against HF transformers goldens
//! (tests/goldens/make_llama_goldens.py): every decoder layer's output, the final norm and
//! the logits of every prompt position; greedy 32-token continuations must be identical for
//! the fp32 configs. Runs in CI (no GPU needed).

use fk_llama::goldens::{golden_root, load_all};
use fk_llama::reference::LlamaReference;
use fk_llama::LlamaConfig;
use fk_runtime::compare::compare;
use fk_runtime::safetensors::Checkpoint;

#[test]
fn reference_matches_transformers() {
    let goldens = load_all().unwrap();
    assert!(goldens.len() >= 3, "expected the golden configs in {}", golden_root().display());
    for g in goldens {
        let name = &g.name;
        let cfg = LlamaConfig::from_file(&g.dir).unwrap_or_else(|e| panic!("{name}: {e}"));
        let model = LlamaReference::load(&Checkpoint::open(&g.dir).unwrap(), &cfg).unwrap_or_else(|e| panic!("{name}: {e}"));
        let out = model.forward(&g.input_ids).unwrap();
        let mut ours: Vec<Vec<f32>> = out.layer_outputs.clone();
        ours.push(out.final_norm.clone());
        ours.push(out.logits.clone());
        let keys = g.keys();
        assert_eq!(keys.len(), ours.len(), "{name}: golden has {keys:?}");
        for (key, ours) in keys.iter().zip(ours) {
            let c = compare(&ours, &g.expected(key).unwrap(), g.tolerance());
            assert!(c.passed(), "{name} {key}: {c}");
            eprintln!("{name} {key}: rel_l2 {:.2e}", c.rel_l2);
        }
        if !g.is_bf16() {
            let got = model.greedy(&g.input_ids, g.greedy.len()).unwrap();
            assert_eq!(got, g.greedy, "{name}: greedy continuation differs from transformers");
        }
    }
}

#[test]
fn bad_checkpoints_are_clear_errors() {
    let g = load_all().unwrap().into_iter().find(|g| g.name == "tiny-gqa-llama3-f32").unwrap();
    let cfg = LlamaConfig::from_file(&g.dir).unwrap();
    let ckpt = Checkpoint::open(&g.dir).unwrap();
    // A config whose shapes do not match the weights.
    let wrong = LlamaConfig { intermediate_size: cfg.intermediate_size + 1, ..cfg.clone() };
    let e = LlamaReference::load(&ckpt, &wrong).err().expect("wrong intermediate_size must fail").to_string();
    assert!(e.contains("gate_proj") && e.contains("113"), "{e}");
    // More layers than the checkpoint holds: a missing tensor, named.
    let deeper = LlamaConfig { num_hidden_layers: cfg.num_hidden_layers + 1, ..cfg.clone() };
    let e = LlamaReference::load(&ckpt, &deeper).err().expect("missing layer must fail").to_string();
    assert!(e.contains("model.layers.2."), "{e}");
    // A prompt longer than the context, and an id outside the vocabulary.
    let model = LlamaReference::load(&ckpt, &cfg).unwrap();
    let e = model.forward(&vec![3; cfg.max_position_embeddings + 1]).err().unwrap().to_string();
    assert!(e.contains("max_position_embeddings"), "{e}");
    let e = model.forward(&[3, cfg.vocab_size as u32]).err().unwrap().to_string();
    assert!(e.contains("vocab_size"), "{e}");
}
