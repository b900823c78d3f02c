//! ssd_chunk_scan trials beyond the per-case ones:
//! - prefill in two pieces, the second from the state the first left behind (updated in
//!   place, as the engine's chunked prefill does), equals prefill in one piece;
//! - prefill then decode steps with `selective_state_update` (Mamba-2 form) equals a longer
//!   prefill: the decode op continues exactly where the SSD prefill stops (same state layout);
//! - bad input: a named `Err`, never a launch.

use super::errors::expect_err;
use super::instances::random;
use super::ssm_trials::{cumsum, e, f64s, gather, is_bad, is_dtype, is_shape, splits, with_seed, R};
use crate::ops::{self, DecodeTokens, PrefillStates, SeqLens, SsdScan, SsdTokens, StateUpdate};
use crate::table::OpTable;
use super::ssd_inst::rounding_bound;
use crate::reference::ssm as refs;
use fk_runtime::compare::{compare, compare_bounded, Tolerance};
use fk_runtime::gpu_test::{gpu_trial, TestTrial};
use fk_runtime::rng::Rng;
use fk_runtime::{DType, Device, Tensor};

/// A Mamba-2 head layout.
#[derive(Clone, Copy, Debug)]
struct Heads {
    heads: usize,
    head_dim: usize,
    ngroups: usize,
    d_state: usize,
}

impl Heads {
    fn width(&self) -> usize {
        self.heads * self.head_dim
    }
    fn bc(&self) -> usize {
        self.ngroups * self.d_state
    }
    fn state(&self, batch: usize) -> [usize; 4] {
        [batch, self.heads, self.head_dim, self.d_state]
    }
}

/// Host activations of `tokens` tokens and the f32 parameters on the device.
struct Data {
    x: Vec<f32>,
    dt: Vec<f32>,
    b: Vec<f32>,
    c: Vec<f32>,
    a: Tensor,
    d: Tensor,
    dt_bias: Tensor,
    /// Host copies of a, d, dt_bias (for the rounding bound).
    host_params: [Vec<f32>; 3],
}

impl Data {
    fn new(dev: &Device, rng: &mut Rng, hd: Heads, tokens: usize, dtype: DType) -> R<Data> {
        let f32t = |v: &[f32]| e(Tensor::from_f32(dev, v, &[hd.heads], DType::F32));
        let a: Vec<f32> = (0..hd.heads).map(|h| -(0.5 + (h % 13) as f32)).collect();
        let (x, dt) = (random(rng, tokens * hd.width(), 0.0, 1.0, dtype), random(rng, tokens * hd.heads, 0.0, 0.5, dtype));
        let (b, c) = (random(rng, tokens * hd.bc(), 0.0, 1.0, dtype), random(rng, tokens * hd.bc(), 0.0, 1.0, dtype));
        let (d, dt_bias) = (rng.normal_vec(hd.heads, 0.0, 1.0), rng.uniform_vec(hd.heads, -4.0, -1.0));
        Ok(Data { x, dt, b, c, a: f32t(&a)?, d: f32t(&d)?, dt_bias: f32t(&dt_bias)?, host_params: [a, d, dt_bias] })
    }

    /// What one 16-bit run of the whole sequences may be off by, per output `[tokens, width]`
    /// ([`rounding_bound`] of the recurrence on absolute values), from `init` `[batch, heads,
    /// head_dim, N]` or zeros.
    fn rounding_bound(&self, hd: Heads, dtype: DType, lens: &[usize], init: Option<&[f32]>) -> R<Vec<f64>> {
        Ok(self.rounding_bounds(hd, dtype, lens, init)?.0)
    }

    /// [`Data::rounding_bound`] of the outputs and of the final states `[batch, heads,
    /// head_dim, N]` (the same recurrence on absolute values, its last state).
    fn rounding_bounds(&self, hd: Heads, dtype: DType, lens: &[usize], init: Option<&[f32]>) -> R<(Vec<f64>, Vec<f64>)> {
        let abs = |v: &[f32]| v.iter().map(|x| x.abs()).collect::<Vec<f32>>();
        let (x, b, c, d) = (abs(&self.x), abs(&self.b), abs(&self.c), abs(&self.host_params[1]));
        let cu = cumsum(lens);
        let (w, bc, sz) = (hd.width(), hd.bc(), hd.width() * hd.d_state);
        let mut mag = Vec::with_capacity(cu[lens.len()] * w);
        let mut state_mag = Vec::with_capacity(lens.len() * sz);
        for s in 0..lens.len() {
            let (lo, hi) = (cu[s], cu[s + 1]);
            let inp = refs::SsdInputs {
                x: &x[lo * w..hi * w],
                dt: &self.dt[lo * hd.heads..hi * hd.heads],
                a: &self.host_params[0],
                b: &b[lo * bc..hi * bc],
                c: &c[lo * bc..hi * bc],
                d: Some(&d),
                z: None,
                dt_bias: Some(&self.host_params[2]),
                dt_softplus: true,
                heads: hd.heads,
                head_dim: hd.head_dim,
                ngroups: hd.ngroups,
                d_state: hd.d_state,
            };
            let st: Option<Vec<f64>> = init.map(|v| v[s * sz..(s + 1) * sz].iter().map(|x| x.abs() as f64).collect());
            let (y, fin) = e(refs::ssd_sequential(&inp, st.as_deref()))?;
            mag.extend(y);
            state_mag.extend(fin);
        }
        Ok((rounding_bound(dtype, &mag), rounding_bound(dtype, &state_mag)))
    }

