//! `linear_conv1d_update` (a Mamba mixer's decode in_proj with the conv step in the GEMV's
//! epilogue): exactly `linear` then `causal_conv1d_update` on the conv columns, both run on the
//! GPU, for out, conv_out and the conv cache; by slot, padding rows keep their poison. One row
//! takes the fused epilogue, more rows the two ops (the function's fallback).

use super::instances::random;
use super::slot_trials::pick_slots;
use super::ssm_trials::{e, f64s, with_seed, R};
use crate::context::Context;
use crate::ops::{self, CausalConv1d, ConvStep, StateSlots};
use crate::table::OpTable;
use fk_runtime::compare::{compare, Tolerance};
use fk_runtime::gpu_test::{gpu_trial, TestTrial};
use fk_runtime::linear::Linear;
use fk_runtime::{DType, Device, Tensor};

/// The shape of one trial: in_proj `[n, k]` with conv channels `begin .. begin + dim`;
/// `slots`: (live rows, capacity) of a state cache read by slot, `None`: one state per row.
#[derive(Clone, Copy, Debug)]
struct Shape {
    rows: usize,
    n: usize,
    k: usize,
    begin: usize,
    dim: usize,
    width: usize,
    bias: bool,
    slots: Option<(usize, usize)>,
}

fn fused_equals_two_ops(dev: &Device, dtype: DType, s: Shape) -> R<()> {
    with_seed("linear_conv1d_update", |rng| {
        let ctx = e(Context::new(dev, OpTable::baseline()))?;
        let taps = s.width - 1;
        let upload = |v: &[f32], shape: &[usize]| e(Tensor::from_f32(dev, v, shape, dtype));
        let x = upload(&random(rng, s.rows * s.k, 0.0, 1.0, dtype), &[s.rows, s.k])?;
        let w = upload(&random(rng, s.n * s.k, 0.0, 1.0 / (s.k as f32).sqrt(), dtype), &[s.n, s.k])?;
        let b = if s.bias { Some(upload(&random(rng, s.n, 0.0, 0.5, dtype), &[s.n])?) } else { None };
        let lin = e(Linear::new(w, b))?;
        let cw = upload(&random(rng, s.dim * s.width, 0.0, 0.5, dtype), &[s.dim, s.width])?;
        let cb = upload(&random(rng, s.dim, 0.0, 0.5, dtype), &[s.dim])?;
        let conv = CausalConv1d { weight: &cw, bias: Some(&cb), silu: true };
        let (live, capacity) = s.slots.unwrap_or((s.rows, s.rows));
        let hcache = random(rng, capacity * s.dim * taps, 0.0, 1.0, dtype);
        let mut slots = None;
        if s.slots.is_some() {
            let mut ss = e(StateSlots::new(dev, s.rows, capacity))?;
            e(ss.set(&pick_slots(rng, live, capacity)))?;
            slots = Some(ss);
        }
        // The same step twice: the two ops, then the fused call, from equal starting states.
        let mut got = Vec::new();
        for fused in [false, true] {
            let out = e(Tensor::empty(dev, &[s.rows, s.n], dtype))?;
            let conv_out = e(Tensor::empty(dev, &[s.rows, s.dim], dtype))?;
            let cache = upload(&hcache, &[capacity, s.dim, taps])?;
            e(out.poison())?;
            e(conv_out.poison())?;
            if fused {
                let step = ConvStep { conv: &conv, begin: s.begin, state: &cache, slots: slots.as_ref(), conv_out: &conv_out, streamed: s.k == 1024 };
                e(ops::linear_conv1d_update(&ctx, &x, &lin, &out, &step))?;
            } else {
                // The same GEMV kernel as the fused call, so the two agree bit for bit.
                e(if s.k == 1024 { ops::linear_streamed(&ctx, &x, &lin, &out) } else { ops::linear(&ctx, &x, &lin, &out) })?;
                let conv_in = e(out.narrow(1, s.begin, s.dim))?;
                match &slots {
                    Some(ss) => e(ops::causal_conv1d_update_slots(&ctx.ops, &conv, &conv_in, &cache, ss, &conv_out))?,
                    None => e(ops::causal_conv1d_update(&ctx.ops, &conv, &conv_in, &cache, &conv_out))?,
                }
            }
            got.push([e(out.to_f32())?, e(conv_out.to_f32())?, e(cache.to_f32())?]);
        }
        let exact = Tolerance { atol: 0.0, rtol: 0.0, max_rel_l2: 0.0 };
        for (i, what) in ["out", "conv_out", "conv cache"].iter().enumerate() {
            let (two, one) = (&got[0][i], &got[1][i]);
            // Padding rows (by slot, past `live`) stay poison (NaN) in both: compare the rest.
            let len = if i == 1 { live * s.dim } else { two.len() };
            if one[..len].iter().any(|v| v.is_nan()) {
                return Err(format!("{what}: NaN from the fused call"));
            }
            compare(&one[..len], &f64s(&two[..len]), exact).check(&format!("{what}: fused vs two ops"))?;
            if i == 1 && one[len..].iter().any(|v| !v.is_nan()) {
                return Err("conv_out: a padding row was written".into());
            }
        }
        Ok(())
    })
}

pub(super) fn linear_conv_trials() -> Vec<TestTrial> {
    let base = Shape { rows: 1, n: 96, k: 256, begin: 0, dim: 64, width: 4, bias: false, slots: None };
    let shapes = [
        // Mamba-1-like: conv on the first half (x), then z; one warp per row.
        Shape { n: 2048, k: 512, dim: 1024, ..base },
        // Mamba-2-like: z first, the conv block (x, B, C) in the middle, dt after; a bias.
        Shape { n: 600, k: 320, begin: 200, dim: 360, width: 3, bias: true, ..base },
        // Few output features and long rows: rows split over a CTA's warps.
        Shape { n: 96, k: 4096, begin: 32, dim: 40, width: 2, ..base },
        // By slot: a live row, and a padding row (nothing written for it).
        Shape { n: 512, k: 256, begin: 128, dim: 256, slots: Some((1, 3)), ..base },
        Shape { n: 512, k: 256, begin: 128, dim: 256, slots: Some((0, 2)), ..base },
        // One row of a weight >= 4 MB: the streaming kernel on sm_90a (8 rows per stage, n not a
        // multiple of the grid), by state and by slot.
        Shape { n: 4160, k: 1024, dim: 2048, bias: true, ..base },
        Shape { n: 4100, k: 1024, begin: 1000, dim: 2048, slots: Some((1, 3)), ..base },
        // One row, k 2560 (Mamba-1's in_proj): a warp walks its row in 2.5 rounds of loads.
        Shape { n: 1024, k: 2560, begin: 256, dim: 512, ..base },
        // Three rows: linear (cuBLASLt) then causal_conv1d_update, by slot with a padding row.
        Shape { rows: 3, n: 512, k: 256, begin: 64, dim: 256, slots: Some((2, 5)), ..base },
    ];
    let mut v = Vec::new();
    for dtype in DType::FLOATS {
        for s in shapes {
            let label = format!(
                "linear_conv1d_update/= linear then causal_conv1d_update/{dtype}/rows {} [{}, {}] conv {}..{} w{}{}",
                s.rows,
                s.n,
                s.k,
                s.begin,
                s.begin + s.dim,
                s.width,
                s.slots.map_or(String::new(), |(l, c)| format!(" slots {l} of {}", c))
            );
            v.push(gpu_trial(label, move |dev| fused_equals_two_ops(dev, dtype, s)));
        }
    }
    v
}
