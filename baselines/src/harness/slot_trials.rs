//! Decode over a state cache by slot (`causal_conv1d_update_slots`,
//! `selective_state_update_slots`): the same step as gathering the batch's states into their
//! own tensor, running the plain op and scattering them back, with the cache's other slots
//! untouched and padding rows skipped (their out rows keep the poison). Mamba-1 and Mamba-2
//! state layouts.

use super::instances::random;
use super::ssm_trials::{e, with_seed, R};
use crate::ops::{self, CausalConv1d, DecodeTokens, StateSlots, StateUpdate};
use crate::table::OpTable;
use fk_runtime::compare::{compare, Tolerance};
use fk_runtime::gpu_test::{gpu_trial, TestTrial};
use fk_runtime::rng::Rng;
use fk_runtime::{DType, Device, Tensor};

/// `live` distinct slots out of `capacity`, in random order.
pub(super) fn pick_slots(rng: &mut Rng, live: usize, capacity: usize) -> Vec<usize> {
    let mut all: Vec<usize> = (0..capacity).collect();
    for i in 0..live {
        let j = rng.range(i as i64, capacity as i64) as usize;
        all.swap(i, j);
    }
    all.truncate(live);
    all
}

/// Rows `slots` (each `row` values) of a `[capacity, row]` host matrix.
fn gather(v: &[f32], row: usize, slots: &[usize]) -> Vec<f32> {
    slots.iter().flat_map(|&s| v[s * row..(s + 1) * row].to_vec()).collect()
}

/// The cache after a step that changed rows `slots` to `new` (`[live, row]`).
fn scatter(v: &[f32], row: usize, slots: &[usize], new: &[f32]) -> Vec<f32> {
    let mut out = v.to_vec();
    for (k, &s) in slots.iter().enumerate() {
        out[s * row..(s + 1) * row].copy_from_slice(&new[k * row..(k + 1) * row]);
    }
    out
}

/// Out rows: the live ones must match `want`, the padding ones must still be poison (NaN).
fn check_out(got: &[f32], want: &[f32], width: usize, live: usize, tol: Tolerance, what: &str) -> R<()> {
    compare(&got[..live * width], &want.iter().map(|&x| x as f64).collect::<Vec<_>>(), tol).check(what)?;
    match got[live * width..].iter().position(|x| !x.is_nan()) {
        Some(i) => Err(format!("{what}: padding row {} was written", live + i / width)),
        None => Ok(()),
    }
}

/// causal_conv1d_update: `live` sequences in a batch of `rows` over `capacity` slots.
fn conv_slots(dev: &Device, dtype: DType, rows: usize, live: usize, capacity: usize, dim: usize, width: usize) -> R<()> {
    with_seed("causal_conv1d_update slots", |rng| {
        let t = OpTable::baseline();
        let k = width - 1;
        let slots = pick_slots(rng, live, capacity);
        let hx = random(rng, rows * dim, 0.0, 1.0, dtype);
        let hcache = random(rng, capacity * dim * k, 0.0, 1.0, dtype);
        let w = e(Tensor::from_f32(dev, &random(rng, dim * width, 0.0, 0.5, dtype), &[dim, width], dtype))?;
        let conv = CausalConv1d { weight: &w, bias: None, silu: true };
        // Reference: the plain op on the gathered states of the live rows.
        let st = e(Tensor::from_f32(dev, &gather(&hcache, dim * k, &slots), &[live, dim, k], dtype))?;
        let x_live = e(Tensor::from_f32(dev, &hx[..live * dim], &[live, dim], dtype))?;
        let want = e(Tensor::empty(dev, &[live, dim], dtype))?;
        e(ops::causal_conv1d_update(&t, &conv, &x_live, &st, &want))?;
        let (want, want_st) = (e(want.to_f32())?, e(st.to_f32())?);
        // By slot.
        let cache = e(Tensor::from_f32(dev, &hcache, &[capacity, dim, k], dtype))?;
        let x = e(Tensor::from_f32(dev, &hx, &[rows, dim], dtype))?;
        let out = e(Tensor::empty(dev, &[rows, dim], dtype))?;
        e(out.poison())?;
        let mut ss = e(StateSlots::new(dev, rows, capacity))?;
        e(ss.set(&slots))?;
        e(ops::causal_conv1d_update_slots(&t, &conv, &x, &cache, &ss, &out))?;
        check_out(&e(out.to_f32())?, &want, dim, live, Tolerance::for_dtype(dtype), "out")?;
        let exact = Tolerance { atol: 0.0, rtol: 0.0, max_rel_l2: 0.0 };
        compare(&e(cache.to_f32())?, &scatter(&hcache, dim * k, &slots, &want_st).iter().map(|&v| v as f64).collect::<Vec<_>>(), exact)
            .check(&format!("cache after the step (slots {slots:?})"))
    })
}