    fn scan(&self, hd: Heads) -> SsdScan<'_> {
        SsdScan { a: &self.a, d: Some(&self.d), dt_bias: Some(&self.dt_bias), dt_softplus: true, dt_limit: SsdScan::NO_DT_LIMIT, ngroups: hd.ngroups }
    }
}

/// Tolerances of the 16-bit kernel (three intermediate roundings, see ssd_inst.rs) or f32.
fn tols(dtype: DType) -> (Tolerance, Tolerance) {
    match dtype {
        DType::F32 => (Tolerance::for_dtype(DType::F32), Tolerance::for_dtype(DType::F32)),
        d => (Tolerance::for_dtype(d).scaled(2.0), Tolerance::for_dtype(d)),
    }
}

/// ssd_chunk_scan over rows `part(s, len)` of each sequence, states `init` -> `fin`: y.
#[allow(clippy::too_many_arguments)]
fn run_part(dev: &Device, dtype: DType, hd: Heads, h: &Data, lens: &[usize], part: &dyn Fn(usize, usize) -> (usize, usize), init: Option<&Tensor>, fin: &Tensor) -> R<Vec<f32>> {
    let cu = cumsum(lens);
    let plens: Vec<usize> = (0..lens.len()).map(|s| { let (lo, hi) = part(s, lens[s]); hi - lo }).collect();
    let m: usize = plens.iter().sum();
    let up = |v: &[f32], w: usize| e(Tensor::from_f32(dev, &gather(v, w, &cu, part), &[m, w], dtype));
    let (x, dt, b, c) = (up(&h.x, hd.width())?, up(&h.dt, hd.heads)?, up(&h.b, hd.bc())?, up(&h.c, hd.bc())?);
    let out = e(Tensor::empty(dev, &[m, hd.width()], dtype))?;
    e(out.poison())?;
    let sl = e(SeqLens::from_lens(dev, &plens))?;
    let inp = SsdTokens { x: &x, dt: &dt, b: &b, c: &c };
    e(ops::ssd_chunk_scan(&OpTable::baseline(), &h.scan(hd), &inp, &sl, PrefillStates { initial: init, final_state: Some(fin) }, &out))?;
    e(out.to_f32())
}

fn pieces(dev: &Device, dtype: DType, lens: &[usize], hd: Heads) -> R<()> {
    with_seed("ssd_chunk_scan pieces", |rng| {
        let (cu, bt) = (cumsum(lens), lens.len());
        let h = Data::new(dev, rng, hd, cu[bt], dtype)?;
        let hinit = rng.normal_vec(bt * hd.width() * hd.d_state, 0.0, 1.0);
        let init = e(Tensor::from_f32(dev, &hinit, &hd.state(bt), DType::F32))?;
        let fin = e(Tensor::empty(dev, &hd.state(bt), DType::F32))?;
        e(fin.poison())?;
        let y = run_part(dev, dtype, hd, &h, lens, &|_, l| (0, l), Some(&init), &fin)?;
        let st = e(fin.to_f32())?;
        // Both sides are 16-bit runs of the same sums: twice one run's bound, for the outputs
        // and (run 49: one f16 state element of 98,304 was 1.4e-3 off on -0.14, its terms
        // cancelling) for the final states.
        let (ybound, sbound) = h.rounding_bounds(hd, dtype, lens, Some(&hinit))?;
        let bound: Vec<f32> = ybound.iter().map(|b| 2.0 * *b as f32).collect();
        let cut = &splits(rng, lens);
        let cache = e(Tensor::from_f32(dev, &hinit, &hd.state(bt), DType::F32))?;
        let (ytol, stol) = tols(dtype);
        for piece in 0..2 {
            let part = move |s: usize, l: usize| if piece == 0 { (0, cut[s]) } else { (cut[s], l) };
            let got = run_part(dev, dtype, hd, &h, lens, &part, Some(&cache), &cache)?;
            let bound = f64s(&gather(&bound, hd.width(), &cu, part));
            compare_bounded(&got, &f64s(&gather(&y, hd.width(), &cu, part)), ytol, &bound).check(&format!("piece {piece} y vs one-piece y (splits {cut:?})"))?;
        }
        let sbound: Vec<f64> = sbound.iter().map(|b| 2.0 * b).collect();
        compare_bounded(&e(cache.to_f32())?, &f64s(&st), stol, &sbound).check("state after two pieces vs after one")
    })
}

