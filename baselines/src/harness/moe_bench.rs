//! MoE benchmark rows beyond the L1 cases: the cuBLAS peer of each grouped GEMM row, and the
//! routed-experts part of `MixtralSparseMoeBlock` (topk_softmax → fused_experts) as one L2 row.
//! - `fused_moe cuBLAS peer`: for the same kind of routing, one cuBLASLt bf16 GEMM per touched
//!   expert over that expert's (pre-gathered, unpadded) rows: the dense-GEMM rate at the same
//!   shapes, timed in the same run. Its TFLOP/s over the fused_moe row's is the "% of cuBLAS"
//!   of the acceptance (gather, padding and the fused epilogue are ours to hide).
//! - `MixtralSparseMoeBlock experts`: from router logits to the combined output (the router
//!   GEMM, a cuBLAS Linear, is not in the row). Bytes = the touched experts' w13 and w2 once +
//!   activations: at decode sizes its GB/s is the weight-streaming rate the acceptance names.

use super::bench::BenchSpec;
use super::moe::{moe_bench_cases, random_routing, MoeGemmKind, MoeShapes};
use super::Workload;
use super::cases::CaseParams;
use crate::ops::{self, MoeWorkspace};
use crate::reference::moe as refs;
use crate::table::{OpId, OpTable};
use crate::util::random_fill;
use fk_runtime::compare::{compare, Tolerance};
use fk_runtime::gemm::Gemm;
use fk_runtime::host::round_scalar;
use fk_runtime::rng::Rng;
use fk_runtime::{DType, Device, Result, Tensor};

fn filled(dev: &Device, shape: &[usize], std: f32, rng: &mut Rng) -> Result<Tensor> {
    let t = Tensor::empty(dev, shape, DType::BF16)?;
    random_fill(&t, rng.next_u64(), 0.0, std)?;
    Ok(t)
}

fn touched(ids: &[i32], experts: usize) -> Vec<usize> {
    let mut c = vec![0; experts];
    for &e in ids {
        c[e as usize] += 1;
    }
    c
}

/// One cuBLASLt GEMM per touched expert: `[count_e, K] · w[e]ᵀ`.
struct CublasPeer {
    gemm: Gemm,
    parts: Vec<(Tensor, Tensor, Tensor)>,
    bytes: u64,
    flops: u64,
}

impl CublasPeer {
    fn new(dev: &Device, s: &MoeShapes, tokens: usize, kind: MoeGemmKind, rng: &mut Rng) -> Result<CublasPeer> {
        let (n_w, k) = match kind {
            MoeGemmKind::GateUp => (2 * s.intermediate, s.hidden),
            MoeGemmKind::Down => (s.hidden, s.intermediate),
        };
        let ids = random_routing(rng, tokens, s.experts, s.top_k, false);
        let weight = filled(dev, &[s.experts, n_w, k], 1.0 / (k as f32).sqrt(), rng)?;
        let mut parts = Vec::new();
        let mut bytes = 0;
        for (e, &count) in touched(&ids, s.experts).iter().enumerate() {
            if count == 0 {
                continue;
            }
            let w = weight.narrow(0, e, 1)?.reshape(&[n_w, k])?;
            parts.push((filled(dev, &[count, k], 1.0, rng)?, w, Tensor::empty(dev, &[count, n_w], DType::BF16)?));
            bytes += 2 * (n_w * k + count * k + count * n_w) as u64;
        }
        Ok(CublasPeer { gemm: Gemm::new(dev)?, parts, bytes, flops: (2 * tokens * s.top_k * n_w * k) as u64 })
    }
}

impl Workload for CublasPeer {
    fn prepare(&mut self) -> Result<()> {
        Ok(())
    }
    fn run(&mut self, _table: &OpTable) -> Result<()> {
        for (x, w, out) in &self.parts {
            self.gemm.linear(x, w, None, out)?;
        }
        Ok(())
    }
    /// cuBLAS is the peer, not under test.
    fn check(&mut self) -> std::result::Result<(), String> {
        Ok(())
    }
    fn bytes(&self) -> u64 {
        self.bytes
    }
    fn flops(&self) -> u64 {
        self.flops
    }
}

/// Tokens whose outputs the block row's audit compares with the f64 reference.
const CHECKED_TOKENS: usize = 4;

/// topk_softmax → fused_experts from router logits, bf16.
struct ExpertsBlock {
    s: MoeShapes,
    tokens: usize,
    logits: Tensor,
    x: Tensor,
    w13: Tensor,
    w2: Tensor,
    topk_w: Tensor,
    topk_ids: Tensor,
    ws: MoeWorkspace,
    out: Tensor,
    hlogits: Vec<f32>,
    touched: usize,
    checked: Vec<usize>,
}

