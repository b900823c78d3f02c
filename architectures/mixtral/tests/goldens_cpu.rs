//! The CPU reference `MixtralForCausalLM` against HF transformers goldens
//! (tests/goldens/make_mixtral_goldens.py): the experts every token is routed to in every
//! layer, every decoder layer's output, the final norm and the logits; greedy 32-token
//! continuations identical for the fp32 configs. Runs in CI (no GPU needed).

use fk_mixtral::goldens::{load_all, router_topk};
use fk_mixtral::reference::MixtralReference;
use fk_mixtral::MixtralConfig;
use fk_runtime::safetensors::Checkpoint;

#[test]
fn reference_matches_transformers_and_routes_tokens_identically() {
    let goldens = load_all().unwrap();
    assert!(goldens.len() >= 3, "expected the golden configs");
    for g in goldens {
        let name = &g.name;
        let cfg = MixtralConfig::from_file(&g.dir).unwrap_or_else(|e| panic!("{name}: {e}"));
        let model = MixtralReference::load(&Checkpoint::open(&g.dir).unwrap(), &cfg).unwrap_or_else(|e| panic!("{name}: {e}"));
        let out = model.forward(&g.input_ids).unwrap();
        assert_eq!(out.router_topk.len(), cfg.num_hidden_layers);
        let k = cfg.num_experts_per_tok;
        for (l, ours) in out.router_topk.iter().enumerate() {
            let want = router_topk(&g, l).unwrap();
            // The set of experts per token must match. Their order must too in fp32; bf16
            // router logits tie exactly now and then, and torch.topk orders ties arbitrarily
            // (the tied experts get equal weights, so the output does not depend on it).
            let sets = |v: &[u32]| -> Vec<Vec<u32>> {
                v.chunks(k).map(|c| {
                    let mut c = c.to_vec();
                    c.sort();
                    c
                }).collect()
            };
            let same = ours.iter().zip(&want).filter(|(a, b)| a == b).count();
            eprintln!("{name} layer {l}: {same}/{} token-expert slots in the same order as transformers", want.len());
            assert_eq!(sets(ours), sets(&want), "{name} layer {l}: tokens routed to other experts than in transformers");
            if !g.is_bf16() {
                assert_eq!(ours, &want, "{name} layer {l}: expert order differs from transformers");
            }
        }
        g.check_reference(&out, |p, n| model.greedy(p, n)).unwrap_or_else(|e| panic!("{e}"));
    }
}

#[test]
fn bad_checkpoints_are_clear_errors() {
    let g = load_all().unwrap().into_iter().find(|g| g.name == "tiny-moe8-top2-f32").unwrap();
    let cfg = MixtralConfig::from_file(&g.dir).unwrap();
    let ckpt = Checkpoint::open(&g.dir).unwrap();
    let mut more = cfg.clone();
    more.num_local_experts = 9;
    let e = MixtralReference::load(&ckpt, &more).err().expect("a missing expert must fail").to_string();
    assert!(e.contains("block_sparse_moe.gate.weight") || e.contains("experts.8"), "{e}");
    let mut wider = cfg.clone();
    wider.intermediate_size += 1;
    let e = MixtralReference::load(&ckpt, &wider).err().expect("wrong expert shape must fail").to_string();
    assert!(e.contains("experts.0.w1.weight") && e.contains("97"), "{e}");
    let model = MixtralReference::load(&ckpt, &cfg).unwrap();
    let e = model.forward(&[3, cfg.vocab_size as u32]).err().unwrap().to_string();
    assert!(e.contains("vocab_size"), "{e}");
}