/// Prefill all but the last `steps` tokens of each sequence with ssd_chunk_scan, decode those
/// with selective_state_update; compare with the prefill of everything.
fn prefill_then_decode(dev: &Device, dtype: DType, lens: &[usize], hd: Heads, steps: usize) -> R<()> {
    with_seed("ssd prefill then decode", |rng| {
        let (cu, bt) = (cumsum(lens), lens.len());
        let h = Data::new(dev, rng, hd, cu[bt], dtype)?;
        let whole_fin = e(Tensor::empty(dev, &hd.state(bt), DType::F32))?;
        let y = run_part(dev, dtype, hd, &h, lens, &|_, l| (0, l), None, &whole_fin)?;
        let state = e(Tensor::empty(dev, &hd.state(bt), DType::F32))?;
        e(state.poison())?;
        run_part(dev, dtype, hd, &h, lens, &|_, l| (0, l - steps), None, &state)?;
        let m = StateUpdate { a: &h.a, d: Some(&h.d), dt_bias: Some(&h.dt_bias), dt_softplus: true, ngroups: hd.ngroups, state_settled: false, dt_proj: None };
        let (ytol, stol) = tols(dtype);
        // The prefill's outputs and the state it hands over are each 16-bit runs' results.
        let bound = h.rounding_bound(hd, dtype, lens, None)?;
        for k in 0..steps {
            let row = |v: &[f32], w: usize| -> R<Tensor> {
                let rows: Vec<f32> = (0..bt).flat_map(|s| { let t = cu[s + 1] - steps + k; v[t * w..(t + 1) * w].to_vec() }).collect();
                e(Tensor::from_f32(dev, &rows, &[bt, w], dtype))
            };
            let (x, dt, b, c) = (row(&h.x, hd.width())?, row(&h.dt, hd.heads)?, row(&h.b, hd.bc())?, row(&h.c, hd.bc())?);
            let out = e(Tensor::empty(dev, &[bt, hd.width()], dtype))?;
            e(out.poison())?;
            e(ops::selective_state_update(&OpTable::baseline(), &m, &DecodeTokens { x: &x, dt: &dt, b: &b, c: &c, z: None }, &state, &out))?;
            let want: Vec<f32> = (0..bt).flat_map(|s| { let t = cu[s + 1] - steps + k; y[t * hd.width()..(t + 1) * hd.width()].to_vec() }).collect();
            let w = hd.width();
            let row_bound: Vec<f64> = (0..bt).flat_map(|s| { let t = cu[s + 1] - steps + k; bound[t * w..(t + 1) * w].iter().map(|b| 2.0 * b) }).collect();
            compare_bounded(&e(out.to_f32())?, &f64s(&want), ytol, &row_bound).check(&format!("decode step {k} vs prefill"))?;
        }
        compare(&e(state.to_f32())?, &f64s(&e(whole_fin.to_f32())?), stol).check("state after decode vs after the whole prefill")
    })
}