impl ExpertsBlock {
    fn new(dev: &Device, s: &MoeShapes, tokens: usize, rng: &mut Rng) -> Result<ExpertsBlock> {
        let (h, i, e, k) = (s.hidden, s.intermediate, s.experts, s.top_k);
        let hlogits = super::instances::random(rng, tokens * e, 0.0, 1.0, DType::BF16);
        let ids = refs::topk_softmax(&hlogits, e, k, true).ids;
        let touched = touched(&ids, e).iter().filter(|&&c| c > 0).count();
        let mut checked: Vec<usize> = (0..CHECKED_TOKENS).map(|_| rng.range(0, tokens as i64) as usize).collect();
        checked.sort();
        checked.dedup();
        Ok(ExpertsBlock {
            s: s.clone(),
            tokens,
            logits: Tensor::from_f32(dev, &hlogits, &[tokens, e], DType::BF16)?,
            x: filled(dev, &[tokens, h], 1.0, rng)?,
            w13: filled(dev, &[e, 2 * i, h], 1.0 / (h as f32).sqrt(), rng)?,
            w2: filled(dev, &[e, h, i], 1.0 / (i as f32).sqrt(), rng)?,
            topk_w: Tensor::empty(dev, &[tokens, k], DType::F32)?,
            topk_ids: Tensor::empty(dev, &[tokens, k], DType::I32)?,
            ws: MoeWorkspace::new(dev, tokens, k, e, h, i, ops::fused_moe_block_size(tokens, k, e), DType::BF16)?,
            out: Tensor::empty(dev, &[tokens, h], DType::BF16)?,
            hlogits,
            touched,
            checked,
        })
    }
}

impl Workload for ExpertsBlock {
    fn prepare(&mut self) -> Result<()> {
        self.out.poison()
    }
    fn run(&mut self, table: &OpTable) -> Result<()> {
        ops::topk_softmax(table, &self.logits, true, &self.topk_w, &self.topk_ids)?;
        ops::fused_experts(table, &self.x, &self.topk_w, &self.topk_ids, &self.w13, &self.w2, &self.ws, &self.out)
    }
    fn check(&mut self) -> std::result::Result<(), String> {
        let e = |r: Result<Vec<f32>>| r.map_err(|e| e.to_string());
        let got = e(self.out.to_f32())?;
        if let Some(bad) = got.iter().position(|v| !v.is_finite()) {
            return Err(format!("out[{bad}] = {} (unwritten?)", got[bad]));
        }
        let (h, i, k) = (self.s.hidden, self.s.intermediate, self.s.top_k);
        let (x, w13, w2) = (e(self.x.to_f32())?, e(self.w13.to_f32())?, e(self.w2.to_f32())?);
        let r = refs::topk_softmax(&self.hlogits, self.s.experts, k, true);
        // The checked tokens' slots, renumbered 0.. so the references run on them alone.
        let slots: Vec<usize> = self.checked.iter().flat_map(|&t| (0..k).map(move |j| t * k + j)).collect();
        let ids: Vec<i32> = slots.iter().map(|&s| r.ids[s]).collect();
        let wts: Vec<f64> = slots.iter().map(|&s| r.weights[s]).collect();
        let xs: Vec<f32> = self.checked.iter().flat_map(|&t| x[t * h..(t + 1) * h].to_vec()).collect();
        let local: Vec<usize> = (0..slots.len()).collect();
        let inter: Vec<f32> = refs::fused_moe_gate_up(&xs, h, &w13, i, &ids, k, &local, DType::BF16).iter().map(|&v| round_scalar(v, DType::BF16) as f32).collect();
        let y: Vec<f32> = refs::fused_moe_down(&inter, i, &w2, h, &ids, Some(&wts), &local).iter().map(|&v| round_scalar(v, DType::BF16) as f32).collect();
        let want = refs::moe_sum(&y, k, h, None, None);
        let got_rows: Vec<f32> = self.checked.iter().flat_map(|&t| got[t * h..(t + 1) * h].to_vec()).collect();
        compare(&got_rows, &want, Tolerance::for_dtype(DType::BF16).scaled(2.0)).check(&format!("tokens {:?} of {}", self.checked, self.tokens))
    }
    fn bytes(&self) -> u64 {
        let (h, i, e) = (self.s.hidden, self.s.intermediate, self.s.experts);
        (2 * (self.touched * 3 * h * i + 2 * self.tokens * h) + self.tokens * e * 2) as u64
    }
    fn flops(&self) -> u64 {
        (2 * self.tokens * self.s.top_k * 3 * self.s.hidden * self.s.intermediate) as u64
    }
}

/// The MoE bench rows at a model's shapes: the four L1 ops per token count, a cuBLAS peer row
/// after each fused_moe row, and the L2 routed-experts row.
pub fn moe_bench_specs(s: &MoeShapes, tokens: &[usize]) -> Vec<BenchSpec> {
    let mut specs = Vec::new();
    for case in moe_bench_cases(s, tokens, DType::BF16) {
        let peer = match (&case.op, &case.params) {
            (OpId::FusedMoe, CaseParams::Moe(c)) => Some((c.tokens, c.gemm, case.shape_label())),
            _ => None,
        };
        specs.push(BenchSpec::l1(case));
        if let Some((t, kind, shape)) = peer {
            let s = s.clone();
            specs.push(BenchSpec {
                op: "fused_moe cuBLAS peer".into(),
                level: "L1",
                shape,
                dtype: DType::BF16,
                uses: vec![],
                make: Box::new(move |dev, rng| Ok(Box::new(CublasPeer::new(dev, &s, t, kind, rng)?) as Box<dyn Workload>)),
            });
        }
    }
    for &t in tokens {
        let s = s.clone();
        specs.push(BenchSpec {
            op: "MixtralSparseMoeBlock experts".into(),
            level: "L2",
            shape: s.block_label(t),
            dtype: DType::BF16,
            uses: vec![OpId::TopkSoftmax, OpId::MoeAlignBlockSize, OpId::FusedMoe, OpId::MoeSum],
            make: Box::new(move |dev, rng| Ok(Box::new(ExpertsBlock::new(dev, &s, t, rng)?) as Box<dyn Workload>)),
        });
    }
    specs
}
