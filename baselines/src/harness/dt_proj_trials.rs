//! `selective_state_update` with Mamba-1's dt projection folded in (`StateUpdate::dt_proj`):
//! the same step as the bias-free linear layer (`skinny_gemm`) writing dt, then the plain
//! update, by state slot, for out and the state cache. The projection sums in another order
//! than the GEMV, so a dt can round to its neighbour in 16-bit types: the dtype's tolerance,
//! not bit equality. Vector (aligned dt_rank) and scalar (odd dt_rank) kernels.

use super::instances::random;
use super::slot_trials::pick_slots;
use super::ssm_inst::random_a;
use super::ssm_trials::{e, with_seed, R};
use crate::context::Context;
use crate::ops::{self, DecodeTokens, StateSlots, StateUpdate};
use crate::table::OpTable;
use fk_runtime::linear::Linear;
use fk_runtime::compare::{compare, Tolerance};
use fk_runtime::gpu_test::{gpu_trial, TestTrial};
use fk_runtime::{DType, Device, Tensor};

/// One trial's shape: `rows` decode rows (`live` of them real, the rest padding) over a cache
/// of `capacity` slots, `dim` channels of `n` states, dt projected from `rank` columns that sit
/// at the front of a wider x_proj row (`[rows, rank + 2n]`, as Mamba-1 passes them).
#[derive(Clone, Copy, Debug)]
struct Shape {
    rows: usize,
    live: usize,
    capacity: usize,
    dim: usize,
    n: usize,
    rank: usize,
}

fn fused_equals_linear_then_update(dev: &Device, dtype: DType, s: Shape) -> R<()> {
    with_seed("selective_state_update dt_proj", |rng| {
        let ctx = e(Context::new(dev, OpTable::baseline()))?;
        let f32t = |v: &[f32], shape: &[usize]| e(Tensor::from_f32(dev, v, shape, DType::F32));
        let up = |v: &[f32], shape: &[usize]| e(Tensor::from_f32(dev, v, shape, dtype));
        let a = f32t(&random_a(rng, s.dim * s.n), &[s.dim, s.n])?;
        let d = f32t(&rng.normal_vec(s.dim, 0.0, 1.0), &[s.dim])?;
        let dtb = f32t(&rng.uniform_vec(s.dim, -4.0, -1.0), &[s.dim])?;
        // x_proj's output row: dt_in (rank), B (n), C (n); dt_proj of std 1/sqrt(rank).
        let width = s.rank + 2 * s.n;
        let dbc = up(&random(rng, s.rows * width, 0.0, 1.0, dtype), &[s.rows, width])?;
        let lin = e(Linear::new(up(&random(rng, s.dim * s.rank, 0.0, 1.0 / (s.rank as f32).sqrt(), dtype), &[s.dim, s.rank])?, None))?;
        let w = &lin.weight;
        let (x, z) = (up(&random(rng, s.rows * s.dim, 0.0, 1.0, dtype), &[s.rows, s.dim])?, up(&random(rng, s.rows * s.dim, 0.0, 1.0, dtype), &[s.rows, s.dim])?);
        let hcache = rng.normal_vec(s.capacity * s.dim * s.n, 0.0, 1.0);
        let mut slots = e(StateSlots::new(dev, s.rows, s.capacity))?;
        e(slots.set(&pick_slots(rng, s.live, s.capacity)))?;
        let (dt_in, b, c) = (e(dbc.narrow(1, 0, s.rank))?, e(dbc.narrow(1, s.rank, s.n))?, e(dbc.narrow(1, s.rank + s.n, s.n))?);
        let mut got = Vec::new();
        for fused in [false, true] {
            let cache = f32t(&hcache, &[s.capacity, s.dim, s.n])?;
            let out = e(Tensor::empty(dev, &[s.rows, s.dim], dtype))?;
            e(out.poison())?;
            let dt = e(Tensor::zeros(dev, &[s.rows, s.dim], dtype))?;
            if !fused {
                // The bias-free linear layer the mixer ran before (skinny_gemm, or cuBLASLt
                // where dt_rank is not whole 16-byte pieces).
                e(ops::linear(&ctx, &dt_in, &lin, &dt))?;
            }
            let m = StateUpdate { a: &a, d: Some(&d), dt_bias: Some(&dtb), dt_softplus: true, ngroups: 1, state_settled: true, dt_proj: fused.then_some(w) };
            let inp = DecodeTokens { x: &x, dt: if fused { &dt_in } else { &dt }, b: &b, c: &c, z: Some(&z) };
            e(ops::selective_state_update_slots(&ctx.ops, &m, &inp, &cache, &slots, &out))?;
            got.push([e(out.to_f32())?, e(cache.to_f32())?]);
        }
        let live = s.live * s.dim;
        if got[1][0][..live].iter().any(|v| v.is_nan()) || got[1][1].iter().any(|v| v.is_nan()) {
            return Err("NaN from the fused step".into());
        }
        if got[1][0][live..].iter().any(|v| !v.is_nan()) {
            return Err("out: a padding row was written".into());
        }
        let tol = Tolerance::for_dtype(dtype);
        let f64s = |v: &[f32]| v.iter().map(|&x| x as f64).collect::<Vec<_>>();
        compare(&got[1][0][..live], &f64s(&got[0][0][..live]), tol).check("out: fused vs linear then update")?;
        compare(&got[1][1], &f64s(&got[0][1]), tol).check("state cache: fused vs linear then update")
    })
}

pub(super) fn dt_proj_trials() -> Vec<TestTrial> {
    let shapes = [
        // mamba-2.8b: 5120 channels, N16, dt_rank 160 (vector kernel), one live row.
        Shape { rows: 1, live: 1, capacity: 2, dim: 5120, n: 16, rank: 160 },
        // A batch with a padding row, N32 (8 lanes per channel), dt_rank 256 (Jamba's).
        Shape { rows: 4, live: 3, capacity: 6, dim: 384, n: 32, rank: 256 },
        // dt_rank 37: not a whole number of 16-byte pieces, the scalar kernel.
        Shape { rows: 2, live: 2, capacity: 3, dim: 200, n: 16, rank: 37 },
    ];
    let mut v = Vec::new();
    for dtype in DType::FLOATS {
        for s in shapes {
            let label = format!("selective_state_update/dt_proj = linear then update/{dtype}/rows {} of {} [{}] N{} rank {}", s.live, s.rows, s.dim, s.n, s.rank);
            v.push(gpu_trial(label, move |dev| fused_equals_linear_then_update(dev, dtype, s)));
        }
    }
    v
}
