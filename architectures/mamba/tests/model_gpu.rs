//! The GPU `MambaForCausalLM` against HF transformers goldens and its own invariants: every
//! block's output, the final norm, the prompt logits and each layer's recurrent state after the
//! prompt match transformers (fp32 and bf16); 32 greedy tokens decoded through the state cache
//! are identical for the fp32 configs; a batch of variable-length prompts in non-consecutive
//! slots decodes each prompt as it decodes alone; prefill-then-decode equals one prefill of the
//! whole sequence; bad input (token ids, shapes, dtypes, slots, checkpoints) is a clear error.
//! GPU trials are ignored without a GPU.

use fk_baselines::Context;
use fk_mamba::goldens::{load_all, Golden};
use fk_mamba::kernels::baseline_table;
use fk_linear_attn::RecurrentLm;
use fk_mamba::{LogitsRows, MambaConfig, MambaForCausalLM, Step};
use fk_runtime::compare::{compare, Tolerance};
use fk_runtime::gpu_test::{gpu_trial, run};
use fk_runtime::rng::{fresh_seed, Rng};
use fk_runtime::{DType, Device};
use std::sync::Arc;

fn s<E: std::fmt::Display>(e: E) -> String {
    e.to_string()
}

fn setup(
    dev: &Device,
    g: &Golden,
    dtype: Option<DType>,
) -> Result<(MambaForCausalLM, Context), String> {
    let model = MambaForCausalLM::from_pretrained(dev, &g.dir, dtype).map_err(s)?;
    Ok((model, Context::new(dev, baseline_table()).map_err(s)?))
}

fn matches_transformers(dev: &Device, g: &Golden) -> Result<(), String> {
    let (model, ctx) = setup(dev, g, None)?;
    let mut cache = model.new_state_cache(1).map_err(s)?;
    let slot = cache.slots_mut().allocate().map_err(s)?;
    cache.reset(slot).map_err(s)?;
    let lens = [g.input_ids.len()];
    let out = model
        .forward(
            &ctx,
            &g.input_ids,
            Step::Prefill { lens: &lens },
            &cache,
            &[slot],
            LogitsRows::All,
            true,
        )
        .map_err(s)?;
    let mut ours = out.layer_outputs;
    ours.push(out.final_norm);
    ours.push(out.logits);
    let mut report = Vec::new();
    let mut check = |key: &str, got: &[f32]| -> Result<(), String> {
        let c = compare(got, &g.expected(key).map_err(s)?, g.tolerance());
        c.check(&format!("{} {key}", g.name))?;
        report.push(format!("{key} {:.1e}", c.rel_l2));
        Ok(())
    };
    for (key, got) in g.keys().iter().zip(&ours) {
        check(key, got)?;
    }
    for l in 0..model.config.num_hidden_layers {
        check(
            &format!("conv_state.{l}"),
            &cache.conv(l).map_err(s)?.to_f32().map_err(s)?,
        )?;
        check(
            &format!("ssm_state.{l}"),
            &cache.ssm(l).map_err(s)?.to_f32().map_err(s)?,
        )?;
    }
    let (tokens, rows) = model
        .greedy(&ctx, std::slice::from_ref(&g.input_ids), g.greedy.len())
        .map_err(s)?;
    let same = tokens[0]
        .iter()
        .zip(&g.greedy)
        .take_while(|(a, b)| a == b)
        .count();
    let v = model.config.vocab_size;
    let ours: Vec<f32> = rows[0][..(same + 1).min(rows[0].len())].concat();
    let want = g.expected("greedy_logits").map_err(s)?;
    let c = compare(&ours, &want[..ours.len()], g.tolerance());
    c.check(&format!("{} greedy_logits", g.name))?;
    eprintln!(
        "{}: rel_l2 {}; greedy {same}/{} tokens as transformers, their logits {:.1e} over {} steps",
        g.name,
        report.join(", "),
        g.greedy.len(),
        c.rel_l2,
        ours.len() / v
    );
    if !g.is_bf16() && tokens[0] != g.greedy {
        return Err(format!(
            "{}: greedy differs from transformers after {same} tokens:\n ours {:?}\n  hf  {:?}",
            g.name, tokens[0], g.greedy
        ));
    }
    Ok(())
}

