//! The CPU reference `Mamba2ForCausalLM` against HF transformers goldens
//! (`tests/goldens/make_mamba_goldens.py --arch mamba2`): every block's output, the final norm,
//! the prefill logits, each layer's conv and SSM state after the prompt, and the 32 greedy steps
//! decoded through the recurrent state (tokens identical for the fp32 configs, logits of every
//! step). Then the reference against itself: prefill-then-decode and a prompt prefilled in
//! pieces equal one prefill of the whole sequence at the same positions. Runs in CI (no GPU).

use fk_mamba2::goldens::{load_all, Golden};
use fk_mamba2::reference::Mamba2ForCausalLM;
use fk_mamba2::Mamba2Config;
use fk_runtime::compare::{compare, Tolerance};
use fk_runtime::safetensors::Checkpoint;

fn load(g: &Golden) -> (Mamba2Config, Mamba2ForCausalLM) {
    let cfg = Mamba2Config::from_file(&g.dir).unwrap_or_else(|e| panic!("{}: {e}", g.name));
    let model = Mamba2ForCausalLM::load(&Checkpoint::open(&g.dir).unwrap(), &cfg).unwrap_or_else(|e| panic!("{}: {e}", g.name));
    (cfg, model)
}

fn check(g: &Golden, what: &str, ours: &[f32], tol: Tolerance) {
    let c = compare(ours, &g.expected(what).unwrap(), tol);
    eprintln!("{} {what}: rel_l2 {:.2e}", g.name, c.rel_l2);
    assert!(c.passed(), "{} {what}: {c}", g.name);
}

fn f32s(v: &[f64]) -> Vec<f32> {
    v.iter().map(|&x| x as f32).collect()
}

#[test]
fn reference_matches_transformers_prefill_states_and_decode() {
    let goldens = load_all().unwrap();
    assert_eq!(goldens.len(), 3, "expected the three Mamba-2 golden configs");
    for g in &goldens {
        let (cfg, model) = load(g);
        let mut state = model.new_state();
        let out = model.forward(&g.input_ids, &mut state).unwrap();
        let (tokens, rows) = model.greedy(&g.input_ids, g.greedy.len()).unwrap();
        g.check_reference(&out, |_, _| Ok(tokens.clone())).unwrap_or_else(|e| panic!("{e}"));
        for (l, st) in state.layers.iter().enumerate() {
            check(g, &format!("conv_state.{l}"), &f32s(&st.conv), g.tolerance());
            check(g, &format!("ssm_state.{l}"), &f32s(&st.ssm), g.tolerance());
        }
        // The decode steps' logits, compared while both sides decoded the same tokens (bf16
        // continuations may part ways once a near-tie flips; fp32 ones must not).
        let same = tokens.iter().zip(&g.greedy).take_while(|(a, b)| a == b).count();
        if !g.is_bf16() {
            assert_eq!(same, g.greedy.len(), "{}: greedy tokens differ from transformers", g.name);
        }
        let v = cfg.vocab_size;
        let ours: Vec<f32> = rows[..(same + 1).min(rows.len())].concat();
        let want = g.expected("greedy_logits").unwrap();
        let c = compare(&ours, &want[..ours.len()], g.tolerance());
        eprintln!("{} greedy_logits ({} steps, {same} identical tokens): rel_l2 {:.2e}", g.name, ours.len() / v, c.rel_l2);
        assert!(c.passed(), "{} greedy_logits: {c}", g.name);
    }
}

/// Prefill and decode add the same terms in another order (chunked SSD vs the recurrence, the
/// conv window), in f64 and then rounded: a last-bit difference now and then.
const SELF_TOL: Tolerance = Tolerance { atol: 1e-5, rtol: 1e-5, max_rel_l2: 1e-6 };

fn max_state_diff(a: &fk_mamba2::reference::SequenceState, b: &fk_mamba2::reference::SequenceState) -> f64 {
    a.layers
        .iter()
        .zip(&b.layers)
        .flat_map(|(x, y)| x.ssm.iter().zip(&y.ssm).chain(x.conv.iter().zip(&y.conv)))
        .map(|(p, q)| (p - q).abs())
        .fold(0.0, f64::max)
}

