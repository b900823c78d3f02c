//! The CPU reference `LlamaForCausalLM` against HF transformers goldens
//! (tests/goldens/make_llama_goldens.py): every decoder layer's output, the final norm and
//! the logits of every prompt position; greedy 32-token continuations must be identical for
//! the fp32 configs. Runs in CI (no GPU needed).

use fk_llama::goldens::{golden_root, load_all};
use fk_llama::reference::LlamaReference;
use fk_llama::LlamaConfig;
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
        g.check_reference(&out, |p, n| model.greedy(p, n)).unwrap_or_else(|e| panic!("{e}"));
    }
}

#[test]
fn bad_checkpoints_are_clear_errors() {
    let g = load_all().unwrap().into_iter().find(|g| g.name == "tiny-gqa-llama3-f32").unwrap();
    let cfg = LlamaConfig::from_file(&g.dir).unwrap();
    let ckpt = Checkpoint::open(&g.dir).unwrap();
    // A config whose shapes do not match the weights.
    let mut wrong = cfg.clone();
    wrong.intermediate_size += 1;
    let e = LlamaReference::load(&ckpt, &wrong).err().expect("wrong intermediate_size must fail").to_string();
    assert!(e.contains("gate_proj") && e.contains("113"), "{e}");
    // More layers than the checkpoint holds: a missing tensor, named.
    let mut deeper = cfg.clone();
    deeper.num_hidden_layers += 1;
    let e = LlamaReference::load(&ckpt, &deeper).err().expect("missing layer must fail").to_string();
    assert!(e.contains("model.layers.2."), "{e}");
    // A prompt longer than the context, and an id outside the vocabulary.
    let model = LlamaReference::load(&ckpt, &cfg).unwrap();
    let e = model.forward(&vec![3; cfg.max_position_embeddings + 1]).err().unwrap().to_string();
    assert!(e.contains("max_position_embeddings"), "{e}");
    let e = model.forward(&[3, cfg.vocab_size as u32]).err().unwrap().to_string();
    assert!(e.contains("vocab_size"), "{e}");
}