fn error_trial() -> TestTrial {
    gpu_trial("ssd_chunk_scan/errors: A rank, head split, groups, d_state 257, bf16 A, dt shape, state dtype/shape, overlap, token count, dt_limit", move |dev| {
        let t = OpTable::baseline;
        let z = |shape: &[usize], dt: DType| e(Tensor::zeros(dev, shape, dt));
        let hd = Heads { heads: 4, head_dim: 8, ngroups: 2, d_state: 16 };
        let (x, dt, b, c, out) = (z(&[8, 32], DType::BF16)?, z(&[8, 4], DType::BF16)?, z(&[8, 32], DType::BF16)?, z(&[8, 32], DType::BF16)?, z(&[8, 32], DType::BF16)?);
        let a = z(&[4], DType::F32)?;
        let sl = e(SeqLens::from_lens(dev, &[3, 5]))?;
        let scan = SsdScan { a: &a, d: None, dt_bias: None, dt_softplus: true, dt_limit: SsdScan::NO_DT_LIMIT, ngroups: 2 };
        let inp = SsdTokens { x: &x, dt: &dt, b: &b, c: &c };
        let none = PrefillStates::default;
        e(ops::ssd_chunk_scan(&t(), &scan, &inp, &sl, none(), &out)).map_err(|m| format!("a valid call must pass: {m}"))?;
        let a2 = z(&[4, 16], DType::F32)?;
        expect_err(ops::ssd_chunk_scan(&t(), &SsdScan { a: &a2, ..scan }, &inp, &sl, none(), &out), "A [4, 16]", is_shape, "A")?;
        let a3 = z(&[3], DType::F32)?;
        expect_err(ops::ssd_chunk_scan(&t(), &SsdScan { a: &a3, ngroups: 1, ..scan }, &inp, &sl, none(), &out), "32 channels over 3 heads", is_shape, "heads")?;
        expect_err(ops::ssd_chunk_scan(&t(), &SsdScan { ngroups: 3, ..scan }, &inp, &sl, none(), &out), "4 heads over 3 groups", is_shape, "groups")?;
        let b257 = z(&[8, 2 * 257], DType::BF16)?;
        expect_err(ops::ssd_chunk_scan(&t(), &scan, &SsdTokens { b: &b257, c: &b257, ..inp }, &sl, none(), &out), "d_state 257", is_shape, "d_state 257")?;
        let abf = z(&[4], DType::BF16)?;
        expect_err(ops::ssd_chunk_scan(&t(), &SsdScan { a: &abf, ..scan }, &inp, &sl, none(), &out), "bf16 A", is_dtype, "A is bf16")?;
        let dt32 = z(&[8, 32], DType::BF16)?;
        expect_err(ops::ssd_chunk_scan(&t(), &scan, &SsdTokens { dt: &dt32, ..inp }, &sl, none(), &out), "dt per channel", is_shape, "dt")?;
        let c7 = z(&[8, 24], DType::BF16)?;
        expect_err(ops::ssd_chunk_scan(&t(), &scan, &SsdTokens { c: &c7, ..inp }, &sl, none(), &out), "C narrower than B", is_shape, "C")?;
        let sbf = z(&hd.state(2), DType::BF16)?;
        expect_err(ops::ssd_chunk_scan(&t(), &scan, &inp, &sl, PrefillStates { initial: None, final_state: Some(&sbf) }, &out), "bf16 state", is_dtype, "final_state")?;
        let s1 = z(&hd.state(1), DType::F32)?;
        expect_err(ops::ssd_chunk_scan(&t(), &scan, &inp, &sl, PrefillStates { initial: Some(&s1), final_state: None }, &out), "state of 1 sequence for 2", is_shape, "initial_state")?;
        let s = z(&hd.state(2), DType::F32)?;
        e(ops::ssd_chunk_scan(&t(), &scan, &inp, &sl, PrefillStates { initial: Some(&s), final_state: Some(&s) }, &out)).map_err(|m| format!("an in-place state must pass: {m}"))?;
        expect_err(ops::ssd_chunk_scan(&t(), &scan, &inp, &sl, none(), &x), "out = x", is_shape, "overlap")?;
        let sl9 = e(SeqLens::from_lens(dev, &[4, 5]))?;
        expect_err(ops::ssd_chunk_scan(&t(), &scan, &inp, &sl9, none(), &out), "9 tokens", is_shape, "cu_seqlens ends at 9")?;
        expect_err(ops::ssd_chunk_scan(&t(), &SsdScan { dt_limit: (0.5, 0.1), ..scan }, &inp, &sl, none(), &out), "dt_limit reversed", is_bad, "dt_limit")?;
        expect_err(ops::ssd_chunk_scan(&t(), &SsdScan { dt_limit: (f32::NAN, 1.0), ..scan }, &inp, &sl, none(), &out), "NaN dt_limit", is_bad, "dt_limit")
    })
}

pub(super) fn ssd_trials() -> Vec<TestTrial> {
    let mut v = Vec::new();
    // (lens, heads, head_dim, ngroups, d_state): the tensor-core kernel (two 32-channel slices
    // of d_state 128; one slice of 20 channels, d_state 40 padded to 64) and the recurrence
    // fallback (d_state 160; three slices' worth of channels).
    let shapes: [(&[usize], Heads); 3] = [
        (&[37, 200, 5], Heads { heads: 4, head_dim: 64, ngroups: 2, d_state: 128 }),
        (&[300, 64], Heads { heads: 3, head_dim: 20, ngroups: 1, d_state: 40 }),
        (&[130], Heads { heads: 2, head_dim: 96, ngroups: 1, d_state: 160 }),
    ];
    for dtype in DType::FLOATS {
        for &(lens, hd) in &shapes {
            let label = format!("{dtype}/lens {lens:?} heads {}x{} G{} N{}", hd.heads, hd.head_dim, hd.ngroups, hd.d_state);
            v.push(gpu_trial(format!("ssd_chunk_scan/two pieces with the state in place = one piece/{label}"), move |dev| pieces(dev, dtype, lens, hd)));
            v.push(gpu_trial(format!("ssd_chunk_scan/prefill then 3 selective_state_update steps = longer prefill/{label}"), move |dev| {
                prefill_then_decode(dev, dtype, lens, hd, 3)
            }));
        }
    }
    v.push(error_trial());
    v
}