#[test]
fn prefill_then_decode_equals_whole_prefill() {
    for g in load_all().unwrap() {
        let (cfg, model) = load(&g);
        let (v, p) = (cfg.vocab_size, g.input_ids.len());
        let (tokens, rows) = model.greedy(&g.input_ids, 12).unwrap();
        let whole: Vec<u32> = g.input_ids.iter().chain(&tokens[..tokens.len() - 1]).copied().collect();
        let mut whole_state = model.new_state();
        let full = model.forward(&whole, &mut whole_state).unwrap();
        let want: Vec<f64> = full.logits[(p - 1) * v..].iter().map(|&x| x as f64).collect();
        let c = compare(&rows.concat(), &want, SELF_TOL);
        assert!(c.passed(), "{}: decode vs whole prefill: {c}", g.name);
        // The state after decoding equals the state after prefilling the same tokens.
        let mut decoded = model.new_state();
        model.forward(&g.input_ids, &mut decoded).unwrap();
        for &t in &tokens[..tokens.len() - 1] {
            model.forward(&[t], &mut decoded).unwrap();
        }
        let d = max_state_diff(&decoded, &whole_state);
        assert!(d < 1e-9, "{}: decoding leaves another state than prefill (max diff {d:.2e})", g.name);
        assert_eq!(decoded.tokens, whole.len());
        // A prompt prefilled in pieces (split inside a chunk and on a chunk boundary) leaves
        // the same state and logits as in one piece.
        let mut b = model.new_state();
        let one = model.forward(&g.input_ids, &mut b).unwrap();
        let one_logits: Vec<f64> = one.logits.iter().map(|&x| x as f64).collect();
        for split in [1, 3, cfg.chunk_size, p - 1] {
            let mut a = model.new_state();
            let first = model.forward(&g.input_ids[..split], &mut a).unwrap();
            let second = model.forward(&g.input_ids[split..], &mut a).unwrap();
            let pieces: Vec<f32> = first.logits.iter().chain(&second.logits).copied().collect();
            let c = compare(&pieces, &one_logits, SELF_TOL);
            assert!(c.passed(), "{}: prefill split at {split}: {c}", g.name);
            let d = max_state_diff(&a, &b);
            assert!(d < 1e-9, "{}: prefill split at {split} leaves another state (max diff {d:.2e})", g.name);
        }
    }
}

#[test]
fn bad_inputs_and_checkpoints_are_clear_errors() {
    let g = load_all().unwrap().into_iter().find(|g| g.name == "tiny-g2-chunk4-f32").unwrap();
    let (cfg, model) = load(&g);
    let e = model.forward(&[3, cfg.vocab_size as u32], &mut model.new_state()).err().unwrap().to_string();
    assert!(e.contains("out of range") && e.contains("vocab_size"), "{e}");
    let e = model.forward(&[], &mut model.new_state()).err().unwrap().to_string();
    assert!(e.contains("no tokens"), "{e}");
    let mut st = model.new_state();
    st.layers.pop();
    let e = model.forward(&[3], &mut st).err().unwrap().to_string();
    assert!(e.contains("layers"), "{e}");
    let ckpt = Checkpoint::open(&g.dir).unwrap();
    let mut wider = cfg.clone();
    wider.num_heads *= 2;
    wider.head_dim /= 2;
    let e = Mamba2ForCausalLM::load(&ckpt, &wider).err().expect("a wrong head count must fail").to_string();
    assert!(e.contains("backbone.layers.0.mixer.A_log") && e.contains("[16]"), "{e}");
    let mut more_state = cfg.clone();
    more_state.state_size += 1;
    let e = Mamba2ForCausalLM::load(&ckpt, &more_state).err().expect("a wrong state size must fail").to_string();
    assert!(e.contains("backbone.layers.0.mixer.in_proj.weight"), "{e}");
    let mut deeper = cfg.clone();
    deeper.num_hidden_layers += 1;
    let e = Mamba2ForCausalLM::load(&ckpt, &deeper).err().expect("a missing layer must fail").to_string();
    assert!(e.contains("backbone.layers.2."), "{e}");
    // Untied config on a checkpoint without lm_head.weight.
    let tied = load_all().unwrap().into_iter().find(|g| g.name == "tiny-g1-tied-bias-f32").unwrap();
    let mut untied = Mamba2Config::from_file(&tied.dir).unwrap();
    untied.tie_word_embeddings = false;
    let e = Mamba2ForCausalLM::load(&Checkpoint::open(&tied.dir).unwrap(), &untied).err().expect("no lm_head must fail").to_string();
    assert!(e.contains("lm_head.weight"), "{e}");
}

#[test]
fn time_step_limit_clamps_the_prefill_only() {
    let g = load_all().unwrap().into_iter().find(|g| g.name == "tiny-g2-chunk4-f32").unwrap();
    let (mut cfg, model) = load(&g);
    let ckpt = Checkpoint::open(&g.dir).unwrap();
    let base = model.forward(&g.input_ids, &mut model.new_state()).unwrap().logits;
    // A cap below most softplus(dt + dt_bias) values changes the prompt's logits...
    cfg.time_step_limit = (0.0, 1e-3);
    let capped = Mamba2ForCausalLM::load(&ckpt, &cfg).unwrap();
    let mut st = capped.new_state();
    let out = capped.forward(&g.input_ids, &mut st).unwrap().logits;
    let c = compare(&out, &base.iter().map(|&x| x as f64).collect::<Vec<_>>(), SELF_TOL);
    assert!(!c.passed(), "a time_step_limit of 1e-3 should change the prefill: {c}");
    // ...while a decode step ignores it, as transformers' selective_state_update does.
    let mut st2 = st.clone();
    let a = capped.forward(&[5], &mut st).unwrap().logits;
    let b = model.forward(&[5], &mut st2).unwrap().logits;
    assert_eq!(a, b, "decode must not clamp dt");
}