/// The graph-capturable decode step (`decode_step`: preallocated buffers, states read by slot,
/// what the engine replays as a CUDA graph), fed transformers' greedy tokens after the prompt:
/// its logits at every step match transformers' (fp32 and bf16 alike: the tokens are forced,
/// so a bf16 argmax tie cannot make the two runs diverge).
fn decode_step_matches_transformers(dev: &Device, g: &Golden) -> Result<(), String> {
    let (model, ctx) = setup(dev, g, None)?;
    let mut cache = model.new_state_cache(2).map_err(s)?;
    // Slot 1 of 2: the step reads its state through the slot table, not row 0 by accident.
    let slots = cache.slots_mut().allocate_many(2).map_err(s)?;
    let slot = slots[1];
    cache.reset(slot).map_err(s)?;
    let lens = [g.input_ids.len()];
    let prefill = model
        .forward(&ctx, &g.input_ids, Step::Prefill { lens: &lens }, &cache, &[slot], LogitsRows::Last, false)
        .map_err(s)?;
    let mut ours = prefill.logits;
    let mut bufs = model.decode_buffers(&cache, 1).map_err(s)?;
    for &t in &g.greedy[..g.greedy.len() - 1] {
        model.stage_decode(&mut bufs, &cache, &[t], &[slot]).map_err(s)?;
        model.decode_step(&ctx, &cache, &bufs).map_err(s)?;
        let row = bufs.logits().and_then(|l| l.to_f32()).map_err(s)?;
        if row.iter().any(|v| v.is_nan()) {
            return Err(format!("{}: NaN logits from decode_step", g.name));
        }
        ours.extend(row);
    }
    let want = g.expected("greedy_logits").map_err(s)?;
    if want.len() != ours.len() {
        return Err(format!("{}: {} logits from decode_step, transformers has {}", g.name, ours.len(), want.len()));
    }
    let c = compare(&ours, &want, g.tolerance());
    c.check(&format!("{} decode_step logits (teacher-forced)", g.name))?;
    eprintln!("{}: decode_step logits over {} steps {:.1e} from transformers", g.name, g.greedy.len(), c.rel_l2);
    Ok(())
}

/// Variable-length prompts batched into slots [3, 0, 2] (gathered/scattered, not a view)
/// decode as each does alone; and prefill-then-decode equals the prefill of the whole sequence.
fn batch_and_decode_invariants(dev: &Device, g: &Golden) -> Result<(), String> {
    let (model, ctx) = setup(dev, g, None)?;
    let seed = fresh_seed();
    let mut rng = Rng::new(seed);
    let v = model.config.vocab_size;
    let prompts: Vec<Vec<u32>> = [g.input_ids.len(), 1, 17]
        .iter()
        .enumerate()
        .map(|(i, &len)| {
            if i == 0 {
                g.input_ids.clone()
            } else {
                (0..len).map(|_| rng.range(1, v as i64) as u32).collect()
            }
        })
        .collect();
    let n = 12;
    let mut cache = model.new_state_cache(4).map_err(s)?;
    let all = cache.slots_mut().allocate_many(4).map_err(s)?;
    cache.slots_mut().free(1).map_err(s)?;
    let slots = [all[3], all[0], all[2]];
    for &sl in &slots {
        cache.reset(sl).map_err(s)?;
    }
    let lens: Vec<usize> = prompts.iter().map(Vec::len).collect();
    let mut out = model
        .forward(
            &ctx,
            &prompts.concat(),
            Step::Prefill { lens: &lens },
            &cache,
            &slots,
            LogitsRows::Last,
            false,
        )
        .map_err(s)?;
    let mut batched = vec![Vec::new(); prompts.len()];
    for step in 0..n {
        let next: Vec<u32> = out
            .logits
            .chunks_exact(v)
            .map(fk_mamba::model::argmax)
            .collect();
        for (b, &t) in batched.iter_mut().zip(&next) {
            b.push(t);
        }
        if step + 1 < n {
            out = model
                .forward(
                    &ctx,
                    &next,
                    Step::Decode,
                    &cache,
                    &slots,
                    LogitsRows::All,
                    false,
                )
                .map_err(s)?;
        }
    }
    let tol = if g.is_bf16() {
        g.tolerance()
    } else {
        Tolerance {
            atol: 1e-4,
            rtol: 1e-3,
            max_rel_l2: 1e-5,
        }
    };
    for (i, p) in prompts.iter().enumerate() {
        let (alone, rows) = model.greedy(&ctx, std::slice::from_ref(p), n).map_err(s)?;
        // fp32 must give the same tokens; bf16 GEMMs of other row counts may round differently.
        if !g.is_bf16() && alone[0] != batched[i] {
            return Err(format!("{} [seed {seed}]: prompt {i} (len {}) decodes differently in a batch:\n batch {:?}\n alone {:?}", g.name, p.len(), batched[i], alone[0]));
        }
        // Prefill of prompt + the first n-1 generated tokens: its last n rows are the decode steps' logits.
        let whole: Vec<u32> = p.iter().chain(&alone[0][..n - 1]).copied().collect();
        let mut c1 = model.new_state_cache(1).map_err(s)?;
        let sl = c1.slots_mut().allocate().map_err(s)?;
        c1.reset(sl).map_err(s)?;
        let full = model
            .forward(
                &ctx,
                &whole,
                Step::Prefill {
                    lens: &[whole.len()],
                },
                &c1,
                &[sl],
                LogitsRows::All,
                false,
            )
            .map_err(s)?;
        let want: Vec<f64> = full.logits[(p.len() - 1) * v..]
            .iter()
            .map(|&x| x as f64)
            .collect();
        compare(&rows[0].concat(), &want, tol).check(&format!(
            "{} [seed {seed}] prompt {i}: decode steps vs whole prefill",
            g.name
        ))?;
    }
    Ok(())
}

