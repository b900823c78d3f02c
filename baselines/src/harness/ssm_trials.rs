//! SSM GPU trials beyond the per-case ones (those come from `default_test_cases`):
//! - prefill in two pieces, the second starting from the state the first left behind (the
//!   state buffer updated in place, as a chunked-prefill engine does), equals prefill in one
//!   piece: causal_conv1d and selective_scan, several sequences split at random points;
//! - prefill then decode steps (causal_conv1d_update, selective_state_update) equals a longer
//!   prefill: the decode ops continue exactly where the prefill ops stop;
//! - bad input for each op: a named `Err`, never a launch.

use super::errors::expect_err;
use super::instances::random;
use crate::ops::{self, CausalConv1d, DecodeTokens, PrefillStates, ScanTokens, SelectiveScan, SeqLens, StateUpdate};
use crate::table::OpTable;
use fk_runtime::compare::{compare, Tolerance};
use fk_runtime::gpu_test::{gpu_trial, TestTrial};
use fk_runtime::rng::{fresh_seed, Rng};
use fk_runtime::{DType, Device, Error, Tensor};

pub(super) type R<T> = std::result::Result<T, String>;

pub(super) fn e<T>(r: fk_runtime::Result<T>) -> R<T> {
    r.map_err(|e| e.to_string())
}

pub(super) fn cumsum(lens: &[usize]) -> Vec<usize> {
    let mut cu = vec![0];
    for &l in lens {
        cu.push(cu[cu.len() - 1] + l);
    }
    cu
}

/// Rows `[cu[s] + lo(s), cu[s] + hi(s))` of every sequence s of a `[tokens, width]` matrix.
pub(super) fn gather(v: &[f32], width: usize, cu: &[usize], part: impl Fn(usize, usize) -> (usize, usize)) -> Vec<f32> {
    let mut out = Vec::new();
    for s in 0..cu.len() - 1 {
        let (lo, hi) = part(s, cu[s + 1] - cu[s]);
        out.extend_from_slice(&v[(cu[s] + lo) * width..(cu[s] + hi) * width]);
    }
    out
}

pub(super) fn f64s(v: &[f32]) -> Vec<f64> {
    v.iter().map(|&x| x as f64).collect()
}

/// Split points: sequence 0 in its middle, the others anywhere in 0..=len.
pub(super) fn splits(rng: &mut Rng, lens: &[usize]) -> Vec<usize> {
    lens.iter().enumerate().map(|(i, &l)| if i == 0 { l / 2 } else { rng.range(0, l as i64 + 1) as usize }).collect()
}

pub(super) fn with_seed(name: &str, f: impl FnOnce(&mut Rng) -> R<()>) -> R<()> {
    let seed = fresh_seed();
    let mut rng = Rng::new(seed);
    f(&mut rng).map_err(|m| format!("{m}\n  [{name}, seed {seed}: replay with FASTKERNELS_SEED={seed}]"))
}

