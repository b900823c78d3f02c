//! MoE GPU trials beyond the per-op cases: the whole routed-experts path (topk_softmax →
//! fused_experts) against the composed CPU reference of a Mixtral block, and bad input for
//! each op (a clear `Err` naming the problem, never a crash or garbage).

use super::instances::random;
use super::errors::expect_err;
use crate::ops::{self, DeviceStatus, MoeAlignment, MoeGemm, MoeWorkspace};
use crate::reference::moe::{self as refs, MoeWeights};
use crate::table::OpTable;
use fk_runtime::compare::{compare, Tolerance};
use fk_runtime::gpu_test::{gpu_trial, TestTrial};
use fk_runtime::rng::{fresh_seed, Rng};
use fk_runtime::{DType, Device, Error, Tensor};

/// Router GEMM on the host (rounded to the dtype as HF's gate Linear stores it), then the
/// device path from the logits on; compared with `moe_block_reference`.
fn block_trial(dev: &Device, tokens: usize, hidden: usize, inter: usize, experts: usize, top_k: usize, dtype: DType) -> Result<(), String> {
    let seed = fresh_seed();
    let ctx = |e: String| format!("{e}\n  [seed {seed}: replay with FASTKERNELS_SEED={seed}]");
    let e = |r: fk_runtime::Result<Tensor>| r.map_err(|e| ctx(e.to_string()));
    let mut rng = Rng::new(seed);
    let x = random(&mut rng, tokens * hidden, 0.0, 1.0, dtype);
    let router = random(&mut rng, experts * hidden, 0.0, 1.0 / (hidden as f32).sqrt(), dtype);
    let w13 = random(&mut rng, experts * 2 * inter * hidden, 0.0, 1.0 / (hidden as f32).sqrt(), dtype);
    let w2 = random(&mut rng, experts * hidden * inter, 0.0, 1.0 / (inter as f32).sqrt(), dtype);
    let logits: Vec<f32> = fk_runtime::linear::linear_reference(&x, tokens, hidden, &router, experts, None)
        .iter()
        .map(|&v| fk_runtime::host::round_scalar(v, dtype) as f32)
        .collect();
    let m = MoeWeights { router: &router, w13: &w13, w2: &w2, hidden, inter, experts, top_k };
    let want = refs::moe_block_reference(&x, &m, dtype);

    let t = OpTable::baseline();
    let dl = e(Tensor::from_f32(dev, &logits, &[tokens, experts], dtype))?;
    let dx = e(Tensor::from_f32(dev, &x, &[tokens, hidden], dtype))?;
    let d13 = e(Tensor::from_f32(dev, &w13, &[experts, 2 * inter, hidden], dtype))?;
    let d2 = e(Tensor::from_f32(dev, &w2, &[experts, hidden, inter], dtype))?;
    let tw = e(Tensor::empty(dev, &[tokens, top_k], DType::F32))?;
    let ti = e(Tensor::empty(dev, &[tokens, top_k], DType::I32))?;
    let out = e(Tensor::empty(dev, &[tokens, hidden], dtype))?;
    out.poison().map_err(|e| ctx(e.to_string()))?;
    let block = ops::fused_moe_block_size(tokens, top_k, experts);
    let ws = MoeWorkspace::new(dev, tokens, top_k, experts, hidden, inter, block, dtype).map_err(|e| ctx(e.to_string()))?;
    ops::topk_softmax(&t, &dl, true, &tw, &ti).map_err(|e| ctx(e.to_string()))?;
    ops::fused_experts(&t, &dx, &tw, &ti, &d13, &d2, &ws, &out).map_err(|e| ctx(e.to_string()))?;
    let got = out.to_f32().map_err(|e| ctx(e.to_string()))?;
    // Routing must agree exactly (the logits are the same dtype values on both sides).
    let ids = ti.to_i64().map_err(|e| ctx(e.to_string()))?;
    let want_ids = refs::topk_softmax(&logits, experts, top_k, true).ids;
    if let Some(s) = ids.iter().zip(&want_ids).position(|(&a, &b)| a != b as i64) {
        return Err(ctx(format!("topk_ids differ from the reference at slot {s}: {} vs {}", ids[s], want_ids[s])));
    }
    // Four roundings in the chain (gate/up/act, inter, weighted expert output, sum): twice
    // the storage tolerance.
    compare(&got, &want, Tolerance::for_dtype(dtype).scaled(2.0)).check("MoE block output vs moe_block_reference").map_err(ctx)
}