fn expect_err<T>(r: fk_runtime::Result<T>, what: &str, needles: &[&str]) -> Result<(), String> {
    match r {
        Ok(_) => Err(format!("{what}: expected an error")),
        Err(e) => {
            let e = e.to_string();
            match needles.iter().find(|n| !e.contains(*n)) {
                Some(n) => Err(format!("{what}: error `{e}` should mention `{n}`")),
                None => Ok(()),
            }
        }
    }
}

fn bad_inputs(dev: &Device, g: &Golden) -> Result<(), String> {
    let (model, ctx) = setup(dev, g, None)?;
    let v = model.config.vocab_size as u32;
    let mut cache = model.new_state_cache(2).map_err(s)?;
    let slot = cache.slots_mut().allocate().map_err(s)?;
    let pre = |ids: &[u32], lens: &[usize], slots: &[usize]| {
        model
            .forward(
                &ctx,
                ids,
                Step::Prefill { lens },
                &cache,
                slots,
                LogitsRows::Last,
                false,
            )
            .map(|_| ())
    };
    expect_err(
        pre(&[1, v], &[2], &[slot]),
        "token id out of range",
        &["id", "vocabulary"],
    )?;
    expect_err(
        pre(&[1, 2, 3], &[2], &[slot]),
        "lengths that do not add up",
        &["add up"],
    )?;
    expect_err(
        pre(&[1, 2], &[1, 1], &[slot]),
        "more sequences than slots",
        &["2 sequence lengths for 1 state slots"],
    )?;
    expect_err(pre(&[1, 2], &[2], &[1]), "an unallocated slot", &["slot 1"])?;
    expect_err(
        pre(&[1, 2], &[2], &[7]),
        "a slot out of range",
        &["out of range"],
    )?;
    expect_err(
        model
            .forward(
                &ctx,
                &[1, 2],
                Step::Decode,
                &cache,
                &[slot],
                LogitsRows::All,
                false,
            )
            .map(|_| ()),
        "decode with 2 tokens for 1 slot",
        &["one token per sequence"],
    )?;
    let other = MambaForCausalLM::from_pretrained(
        dev,
        &g.dir,
        Some(if model.dtype == DType::F32 {
            DType::BF16
        } else {
            DType::F32
        }),
    )
    .map_err(s)?;
    expect_err(
        other.forward(
            &ctx,
            &[1],
            Step::Decode,
            &cache,
            &[slot],
            LogitsRows::All,
            false,
        ),
        "a state cache of another dtype",
        &["not made for this model"],
    )?;
    expect_err(
        MambaForCausalLM::from_pretrained(dev, &g.dir, Some(DType::I32)),
        "i32 weights",
        &["not supported"],
    )?;
    // A config that disagrees with the checkpoint names the tensor.
    let tmp = std::env::temp_dir().join(format!("fk-mamba-bad-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).map_err(s)?;
    std::fs::copy(
        g.dir.join("model.safetensors"),
        tmp.join("model.safetensors"),
    )
    .map_err(s)?;
    let mut cfg: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(g.dir.join("config.json")).map_err(s)?)
            .map_err(s)?;
    cfg["state_size"] = serde_json::json!(model.config.state_size + 1);
    std::fs::write(tmp.join("config.json"), cfg.to_string()).map_err(s)?;
    let r = expect_err(
        MambaForCausalLM::from_pretrained(dev, &tmp, None),
        "state_size off by one",
        &["x_proj.weight"],
    );
    std::fs::remove_dir_all(&tmp).ok();
    r?;
    // The model still works after every refusal.
    model.greedy(&ctx, &[vec![1, 2, 3]], 2).map_err(s)?;
    Ok(())
}

/// Two layers of mamba-2.8b's real shapes with random bf16 weights: prefill of a long and a
/// short prompt and a few decode steps stay finite and the logits are not degenerate.
fn random_2_8b_shapes_are_finite(dev: &Device) -> Result<(), String> {
    let mut cfg = MambaConfig::mamba_2_8b();
    cfg.num_hidden_layers = 2;
    let model = MambaForCausalLM::random(dev, &cfg, DType::BF16, 7).map_err(s)?;
    let ctx = Context::new(dev, baseline_table()).map_err(s)?;
    let prompt: Vec<u32> = (0..300).map(|i| (i * 7919 % 50000) as u32).collect();
    let (tokens, rows) = model
        .greedy(&ctx, &[prompt.clone(), prompt[..5].to_vec()], 8)
        .map_err(s)?;
    let last = &rows[0][7];
    if rows.iter().flatten().flatten().any(|x| !x.is_finite()) {
        return Err("non-finite logits".into());
    }
    let (mn, mx) = last
        .iter()
        .fold((f32::MAX, f32::MIN), |(a, b), &x| (a.min(x), b.max(x)));
    if mx - mn < 1e-3 {
        return Err(format!("degenerate logits: range {mn}..{mx}"));
    }
    eprintln!("random mamba-2.8b-shaped (2 layers, bf16): logits range {mn:.3}..{mx:.3}, tokens {tokens:?}");
    Ok(())
}

/// The one-kernel decode step (`mamba_decode_layers`, taken at one row on sm_90) against the
/// per-op step, on 6 layers of mamba-2.8b's real shapes with random bf16 weights: the same
/// prompt prefilled into two slots, then 12 teacher-forced decode steps each way. Logits and
/// every layer's states must agree to bf16 tolerance at every step (the two sum in different
/// orders); the one-kernel path must actually have been taken (it applies to this shape).
fn one_kernel_decode_step_matches_per_op_step(dev: &Device) -> Result<(), String> {
    let mut cfg = MambaConfig::mamba_2_8b();
    cfg.num_hidden_layers = 6;
    let model = MambaForCausalLM::random(dev, &cfg, DType::BF16, 11).map_err(s)?;
    let ctx = Context::new(dev, baseline_table()).map_err(s)?;
    let m = &model.stack().blocks[0].1;
    if !fk_baselines::ops::mamba_decode_layers_supported(dev, DType::BF16, cfg.hidden_size, cfg.intermediate_size, m.time_step_rank, m.state_size, m.conv_weight.dim(1)) {
        return Err(format!("mamba_decode_layers does not take mamba-2.8b's shapes on {} (build {})", dev.info().name, fk_baselines::COMPUTE_CAP));
    }
    let mut cache = model.new_state_cache(2).map_err(s)?;
    let slots = cache.slots_mut().allocate_many(2).map_err(s)?;
    let prompt: Vec<u32> = (0..37).map(|i| (i * 7919 % 50000) as u32).collect();
    for &slot in &slots {
        cache.reset(slot).map_err(s)?;
        model.forward(&ctx, &prompt, Step::Prefill { lens: &[prompt.len()] }, &cache, &[slot], LogitsRows::Last, false).map_err(s)?;
    }
    let mut one = model.decode_buffers(&cache, 1).map_err(s)?;
    let mut per_op = model.decode_buffers(&cache, 1).map_err(s)?;
    one.mixer_mut().one_kernel = true;
    per_op.mixer_mut().one_kernel = false;
    // The two paths round at different points; a flip in one block moves all after it.
    let tol = fk_baselines::ops::mamba_decode_tolerance(DType::BF16, cfg.num_hidden_layers);
    let (mut worst, mut worst_state) = (0.0f64, 0.0f64);
    for step in 0..12u32 {
        let t = 17 + 101 * step;
        let mut logits = Vec::new();
        for (bufs, &slot) in [(&mut one, &slots[0]), (&mut per_op, &slots[1])] {
            model.stage_decode(bufs, &cache, &[t], &[slot]).map_err(s)?;
            model.decode_step(&ctx, &cache, bufs).map_err(s)?;
            logits.push(bufs.logits().and_then(|l| l.to_f32()).map_err(s)?);
        }
        if logits[0].iter().any(|v| !v.is_finite()) {
            return Err(format!("step {step}: non-finite logits from the one-kernel step"));
        }
        let want: Vec<f64> = logits[1].iter().map(|&v| v as f64).collect();
        let c = compare(&logits[0], &want, tol);
        c.check(&format!("step {step} logits, one kernel vs per op"))?;
        worst = worst.max(c.rel_l2);
        for l in 0..cfg.num_hidden_layers {
            for (what, t) in [("conv", cache.conv(l).map_err(s)?), ("ssm", cache.ssm(l).map_err(s)?)] {
                let all = t.to_f32().map_err(s)?;
                let row = all.len() / 2;
                let want: Vec<f64> = all[row..].iter().map(|&v| v as f64).collect();
                let c = compare(&all[..row], &want, tol);
                c.check(&format!("step {step} layer {l} {what} state, one kernel vs per op"))?;
                worst_state = worst_state.max(c.rel_l2);
            }
        }
    }
    eprintln!("one-kernel vs per-op decode step, 6 layers of mamba-2.8b, 12 steps: logits rel_l2 <= {worst:.1e}, states <= {worst_state:.1e}");
    Ok(())
}

/// `streamed_weight_bytes` (the decode roofline `cargo fastkernels eval` reports against)
/// counts every parameter once, from the config: tied and untied, with and without biases.
fn streamed_weight_bytes_counts_every_parameter(dev: &Device, g: &Golden) -> Result<(), String> {
    for dtype in [DType::F32, DType::BF16] {
        let (model, _) = setup(dev, g, Some(dtype))?;
        let c = &model.config;
        let (h, i, n, r, k) = (
            c.hidden_size,
            c.intermediate_size,
            c.state_size,
            c.time_step_rank,
            c.conv_kernel,
        );
        let biases = if c.use_bias { 2 * i + h } else { 0 } + if c.use_conv_bias { i } else { 0 };
        // Model-dtype matrices and norms; dt_bias, A and D in f32.
        let per_layer = (2 * i * h + i * k + c.x_proj_dim() * i + i * r + h * i + h + biases)
            * dtype.size()
            + (i + i * n + i) * 4;
        let want =
            c.num_hidden_layers * per_layer + h * dtype.size() + c.vocab_size * h * dtype.size();
        let got = model.streamed_weight_bytes();
        if got != want {
            return Err(format!(
                "{} {dtype}: streamed_weight_bytes {got}, expected {want}",
                g.name
            ));
        }
    }
    Ok(())
}

fn main() {
    let goldens = load_all().expect("tests/goldens/mamba loads");
    let mut trials = Vec::new();
    for g in goldens {
        let g = Arc::new(g);
        let (a, b) = (g.clone(), g.clone());
        trials.push(gpu_trial(
            format!("goldens/{}/matches transformers", g.name),
            move |dev| matches_transformers(dev, &a),
        ));
        trials.push(gpu_trial(
            format!(
                "goldens/{}/batch == alone, prefill+decode == whole prefill",
                g.name
            ),
            move |dev| batch_and_decode_invariants(dev, &b),
        ));
        let d = g.clone();
        trials.push(gpu_trial(
            format!("goldens/{}/decode_step == transformers (teacher-forced)", g.name),
            move |dev| decode_step_matches_transformers(dev, &d),
        ));
        let w = g.clone();
        trials.push(gpu_trial(
            format!("goldens/{}/streamed_weight_bytes", g.name),
            move |dev| streamed_weight_bytes_counts_every_parameter(dev, &w),
        ));
        if g.name == "tiny-untied-bias-f32" {
            let c = g.clone();
            trials.push(gpu_trial(
                "errors/bad ids, shapes, slots, dtypes and checkpoints",
                move |dev| bad_inputs(dev, &c),
            ));
        }
    }
    trials.push(gpu_trial(
        "random weights/mamba-2.8b shapes, 2 layers, finite",
        random_2_8b_shapes_are_finite,
    ));
    trials.push(gpu_trial(
        "random weights/mamba-2.8b shapes, one-kernel decode step == per-op step",
        one_kernel_decode_step_matches_per_op_step,
    ));
    run(trials)
}