/// causal_conv1d over `lens` in one piece, and in two with the state cache updated in place.
fn conv_pieces(dev: &Device, dtype: DType, lens: &[usize], dim: usize, width: usize) -> R<()> {
    with_seed("causal_conv1d pieces", |rng| {
        let t = OpTable::baseline();
        let (cu, k, b) = (cumsum(lens), width - 1, lens.len());
        let tokens = cu[b];
        let hx = random(rng, tokens * dim, 0.0, 1.0, dtype);
        let w = e(Tensor::from_f32(dev, &random(rng, dim * width, 0.0, 0.5, dtype), &[dim, width], dtype))?;
        let bias = e(Tensor::from_f32(dev, &random(rng, dim, 0.0, 0.5, dtype), &[dim], dtype))?;
        let hinit = random(rng, b * dim * k, 0.0, 1.0, dtype);
        let conv = CausalConv1d { weight: &w, bias: Some(&bias), silu: true };

        let x = e(Tensor::from_f32(dev, &hx, &[tokens, dim], dtype))?;
        let init = e(Tensor::from_f32(dev, &hinit, &[b, dim, k], dtype))?;
        let (out, fin) = (e(Tensor::empty(dev, &[tokens, dim], dtype))?, e(Tensor::empty(dev, &[b, dim, k], dtype))?);
        e(out.poison())?;
        e(fin.poison())?;
        let whole = e(SeqLens::new(dev, &cu))?;
        e(ops::causal_conv1d(&t, &conv, &x, &whole, PrefillStates { initial: Some(&init), final_state: Some(&fin) }, &out))?;
        let (y, st) = (e(out.to_f32())?, e(fin.to_f32())?);

        let cut = splits(rng, lens);
        let cache = e(Tensor::from_f32(dev, &hinit, &[b, dim, k], dtype))?;
        let mut got = Vec::new();
        for piece in 0..2 {
            let part = |s: usize, l: usize| if piece == 0 { (0, cut[s]) } else { (cut[s], l) };
            let plens: Vec<usize> = (0..b).map(|s| { let (lo, hi) = part(s, lens[s]); hi - lo }).collect();
            let n: usize = plens.iter().sum();
            let xp = e(Tensor::from_f32(dev, &gather(&hx, dim, &cu, part), &[n, dim], dtype))?;
            let op = e(Tensor::empty(dev, &[n, dim], dtype))?;
            e(op.poison())?;
            let sl = e(SeqLens::from_lens(dev, &plens))?;
            e(ops::causal_conv1d(&t, &conv, &xp, &sl, PrefillStates { initial: Some(&cache), final_state: Some(&cache) }, &op))?;
            got.push((e(op.to_f32())?, gather(&y, dim, &cu, part)));
        }
        for (i, (g, want)) in got.iter().enumerate() {
            compare(g, &f64s(want), Tolerance::for_dtype(dtype)).check(&format!("piece {i} out vs one-piece out (splits {cut:?})"))?;
        }
        compare(&e(cache.to_f32())?, &f64s(&st), Tolerance::for_dtype(DType::I32)).check("state after two pieces vs after one")
    })
}

/// Host inputs of a full-featured scan over `tokens` tokens.
struct ScanData {
    u: Vec<f32>,
    delta: Vec<f32>,
    z: Vec<f32>,
    b: Vec<f32>,
    c: Vec<f32>,
}

/// selective_scan in one piece and in two (states in place).
fn scan_pieces(dev: &Device, dtype: DType, lens: &[usize], dim: usize, n: usize) -> R<()> {
    with_seed("selective_scan pieces", |rng| {
        let t = OpTable::baseline();
        let (cu, bt) = (cumsum(lens), lens.len());
        let tokens = cu[bt];
        let h = ScanData {
            u: random(rng, tokens * dim, 0.0, 1.0, dtype),
            delta: random(rng, tokens * dim, 0.0, 0.5, dtype),
            z: random(rng, tokens * dim, 0.0, 1.0, dtype),
            b: random(rng, tokens * n, 0.0, 1.0, dtype),
            c: random(rng, tokens * n, 0.0, 1.0, dtype),
        };
        let f32t = |v: &[f32], shape: &[usize]| e(Tensor::from_f32(dev, v, shape, DType::F32));
        let a = f32t(&(0..dim * n).map(|i| -(0.5 + (i % 13) as f32)).collect::<Vec<_>>(), &[dim, n])?;
        let d = f32t(&rng.normal_vec(dim, 0.0, 1.0), &[dim])?;
        let db = f32t(&rng.uniform_vec(dim, -4.0, -1.0), &[dim])?;
        let hinit = rng.normal_vec(bt * dim * n, 0.0, 1.0);
        let scan = SelectiveScan { a: &a, d: Some(&d), delta_bias: Some(&db), delta_softplus: true };
        let run = |part: &dyn Fn(usize, usize) -> (usize, usize), init: &Tensor, fin: &Tensor| -> R<Vec<f32>> {
            let plens: Vec<usize> = (0..bt).map(|s| { let (lo, hi) = part(s, lens[s]); hi - lo }).collect();
            let m: usize = plens.iter().sum();
            let up = |v: &[f32], w: usize| e(Tensor::from_f32(dev, &gather(v, w, &cu, part), &[m, w], dtype));
            let (u, dl, z, b, c) = (up(&h.u, dim)?, up(&h.delta, dim)?, up(&h.z, dim)?, up(&h.b, n)?, up(&h.c, n)?);
            let out = e(Tensor::empty(dev, &[m, dim], dtype))?;
            e(out.poison())?;
            let sl = e(SeqLens::from_lens(dev, &plens))?;
            let inp = ScanTokens { u: &u, delta: &dl, b: &b, c: &c, z: Some(&z) };
            e(ops::selective_scan(&t, &scan, &inp, &sl, PrefillStates { initial: Some(init), final_state: Some(fin) }, &out))?;
            e(out.to_f32())
        };
        let init = f32t(&hinit, &[bt, dim, n])?;
        let fin = e(Tensor::empty(dev, &[bt, dim, n], DType::F32))?;
        e(fin.poison())?;
        let y = run(&|_, l| (0, l), &init, &fin)?;
        let st = e(fin.to_f32())?;
        let cut = &splits(rng, lens);
        let cache = f32t(&hinit, &[bt, dim, n])?;
        for piece in 0..2 {
            let part = move |s: usize, l: usize| if piece == 0 { (0, cut[s]) } else { (cut[s], l) };
            let got = run(&part, &cache, &cache)?;
            compare(&got, &f64s(&gather(&y, dim, &cu, part)), Tolerance::for_dtype(dtype)).check(&format!("piece {piece} y vs one-piece y (splits {cut:?})"))?;
        }
        compare(&e(cache.to_f32())?, &f64s(&st), Tolerance::for_dtype(DType::F32)).check("state after two pieces vs after one")
    })
}