/// selective_state_update (head_dim 0: Mamba-1 layout) by slot.
#[allow(clippy::too_many_arguments)]
fn update_slots(dev: &Device, dtype: DType, rows: usize, live: usize, capacity: usize, heads: usize, head_dim: usize, ngroups: usize, n: usize) -> R<()> {
    with_seed("selective_state_update slots", |rng| {
        let t = OpTable::baseline();
        let mamba2 = head_dim > 0;
        let p = head_dim.max(1);
        let (width, row) = (heads * p, heads * p * n);
        let slots = pick_slots(rng, live, capacity);
        let f32t = |v: &[f32], shape: &[usize]| e(Tensor::from_f32(dev, v, shape, DType::F32));
        let a_host: Vec<f32> = (0..if mamba2 { heads } else { heads * n }).map(|i| -(0.5 + (i % 7) as f32)).collect();
        let a_shape = if mamba2 { vec![heads] } else { vec![heads, n] };
        let a = f32t(&a_host, &a_shape)?;
        let d = f32t(&rng.normal_vec(heads, 0.0, 1.0), &[heads])?;
        let dtb = f32t(&rng.uniform_vec(heads, -4.0, -1.0), &[heads])?;
        let m = StateUpdate { a: &a, d: Some(&d), dt_bias: Some(&dtb), dt_softplus: true, ngroups, state_settled: true, dt_proj: None };
        let up = |v: &[f32], r: usize, w: usize| e(Tensor::from_f32(dev, &v[..r * w], &[r, w], dtype));
        let (hx, hdt, hb, hc, hz) = (
            random(rng, rows * width, 0.0, 1.0, dtype),
            random(rng, rows * heads, 0.0, 0.5, dtype),
            random(rng, rows * ngroups * n, 0.0, 1.0, dtype),
            random(rng, rows * ngroups * n, 0.0, 1.0, dtype),
            random(rng, rows * width, 0.0, 1.0, dtype),
        );
        let hcache = rng.normal_vec(capacity * row, 0.0, 1.0);
        let shape = |r: usize| if mamba2 { vec![r, heads, p, n] } else { vec![r, heads, n] };
        let run = |r: usize, state: &Tensor, slots: Option<&StateSlots>| -> R<Vec<f32>> {
            let (x, dt, b, c, z) = (up(&hx, r, width)?, up(&hdt, r, heads)?, up(&hb, r, ngroups * n)?, up(&hc, r, ngroups * n)?, up(&hz, r, width)?);
            let out = e(Tensor::empty(dev, &[r, width], dtype))?;
            e(out.poison())?;
            let inp = DecodeTokens { x: &x, dt: &dt, b: &b, c: &c, z: Some(&z) };
            match slots {
                Some(s) => e(ops::selective_state_update_slots(&t, &m, &inp, state, s, &out))?,
                None => e(ops::selective_state_update(&t, &m, &inp, state, &out))?,
            }
            e(out.to_f32())
        };
        let st = f32t(&gather(&hcache, row, &slots), &shape(live))?;
        let want = run(live, &st, None)?;
        let want_st = e(st.to_f32())?;
        let cache = f32t(&hcache, &shape(capacity))?;
        let mut ss = e(StateSlots::new(dev, rows, capacity))?;
        e(ss.set(&slots))?;
        let got = run(rows, &cache, Some(&ss))?;
        check_out(&got, &want, width, live, Tolerance::for_dtype(dtype), "out")?;
        let exact = Tolerance { atol: 0.0, rtol: 0.0, max_rel_l2: 0.0 };
        compare(&e(cache.to_f32())?, &scatter(&hcache, row, &slots, &want_st).iter().map(|&v| v as f64).collect::<Vec<_>>(), exact)
            .check(&format!("cache after the step (slots {slots:?})"))
    })
}

pub(super) fn slot_trials() -> Vec<TestTrial> {
    let mut v = Vec::new();
    for dtype in DType::FLOATS {
        // (rows, live, capacity, dim, width): a padded bucket, a full one.
        for &(rows, live, cap, dim, width) in &[(8usize, 5usize, 12usize, 100usize, 4usize), (4, 4, 4, 64, 3)] {
            v.push(gpu_trial(format!("causal_conv1d_update/by state slot = gather, step, scatter/{dtype}/{live} of {rows} rows over {cap} slots dim {dim} w{width}"), move |dev| {
                conv_slots(dev, dtype, rows, live, cap, dim, width)
            }));
        }
        // (rows, live, capacity, heads, head_dim (0: Mamba-1), ngroups, d_state).
        for &(rows, live, cap, heads, hd, g, n) in &[(8usize, 3usize, 10usize, 48usize, 0usize, 1usize, 16usize), (4, 4, 6, 8, 64, 2, 128), (16, 9, 9, 6, 10, 3, 20)] {
            v.push(gpu_trial(format!("selective_state_update/by state slot = gather, step, scatter/{dtype}/{live} of {rows} rows over {cap} slots heads {heads}x{hd} G{g} N{n}"), move |dev| {
                update_slots(dev, dtype, rows, live, cap, heads, hd, g, n)
            }));
        }
    }
    v.push(gpu_trial("StateSlots/errors: slot out of range, twice, too many, cache rows vs capacity", move |dev| {
        let mut ss = e(StateSlots::new(dev, 2, 3))?;
        for (slots, needle) in [(&[3usize][..], "outside"), (&[1, 1][..], "two sequences"), (&[0, 1, 2][..], "batch of 2")] {
            match ss.set(slots) {
                Err(err) if err.to_string().contains(needle) => {}
                other => return Err(format!("set({slots:?}): want an error mentioning {needle:?}, got {other:?}")),
            }
        }
        let (x, out) = (e(Tensor::zeros(dev, &[2, 16], DType::BF16))?, e(Tensor::zeros(dev, &[2, 16], DType::BF16))?);
        let w = e(Tensor::zeros(dev, &[16, 4], DType::BF16))?;
        let conv = CausalConv1d { weight: &w, bias: None, silu: false };
        let cache2 = e(Tensor::zeros(dev, &[2, 16, 3], DType::BF16))?;
        match ops::causal_conv1d_update_slots(&OpTable::baseline(), &conv, &x, &cache2, &ss, &out) {
            Err(err) if err.to_string().contains("conv_state") => Ok(()),
            other => Err(format!("a 2-slot cache for slots over 3: want a conv_state shape error, got {other:?}")),
        }
    }));
    v
}
