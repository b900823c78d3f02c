//! The CPU reference `MambaForCausalLM` against HF transformers goldens
//! (tests/goldens/make_mamba_goldens.py): every block's output, the final norm, the prefill
//! logits, each layer's conv and SSM state after the prompt, and the 32 greedy steps decoded
//! through the recurrent state (tokens identical for the fp32 configs, logits of every step).
//! Then the reference against itself: prefill-then-decode and chunked prefill equal one
//! prefill of the whole sequence at the same positions. Runs in CI (no GPU needed).

use fk_mamba::goldens::{load_all, Golden};
use fk_mamba::reference::MambaForCausalLM;
use fk_mamba::MambaConfig;
use fk_runtime::compare::{compare, Tolerance};
use fk_runtime::safetensors::Checkpoint;

fn load(g: &Golden) -> (MambaConfig, MambaForCausalLM) {
    let cfg = MambaConfig::from_file(&g.dir).unwrap_or_else(|e| panic!("{}: {e}", g.name));
    let model = MambaForCausalLM::load(&Checkpoint::open(&g.dir).unwrap(), &cfg)
        .unwrap_or_else(|e| panic!("{}: {e}", g.name));
    (cfg, model)
}

fn check(g: &Golden, what: &str, ours: &[f32], key: &str, tol: Tolerance) {
    let c = compare(ours, &g.expected(key).unwrap(), tol);
    eprintln!("{} {what}: rel_l2 {:.2e}", g.name, c.rel_l2);
    assert!(c.passed(), "{} {what}: {c}", g.name);
}

#[test]
fn reference_matches_transformers_prefill_states_and_decode() {
    let goldens = load_all().unwrap();
    assert!(goldens.len() >= 3, "expected the golden configs");
    for g in &goldens {
        let (cfg, model) = load(g);
        let mut state = model.new_state();
        let out = model.forward(&g.input_ids, &mut state).unwrap();
        let (tokens, rows) = model.greedy(&g.input_ids, g.greedy.len()).unwrap();
        g.check_reference(&out, |_, _| Ok(tokens.clone()))
            .unwrap_or_else(|e| panic!("{e}"));
        for l in 0..cfg.num_hidden_layers {
            let st = &state.layers[l];
            let f = |v: &[f64]| v.iter().map(|&x| x as f32).collect::<Vec<f32>>();
            check(
                g,
                &format!("conv_state.{l}"),
                &f(&st.conv),
                &format!("conv_state.{l}"),
                g.tolerance(),
            );
            check(
                g,
                &format!("ssm_state.{l}"),
                &f(&st.ssm),
                &format!("ssm_state.{l}"),
                g.tolerance(),
            );
        }
        // The decode steps' logits, compared while both sides decoded the same tokens (bf16
        // continuations may part ways once a near-tie flips; fp32 ones must not).
        let same = tokens
            .iter()
            .zip(&g.greedy)
            .take_while(|(a, b)| a == b)
            .count();
        let v = cfg.vocab_size;
        let ours: Vec<f32> = rows[..(same + 1).min(rows.len())].concat();
        let want = g.expected("greedy_logits").unwrap();
        let c = compare(&ours, &want[..ours.len()], g.tolerance());
        eprintln!(
            "{} greedy_logits ({} steps, {same} identical tokens): rel_l2 {:.2e}",
            g.name,
            ours.len() / v,
            c.rel_l2
        );
        assert!(c.passed(), "{} greedy_logits: {c}", g.name);
    }
}

#[test]
fn prefill_then_decode_equals_whole_prefill() {
    for g in load_all().unwrap() {
        let (cfg, model) = load(&g);
        let v = cfg.vocab_size;
        let p = g.input_ids.len();
        let (tokens, rows) = model.greedy(&g.input_ids, 12).unwrap();
        let whole: Vec<u32> = g
            .input_ids
            .iter()
            .chain(&tokens[..tokens.len() - 1])
            .copied()
            .collect();
        let full = model.forward(&whole, &mut model.new_state()).unwrap();
        // Decode and prefill add the conv taps in another order (f64, then rounded), so allow
        // a last-bit difference now and then.
        let tol = Tolerance {
            atol: 1e-5,
            rtol: 1e-5,
            max_rel_l2: 1e-6,
        };
        let c = compare(
            &rows.concat(),
            &full.logits[(p - 1) * v..]
                .iter()
                .map(|&x| x as f64)
                .collect::<Vec<_>>(),
            tol,
        );
        assert!(c.passed(), "{}: decode vs whole prefill: {c}", g.name);
        // A prompt prefilled in two chunks leaves the same state and logits as in one.
        let mut a = model.new_state();
        let first = model.forward(&g.input_ids[..4], &mut a).unwrap();
        let second = model.forward(&g.input_ids[4..], &mut a).unwrap();
        let mut b = model.new_state();
        let one = model.forward(&g.input_ids, &mut b).unwrap();
        let chunked: Vec<f32> = first.logits.iter().chain(&second.logits).copied().collect();
        let c = compare(
            &chunked,
            &one.logits.iter().map(|&x| x as f64).collect::<Vec<_>>(),
            tol,
        );
        assert!(c.passed(), "{}: chunked prefill: {c}", g.name);
        assert_eq!((a.tokens, b.tokens), (p, p));
        for (x, y) in a.layers.iter().zip(&b.layers) {
            let d = x
                .ssm
                .iter()
                .zip(&y.ssm)
                .chain(x.conv.iter().zip(&y.conv))
                .map(|(p, q)| (p - q).abs())
                .fold(0.0, f64::max);
            assert!(
                d < 1e-9,
                "{}: chunked prefill leaves another state (max diff {d:.2e})",
                g.name
            );
        }
    }
}

#[test]
fn bad_inputs_and_checkpoints_are_clear_errors() {
    let g = load_all()
        .unwrap()
        .into_iter()
        .find(|g| g.name == "tiny-untied-bias-f32")
        .unwrap();
    let (cfg, model) = load(&g);
    let e = model
        .forward(&[3, cfg.vocab_size as u32], &mut model.new_state())
        .err()
        .unwrap()
        .to_string();
    assert!(
        e.contains("out of range") && e.contains("vocab_size"),
        "{e}"
    );
    let e = model
        .forward(&[], &mut model.new_state())
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("no tokens"), "{e}");
    let ckpt = Checkpoint::open(&g.dir).unwrap();
    let mut wider = cfg.clone();
    wider.state_size += 1;
    let e = MambaForCausalLM::load(&ckpt, &wider)
        .err()
        .expect("a wrong state size must fail")
        .to_string();
    assert!(e.contains("A_log") && e.contains("[96, 9]"), "{e}");
    let mut deeper = cfg.clone();
    deeper.num_hidden_layers += 1;
    let e = MambaForCausalLM::load(&ckpt, &deeper)
        .err()
        .expect("a missing layer must fail")
        .to_string();
    assert!(e.contains("backbone.layers.2."), "{e}");
}