/// Prefill all but the last `steps` tokens of each sequence, then decode them one at a time
/// (Mamba-1: causal_conv1d_update and selective_state_update); compare with the full prefill.
fn prefill_then_decode(dev: &Device, dtype: DType, lens: &[usize], dim: usize, n: usize, steps: usize) -> R<()> {
    with_seed("prefill then decode", |rng| {
        let t = OpTable::baseline();
        let (cu, bt) = (cumsum(lens), lens.len());
        let tokens = cu[bt];
        let width = 4;
        let hx = random(rng, tokens * dim, 0.0, 1.0, dtype);
        let h = ScanData {
            u: hx.clone(),
            delta: random(rng, tokens * dim, 0.0, 0.5, dtype),
            z: random(rng, tokens * dim, 0.0, 1.0, dtype),
            b: random(rng, tokens * n, 0.0, 1.0, dtype),
            c: random(rng, tokens * n, 0.0, 1.0, dtype),
        };
        let up = |v: &[f32], shape: &[usize], dt: DType| e(Tensor::from_f32(dev, v, shape, dt));
        let w = up(&random(rng, dim * width, 0.0, 0.5, dtype), &[dim, width], dtype)?;
        let conv = CausalConv1d { weight: &w, bias: None, silu: true };
        let a = up(&(0..dim * n).map(|i| -(0.5 + (i % 7) as f32)).collect::<Vec<_>>(), &[dim, n], DType::F32)?;
        let d = up(&rng.normal_vec(dim, 0.0, 1.0), &[dim], DType::F32)?;
        let db = up(&rng.uniform_vec(dim, -4.0, -1.0), &[dim], DType::F32)?;
        let scan = SelectiveScan { a: &a, d: Some(&d), delta_bias: Some(&db), delta_softplus: true };
        let upd = StateUpdate { a: &a, d: Some(&d), dt_bias: Some(&db), dt_softplus: true, ngroups: 1, state_settled: false, dt_proj: None };

        // Whole prefill.
        let whole = e(SeqLens::new(dev, &cu))?;
        let x = up(&hx, &[tokens, dim], dtype)?;
        let cy = e(Tensor::empty(dev, &[tokens, dim], dtype))?;
        e(ops::causal_conv1d(&t, &conv, &x, &whole, PrefillStates::default(), &cy))?;
        let (dl, z) = (up(&h.delta, &[tokens, dim], dtype)?, up(&h.z, &[tokens, dim], dtype)?);
        let (b, c) = (up(&h.b, &[tokens, n], dtype)?, up(&h.c, &[tokens, n], dtype)?);
        let sy = e(Tensor::empty(dev, &[tokens, dim], dtype))?;
        e(ops::selective_scan(&t, &scan, &ScanTokens { u: &x, delta: &dl, b: &b, c: &c, z: Some(&z) }, &whole, PrefillStates::default(), &sy))?;
        let (conv_y, scan_y) = (e(cy.to_f32())?, e(sy.to_f32())?);

        // Prefill of the heads, leaving the states.
        let head = |_s: usize, l: usize| (0, l - steps.min(l));
        let hl: Vec<usize> = lens.iter().map(|&l| l - steps.min(l)).collect();
        let m: usize = hl.iter().sum();
        let sl = e(SeqLens::from_lens(dev, &hl))?;
        let g = |v: &[f32], wd: usize, dt: DType| up(&gather(v, wd, &cu, head), &[m, wd], dt);
        let conv_state = e(Tensor::zeros(dev, &[bt, dim, width - 1], dtype))?;
        let ssm_state = e(Tensor::zeros(dev, &[bt, dim, n], DType::F32))?;
        let (xh, yh) = (g(&hx, dim, dtype)?, e(Tensor::empty(dev, &[m, dim], dtype))?);
        e(ops::causal_conv1d(&t, &conv, &xh, &sl, PrefillStates { initial: None, final_state: Some(&conv_state) }, &yh))?;
        let inp = ScanTokens { u: &xh, delta: &g(&h.delta, dim, dtype)?, b: &g(&h.b, n, dtype)?, c: &g(&h.c, n, dtype)?, z: Some(&g(&h.z, dim, dtype)?) };
        e(ops::selective_scan(&t, &scan, &inp, &sl, PrefillStates { initial: None, final_state: Some(&ssm_state) }, &yh))?;

        // Decode the tails, one token per sequence per step.
        for j in 0..steps {
            let row = |v: &[f32], wd: usize| -> Vec<f32> { (0..bt).flat_map(|s| { let r = cu[s + 1] - steps + j; v[r * wd..(r + 1) * wd].to_vec() }).collect() };
            let xs = up(&row(&hx, dim), &[bt, dim], dtype)?;
            let out = e(Tensor::empty(dev, &[bt, dim], dtype))?;
            e(out.poison())?;
            e(ops::causal_conv1d_update(&t, &conv, &xs, &conv_state, &out))?;
            compare(&e(out.to_f32())?, &f64s(&row(&conv_y, dim)), Tolerance::for_dtype(dtype)).check(&format!("conv decode step {j} vs prefill"))?;
            let di = DecodeTokens { x: &xs, dt: &up(&row(&h.delta, dim), &[bt, dim], dtype)?, b: &up(&row(&h.b, n), &[bt, n], dtype)?, c: &up(&row(&h.c, n), &[bt, n], dtype)?, z: Some(&up(&row(&h.z, dim), &[bt, dim], dtype)?) };
            e(out.poison())?;
            e(ops::selective_state_update(&t, &upd, &di, &ssm_state, &out))?;
            compare(&e(out.to_f32())?, &f64s(&row(&scan_y, dim)), Tolerance::for_dtype(dtype)).check(&format!("scan decode step {j} vs prefill"))?;
        }
        Ok(())
    })
}