pub fn moe_trials() -> Vec<TestTrial> {
    let mut v = Vec::new();
    for &(tokens, hidden, inter, experts, top_k) in &[(1, 256, 512, 8, 2), (16, 512, 1024, 8, 2), (257, 256, 384, 16, 2), (64, 128, 256, 64, 8), (4096, 128, 128, 8, 2)] {
        for dtype in [DType::BF16, DType::F16] {
            v.push(gpu_trial(format!("moe/block topk_softmax + fused_experts vs moe_block_reference/{dtype}/T{tokens} H{hidden} I{inter} E{experts} k{top_k}"), move |dev| {
                block_trial(dev, tokens, hidden, inter, experts, top_k, dtype)
            }));
        }
    }
    v.extend(error_trials());
    v
}

fn error_trials() -> Vec<TestTrial> {
    let t = OpTable::baseline;
    vec![
        gpu_trial("errors/topk_softmax: too many experts, k too large, int logits, wrong output dtypes", move |dev| {
            let e = |r: fk_runtime::Result<Tensor>| r.map_err(|e| e.to_string());
            let (w, ids) = (e(Tensor::zeros(dev, &[4, 2], DType::F32))?, e(Tensor::zeros(dev, &[4, 2], DType::I32))?);
            let l300 = e(Tensor::zeros(dev, &[4, 300], DType::BF16))?;
            expect_err(ops::topk_softmax(&t(), &l300, true, &w, &ids), "300 experts", |e| matches!(e, Error::Shape { .. }), "300 experts")?;
            let l8 = e(Tensor::zeros(dev, &[4, 8], DType::BF16))?;
            let (w9, i9) = (e(Tensor::zeros(dev, &[4, 9], DType::F32))?, e(Tensor::zeros(dev, &[4, 9], DType::I32))?);
            expect_err(ops::topk_softmax(&t(), &l8, true, &w9, &i9), "k 9", |e| matches!(e, Error::Shape { .. }), "top_k 9")?;
            let li = e(Tensor::zeros(dev, &[4, 8], DType::I32))?;
            expect_err(ops::topk_softmax(&t(), &li, true, &w, &ids), "i32 logits", |e| matches!(e, Error::DType { .. }), "logits")?;
            expect_err(ops::topk_softmax(&t(), &l8, true, &w, &w), "f32 ids", |e| matches!(e, Error::DType { .. }), "topk_ids")?;
            ops::topk_softmax(&t(), &l8, true, &w, &ids).map_err(|e| format!("a valid call must pass: {e}"))
        }),
        gpu_trial("errors/moe_align_block_size: expert id out of range is reported by slot, i64 ids, too many slots, too many experts", move |dev| {
            let e = |r: fk_runtime::Result<Tensor>| r.map_err(|e| e.to_string());
            let status = DeviceStatus::new(dev).map_err(|e| e.to_string())?;
            let align = MoeAlignment::new(dev, 6, 8, 16).map_err(|e| e.to_string())?;
            let ids = e(Tensor::from_i32(dev, &[0, 1, 2, 8, 3, -1], &[3, 2]))?;
            expect_err(ops::moe_align_block_size_checked(&t(), &ids, &align, &status), "id 8 of 8", |e| matches!(e, Error::BadInput { .. }), "slot 3 (token 1, choice 1) has expert id 8")?;
            // The bad slots are in no group: 4 valid slots over 4 experts = 4 blocks of 16.
            let post = align.num_tokens_post_padded.to_i64().map_err(|e| e.to_string())?[0];
            if post != 64 {
                return Err(format!("num_tokens_post_padded {post}, expected 64 (the bad slots left out)"));
            }
            let ids64 = e(Tensor::from_i64(dev, &[0, 1], &[1, 2]))?;
            expect_err(ops::moe_align_block_size(&t(), &ids64, &align, None), "i64 ids", |e| matches!(e, Error::DType { .. }), "topk_ids")?;
            let ids8 = e(Tensor::from_i32(dev, &[0; 8], &[4, 2]))?;
            expect_err(ops::moe_align_block_size(&t(), &ids8, &align, None), "8 slots into 6", |e| matches!(e, Error::Shape { .. }), "8 slots")?;
            expect_err(MoeAlignment::new(dev, 6, 600, 16).map(|_| ()), "600 experts", |e| matches!(e, Error::Shape { .. }), "600 experts")?;
            let good = e(Tensor::from_i32(dev, &[0, 1, 2, 7, 3, 0], &[3, 2]))?;
            ops::moe_align_block_size_checked(&t(), &good, &align, &status).map_err(|e| format!("valid ids must pass: {e}"))
        }),
        gpu_trial("errors/fused_moe: f32, K not a multiple of 8, expert count, out shape, block size, weights", move |dev| {
            let e = |r: fk_runtime::Result<Tensor>| r.map_err(|e| e.to_string());
            let align = MoeAlignment::new(dev, 4, 2, 16).map_err(|e| e.to_string())?;
            let x = e(Tensor::zeros(dev, &[2, 64], DType::BF16))?;
            let w13 = e(Tensor::zeros(dev, &[2, 32, 64], DType::BF16))?;
            let out = e(Tensor::zeros(dev, &[4, 16], DType::BF16))?;
            let gu = MoeGemm::GateUp { top_k: 2 };
            let ids = e(Tensor::from_i32(dev, &[0, 1, 1, 0], &[2, 2]))?;
            ops::moe_align_block_size(&t(), &ids, &align, None).map_err(|e| e.to_string())?;
            ops::fused_moe(&t(), &x, &w13, &align, gu, &out).map_err(|e| format!("a valid call must pass: {e}"))?;
            let (x32, w32, o32) = (e(Tensor::zeros(dev, &[2, 64], DType::F32))?, e(Tensor::zeros(dev, &[2, 32, 64], DType::F32))?, e(Tensor::zeros(dev, &[4, 16], DType::F32))?);
            expect_err(ops::fused_moe(&t(), &x32, &w32, &align, gu, &o32), "f32", |e| matches!(e, Error::DType { .. }), "f32")?;
            let (x100, w100) = (e(Tensor::zeros(dev, &[2, 100], DType::BF16))?, e(Tensor::zeros(dev, &[2, 32, 100], DType::BF16))?);
            expect_err(ops::fused_moe(&t(), &x100, &w100, &align, gu, &out), "K 100", |e| matches!(e, Error::Shape { .. }), "multiples of 8")?;
            let w3e = e(Tensor::zeros(dev, &[3, 32, 64], DType::BF16))?;
            expect_err(ops::fused_moe(&t(), &x, &w3e, &align, gu, &out), "3 experts vs 2", |e| matches!(e, Error::Shape { .. }), "3 experts")?;
            let o_bad = e(Tensor::zeros(dev, &[4, 32], DType::BF16))?;
            expect_err(ops::fused_moe(&t(), &x, &w13, &align, gu, &o_bad), "out of 2N columns", |e| matches!(e, Error::Shape { .. }), "gate_up")?;
            let a8 = MoeAlignment::new(dev, 4, 2, 8).map_err(|e| e.to_string())?;
            expect_err(ops::fused_moe(&t(), &x, &w13, &a8, gu, &out), "block 8", |e| matches!(e, Error::Shape { .. }), "multiple of 16")?;
            let (inter, w2, y) = (e(Tensor::zeros(dev, &[4, 16], DType::BF16))?, e(Tensor::zeros(dev, &[2, 64, 16], DType::BF16))?, e(Tensor::zeros(dev, &[4, 64], DType::BF16))?);
            let w_bad = e(Tensor::zeros(dev, &[3], DType::F32))?;
            expect_err(ops::fused_moe(&t(), &inter, &w2, &align, MoeGemm::Down { topk_weights: Some(&w_bad) }, &y), "3 weights for 4 slots", |e| matches!(e, Error::Shape { .. }), "topk_weights")?;
            expect_err(ops::fused_moe(&t(), &inter, &w2, &align, MoeGemm::Down { topk_weights: None }, &inter), "out aliasing a", |e| matches!(e, Error::Shape { .. }), "")
        }),
        gpu_trial("errors/moe_sum: 2-D input, wrong out, wrong weights, i64 ids", move |dev| {
            let e = |r: fk_runtime::Result<Tensor>| r.map_err(|e| e.to_string());
            let inp = e(Tensor::zeros(dev, &[3, 2, 16], DType::BF16))?;
            let out = e(Tensor::zeros(dev, &[3, 16], DType::BF16))?;
            ops::moe_sum(&t(), &inp, None, None, &out).map_err(|e| format!("a valid call must pass: {e}"))?;
            let flat = e(Tensor::zeros(dev, &[6, 16], DType::BF16))?;
            expect_err(ops::moe_sum(&t(), &flat, None, None, &out), "2-D input", |e| matches!(e, Error::Shape { .. }), "[tokens, top_k, hidden]")?;
            let o_bad = e(Tensor::zeros(dev, &[3, 8], DType::BF16))?;
            expect_err(ops::moe_sum(&t(), &inp, None, None, &o_bad), "out [3, 8]", |e| matches!(e, Error::Shape { .. }), "out")?;
            let w = e(Tensor::zeros(dev, &[3, 3], DType::F32))?;
            expect_err(ops::moe_sum(&t(), &inp, Some(&w), None, &out), "weights [3, 3]", |e| matches!(e, Error::Shape { .. }), "topk_weights")?;
            let ids = e(Tensor::from_i64(dev, &[0; 6], &[3, 2]))?;
            expect_err(ops::moe_sum(&t(), &inp, None, Some((&ids, 8)), &out), "i64 ids", |e| matches!(e, Error::DType { .. }), "topk_ids")
        }),
    ]
}
