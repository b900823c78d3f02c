//! L2 prefetches on the side stream (`util::l2_prefetch_aside`): forked between the launches of
//! a graph-captured sequence, they change no result and the capture joins them; eagerly, the
//! device stream joins them; bad ranges are errors; a capture whose body fails after a fork
//! leaves the next capture working.

use super::errors::expect_err;
use super::instances::random;
use super::ssm_trials::{e, with_seed};
use crate::ops::{self, L2Prefetch};
use crate::table::OpTable;
use crate::util::l2_prefetch_aside;
use fk_runtime::compare::{compare, Tolerance};
use fk_runtime::gpu_test::{gpu_trial, TestTrial};
use fk_runtime::{DType, Device, Error, Graph, Tensor};

/// Two chained one-row GEMVs (y = W2 (W1 x)) with prefetches forked around them: eagerly and
/// as a replayed graph, equal bit for bit to the same GEMVs without prefetches.
fn prefetch_changes_nothing(dev: &Device) -> Result<(), String> {
    with_seed("l2_prefetch", |rng| changes_nothing(dev, rng))
}

fn changes_nothing(dev: &Device, rng: &mut fk_runtime::rng::Rng) -> Result<(), String> {
    let table = OpTable::baseline();
    let dtype = DType::BF16;
    let up = |v: Vec<f32>, shape: &[usize]| e(Tensor::from_f32(dev, &v, shape, dtype));
    let (k, n) = (2048, 4096);
    let x = up(random(rng, k, 0.0, 1.0, dtype), &[1, k])?;
    let w1 = up(random(rng, n * k, 0.0, 0.02, dtype), &[n, k])?;
    let w2 = up(random(rng, k * n, 0.0, 0.02, dtype), &[k, n])?;
    let (h, y) = (e(Tensor::empty(dev, &[1, n], dtype))?, e(Tensor::empty(dev, &[1, k], dtype))?);
    let plain = || -> fk_runtime::Result<()> {
        ops::skinny_gemm(&table, &x, &w1, None, &h)?;
        ops::skinny_gemm(&table, &h, &w2, None, &y)
    };
    let prefetching = || -> fk_runtime::Result<()> {
        l2_prefetch_aside(dev, &[L2Prefetch::whole(&w2), L2Prefetch { tensor: &w1, begin: 4096, bytes: 1 << 20 }])?;
        ops::skinny_gemm(&table, &x, &w1, None, &h)?;
        l2_prefetch_aside(dev, &[L2Prefetch::whole(&w1)])?;
        ops::skinny_gemm(&table, &h, &w2, None, &y)
    };
    e(plain())?;
    let want = e(y.to_f32())?;
    let want64: Vec<f64> = want.iter().map(|&v| f64::from(v)).collect();
    let exact = Tolerance { atol: 0.0, rtol: 0.0, max_rel_l2: 0.0 };
    e(y.poison())?;
    e(prefetching())?;
    e(dev.join_side())?;
    compare(&e(y.to_f32())?, &want64, exact).check("eager, prefetches forked and joined")?;
    let graph = e(Graph::capture(dev, prefetching))?;
    for replay in 0..3 {
        e(y.poison())?;
        e(graph.launch())?;
        compare(&e(y.to_f32())?, &want64, exact).check(&format!("graph replay {replay}"))?;
    }
    // A body that fails after a fork: the capture returns its error, and the next one works.
    let failed = Graph::capture(dev, || {
        l2_prefetch_aside(dev, &[L2Prefetch::whole(&w1)])?;
        Err(Error::bad_input("trial", "fails on purpose after a fork"))
    });
    expect_err(failed.map(|_| ()), "failing body", |e| matches!(e, Error::BadInput { .. }), "on purpose")?;
    let again = e(Graph::capture(dev, prefetching))?;
    e(y.poison())?;
    e(again.launch())?;
    compare(&e(y.to_f32())?, &want64, exact).check("capture after a failed one")?;
    // Bad ranges.
    let three = [L2Prefetch::whole(&w1); 3];
    expect_err(l2_prefetch_aside(dev, &three), "3 ranges", |e| matches!(e, Error::BadInput { .. }), "at most 2")?;
    let view = e(w1.narrow(1, 0, 64))?;
    expect_err(l2_prefetch_aside(dev, &[L2Prefetch::whole(&view)]), "strided range", |e| matches!(e, Error::Shape { .. }), "contiguous")?;
    // Nothing to fetch, or a join without a fork: no-ops.
    e(l2_prefetch_aside(dev, &[L2Prefetch { tensor: &w1, begin: 0, bytes: 8 }]))?;
    e(dev.join_side())
}

pub fn prefetch_trials() -> Vec<TestTrial> {
    vec![gpu_trial("l2_prefetch/side stream: no result changes, eager and graph-captured; bad ranges", prefetch_changes_nothing)]
}