pub fn ssm_trials() -> Vec<TestTrial> {
    let mut v = Vec::new();
    for dtype in DType::FLOATS {
        for &(lens, dim, width) in &[(&[37usize, 100, 5][..], 100usize, 4usize), (&[130, 2, 64][..], 256, 3), (&[300][..], 40, 2)] {
            v.push(gpu_trial(format!("causal_conv1d/two pieces with the state in place = one piece/{dtype}/lens {lens:?} dim {dim} w{width}"), move |dev| {
                conv_pieces(dev, dtype, lens, dim, width)
            }));
        }
        for &(lens, dim, n) in &[(&[37usize, 100, 5][..], 100usize, 16usize), (&[200, 64][..], 48, 16), (&[300][..], 20, 40), (&[600, 257, 3][..], 40, 16), (&[2600, 2200][..], 64, 16)] {
            v.push(gpu_trial(format!("selective_scan/two pieces with the state in place = one piece/{dtype}/lens {lens:?} dim {dim} N{n}"), move |dev| {
                scan_pieces(dev, dtype, lens, dim, n)
            }));
        }
        for &(lens, dim, n) in &[(&[10usize, 70, 4][..], 100usize, 16usize), (&[130][..], 64, 16)] {
            v.push(gpu_trial(format!("selective_state_update/prefill then 3 decode steps = longer prefill (with causal_conv1d_update)/{dtype}/lens {lens:?} dim {dim} N{n}"), move |dev| {
                prefill_then_decode(dev, dtype, lens, dim, n, 3)
            }));
        }
    }
    v.extend(error_trials());
    v.extend(super::ssd_trials::ssd_trials());
    v.extend(super::slot_trials::slot_trials());
    v.extend(super::linear_conv_trials::linear_conv_trials());
    v.extend(super::dt_proj_trials::dt_proj_trials());
    v
}

pub(super) fn is_shape(e: &Error) -> bool {
    matches!(e, Error::Shape { .. })
}
pub(super) fn is_dtype(e: &Error) -> bool {
    matches!(e, Error::DType { .. })
}
pub(super) fn is_bad(e: &Error) -> bool {
    matches!(e, Error::BadInput { .. })
}

fn error_trials() -> Vec<TestTrial> {
    let t = OpTable::baseline;
    vec![
        gpu_trial("causal_conv1d/errors: width 5, inconsistent cu_seqlens, token count, weight dtype, state shape, aliasing, int input", move |dev| {
            let bf = DType::BF16;
            let x = e(Tensor::zeros(dev, &[8, 16], bf))?;
            let out = e(Tensor::zeros(dev, &[8, 16], bf))?;
            let w = e(Tensor::zeros(dev, &[16, 4], bf))?;
            let sl = e(SeqLens::new(dev, &[0, 3, 8]))?;
            let conv = CausalConv1d { weight: &w, bias: None, silu: true };
            e(ops::causal_conv1d(&t(), &conv, &x, &sl, PrefillStates::default(), &out)).map_err(|m| format!("a valid call must pass: {m}"))?;
            let w5 = e(Tensor::zeros(dev, &[16, 5], bf))?;
            expect_err(ops::causal_conv1d(&t(), &CausalConv1d { weight: &w5, ..conv }, &x, &sl, PrefillStates::default(), &out), "width 5", is_shape, "width 5")?;
            expect_err(SeqLens::new(dev, &[0, 5, 3, 8]).map(|_| ()), "decreasing cu_seqlens", is_bad, "decreases")?;
            expect_err(SeqLens::new(dev, &[1, 8]).map(|_| ()), "cu_seqlens not from 0", is_bad, "cu_seqlens")?;
            let sl9 = e(SeqLens::new(dev, &[0, 9]))?;
            expect_err(ops::causal_conv1d(&t(), &conv, &x, &sl9, PrefillStates::default(), &out), "9 tokens for 8 rows", is_shape, "cu_seqlens ends at 9")?;
            let w32 = e(Tensor::zeros(dev, &[16, 4], DType::F32))?;
            expect_err(ops::causal_conv1d(&t(), &CausalConv1d { weight: &w32, ..conv }, &x, &sl, PrefillStates::default(), &out), "f32 weight", is_dtype, "weight")?;
            let st_bad = e(Tensor::zeros(dev, &[2, 16, 4], bf))?;
            expect_err(ops::causal_conv1d(&t(), &conv, &x, &sl, PrefillStates { initial: Some(&st_bad), final_state: None }, &out), "state [2,16,4]", is_shape, "initial_state")?;
            let st = e(Tensor::zeros(dev, &[2, 16, 3], bf))?;
            let st_view = e(e(Tensor::zeros(dev, &[2, 16, 3], bf))?.reshape(&[2, 16, 3]))?;
            e(ops::causal_conv1d(&t(), &conv, &x, &sl, PrefillStates { initial: Some(&st), final_state: Some(&st) }, &out)).map_err(|m| format!("an in-place state must pass: {m}"))?;
            e(ops::causal_conv1d(&t(), &conv, &x, &sl, PrefillStates { initial: Some(&st), final_state: Some(&st_view) }, &out)).map_err(|m| format!("separate states must pass: {m}"))?;
            expect_err(ops::causal_conv1d(&t(), &conv, &x, &sl, PrefillStates::default(), &x), "out = x", is_shape, "overlap")?;
            let xi = e(Tensor::zeros(dev, &[8, 16], DType::I32))?;
            expect_err(ops::causal_conv1d(&t(), &conv, &xi, &sl, PrefillStates::default(), &out), "i32 x", is_dtype, "i32")
        }),
        gpu_trial("causal_conv1d_update/errors: state shape, width 1, bias shape", move |dev| {
            let h = DType::F16;
            let x = e(Tensor::zeros(dev, &[2, 16], h))?;
            let out = e(Tensor::zeros(dev, &[2, 16], h))?;
            let w = e(Tensor::zeros(dev, &[16, 4], h))?;
            let st = e(Tensor::zeros(dev, &[2, 16, 3], h))?;
            let conv = CausalConv1d { weight: &w, bias: None, silu: false };
            e(ops::causal_conv1d_update(&t(), &conv, &x, &st, &out)).map_err(|m| format!("a valid call must pass: {m}"))?;
            let st4 = e(Tensor::zeros(dev, &[2, 16, 4], h))?;
            expect_err(ops::causal_conv1d_update(&t(), &conv, &x, &st4, &out), "state [2,16,4]", is_shape, "conv_state")?;
            let w1 = e(Tensor::zeros(dev, &[16, 1], h))?;
            expect_err(ops::causal_conv1d_update(&t(), &CausalConv1d { weight: &w1, ..conv }, &x, &st, &out), "width 1", is_shape, "width 1")?;
            let b = e(Tensor::zeros(dev, &[15], h))?;
            expect_err(ops::causal_conv1d_update(&t(), &CausalConv1d { bias: Some(&b), ..conv }, &x, &st, &out), "bias [15]", is_shape, "bias")
        }),
        gpu_trial("selective_scan/errors: d_state 65, bf16 A, B rows, D shape, state dtype, overlapping states, token count", move |dev| {
            let bf = DType::BF16;
            let z = |shape: &[usize], d: DType| e(Tensor::zeros(dev, shape, d));
            let (u, dl, b, c, out) = (z(&[8, 16], bf)?, z(&[8, 16], bf)?, z(&[8, 4], bf)?, z(&[8, 4], bf)?, z(&[8, 16], bf)?);
            let a = z(&[16, 4], DType::F32)?;
            let sl = e(SeqLens::new(dev, &[0, 5, 8]))?;
            let scan = SelectiveScan { a: &a, d: None, delta_bias: None, delta_softplus: true };
            let inp = ScanTokens { u: &u, delta: &dl, b: &b, c: &c, z: None };
            e(ops::selective_scan(&t(), &scan, &inp, &sl, PrefillStates::default(), &out)).map_err(|m| format!("a valid call must pass: {m}"))?;
            let a65 = z(&[16, 65], DType::F32)?;
            expect_err(ops::selective_scan(&t(), &SelectiveScan { a: &a65, ..scan }, &inp, &sl, PrefillStates::default(), &out), "d_state 65", is_shape, "d_state 65")?;
            let abf = z(&[16, 4], bf)?;
            expect_err(ops::selective_scan(&t(), &SelectiveScan { a: &abf, ..scan }, &inp, &sl, PrefillStates::default(), &out), "bf16 A", is_dtype, "A is bf16")?;
            let b7 = z(&[7, 4], bf)?;
            expect_err(ops::selective_scan(&t(), &scan, &ScanTokens { b: &b7, ..inp }, &sl, PrefillStates::default(), &out), "B [7, 4]", is_shape, "B")?;
            let d15 = z(&[15], DType::F32)?;
            expect_err(ops::selective_scan(&t(), &SelectiveScan { d: Some(&d15), ..scan }, &inp, &sl, PrefillStates::default(), &out), "D [15]", is_shape, "D")?;
            let sbf = z(&[2, 16, 4], bf)?;
            expect_err(ops::selective_scan(&t(), &scan, &inp, &sl, PrefillStates { initial: None, final_state: Some(&sbf) }, &out), "bf16 state", is_dtype, "final_state")?;
            let big = z(&[3, 16, 4], DType::F32)?;
            let (s0, s1) = (e(big.narrow(0, 0, 2))?, e(big.narrow(0, 1, 2))?);
            expect_err(ops::selective_scan(&t(), &scan, &inp, &sl, PrefillStates { initial: Some(&s0), final_state: Some(&s1) }, &out), "states overlapping by one sequence", is_shape, "overlap")?;
            e(ops::selective_scan(&t(), &scan, &inp, &sl, PrefillStates { initial: Some(&s0), final_state: Some(&s0) }, &out)).map_err(|m| format!("an in-place state must pass: {m}"))?;
            let sl9 = e(SeqLens::new(dev, &[0, 9]))?;
            expect_err(ops::selective_scan(&t(), &scan, &inp, &sl9, PrefillStates::default(), &out), "9 tokens", is_shape, "cu_seqlens ends at 9")
        }),
        gpu_trial("selective_state_update/errors: heads vs groups, A shape, f16 state, dt shape, out aliasing x", move |dev| {
            let bf = DType::BF16;
            let z = |shape: &[usize], d: DType| e(Tensor::zeros(dev, shape, d));
            // Mamba-2: 2 sequences, 6 heads of 4, 2 groups, N 8.
            let (x, dt, b, c, out) = (z(&[2, 24], bf)?, z(&[2, 6], bf)?, z(&[2, 16], bf)?, z(&[2, 16], bf)?, z(&[2, 24], bf)?);
            let (a, st) = (z(&[6], DType::F32)?, z(&[2, 6, 4, 8], DType::F32)?);
            let m = StateUpdate { a: &a, d: None, dt_bias: None, dt_softplus: true, ngroups: 2, state_settled: false, dt_proj: None };
            let inp = DecodeTokens { x: &x, dt: &dt, b: &b, c: &c, z: None };
            e(ops::selective_state_update(&t(), &m, &inp, &st, &out)).map_err(|m| format!("a valid call must pass: {m}"))?;
            expect_err(ops::selective_state_update(&t(), &StateUpdate { ngroups: 4, ..m }, &inp, &st, &out), "6 heads over 4 groups", is_shape, "groups")?;
            let a5 = z(&[5], DType::F32)?;
            expect_err(ops::selective_state_update(&t(), &StateUpdate { a: &a5, ..m }, &inp, &st, &out), "A [5]", is_shape, "A")?;
            let sh = z(&[2, 6, 4, 8], DType::F16)?;
            expect_err(ops::selective_state_update(&t(), &m, &inp, &sh, &out), "f16 state", is_dtype, "state is f16")?;
            let dt24 = z(&[2, 24], bf)?;
            expect_err(ops::selective_state_update(&t(), &m, &DecodeTokens { dt: &dt24, ..inp }, &st, &out), "dt per channel", is_shape, "dt")?;
            expect_err(ops::selective_state_update(&t(), &m, &inp, &st, &x), "out = x", is_shape, "overlap")
        }),
        gpu_trial("rms_norm_gated/errors: group size, z shape, out = z, eps NaN, weight dtype", move |dev| {
            let bf = DType::BF16;
            let z = |shape: &[usize], d: DType| e(Tensor::zeros(dev, shape, d));
            let (x, g, w, out) = (z(&[4, 64], bf)?, z(&[4, 64], bf)?, z(&[64], bf)?, z(&[4, 64], bf)?);
            e(ops::rms_norm_gated(&t(), &x, Some(&g), &w, 16, 1e-5, &out)).map_err(|m| format!("a valid call must pass: {m}"))?;
            e(ops::rms_norm_gated(&t(), &x, Some(&g), &w, 16, 1e-5, &x)).map_err(|m| format!("in place must pass: {m}"))?;
            expect_err(ops::rms_norm_gated(&t(), &x, Some(&g), &w, 24, 1e-5, &out), "group 24 of 64", is_shape, "group_size 24")?;
            let g3 = z(&[3, 64], bf)?;
            expect_err(ops::rms_norm_gated(&t(), &x, Some(&g3), &w, 16, 1e-5, &out), "z [3, 64]", is_shape, "z")?;
            expect_err(ops::rms_norm_gated(&t(), &x, Some(&g), &w, 16, 1e-5, &g), "out = z", is_shape, "overlap")?;
            expect_err(ops::rms_norm_gated(&t(), &x, Some(&g), &w, 16, f32::NAN, &out), "NaN eps", is_bad, "eps")?;
            let w32 = z(&[64], DType::F32)?;
            expect_err(ops::rms_norm_gated(&t(), &x, Some(&g), &w32, 16, 1e-5, &out), "f32 weight", is_dtype, "weight")
        }),
    ]
}
