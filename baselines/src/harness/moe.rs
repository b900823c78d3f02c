//! The MoE ops in the harness: case shapes ([`MoeCase`]), device instances with fresh random
//! routings and their CPU references, and the cuBLAS peer rows of the grouped GEMM.
//! - topk_softmax: logits with many exact ties (`ties`), weights to f32 tolerance, ids exact.
//! - moe_align_block_size: uniform or skewed routings, every output buffer compared exactly.
//! - fused_moe: the alignment computed on the host and uploaded (so only the GEMM is timed and
//!   judged); real routings (k distinct experts per token). Big problems are checked on a
//!   random sample of slot rows (the f64 reference of Mixtral at 4096 tokens is ~10^12 MACs);
//!   every row is still scanned for NaN (an unwritten row of the poisoned output shows up).
//! - moe_sum: optional weights, optional ids with some slots routed off-rank (id -1).

use super::cases::{Case, CaseParams};
use super::instances::{random, upload, Checked};
use super::Workload;
use crate::ops::{self, DeviceStatus, MoeAlignment, MoeGemm};
use crate::reference::moe as refs;
use crate::table::{OpId, OpTable};
use fk_runtime::compare::{compare, Tolerance};
use fk_runtime::rng::Rng;
use fk_runtime::{DType, Device, Result, Tensor};

/// Which grouped GEMM a fused_moe case runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MoeGemmKind {
    GateUp,
    Down,
}

/// One MoE case; each op uses the fields it needs.
#[derive(Clone, Debug)]
pub struct MoeCase {
    pub tokens: usize,
    pub experts: usize,
    pub top_k: usize,
    pub hidden: usize,
    pub inter: usize,
    /// topk_softmax: logits from a 5-value grid (exact ties). align: 70% of slots on expert 0.
    pub skew: bool,
    pub renormalize: bool,
    /// 0: `ops::fused_moe_block_size`.
    pub block_size: usize,
    pub gemm: MoeGemmKind,
    /// fused_moe down / moe_sum: multiply by the routing weights.
    pub weighted: bool,
}

impl MoeCase {
    pub fn new(tokens: usize, experts: usize, top_k: usize) -> MoeCase {
        MoeCase { tokens, experts, top_k, hidden: 0, inter: 0, skew: false, renormalize: true, block_size: 0, gemm: MoeGemmKind::GateUp, weighted: true }
    }

    pub fn block(&self) -> usize {
        if self.block_size > 0 {
            self.block_size
        } else {
            ops::fused_moe_block_size(self.tokens, self.top_k, self.experts)
        }
    }

    pub(super) fn label(&self, op: OpId) -> String {
        let (t, e, k, h, i) = (self.tokens, self.experts, self.top_k, self.hidden, self.inter);
        match op {
            OpId::TopkSoftmax => format!("[{t}, {e}] k{k}"),
            OpId::MoeAlignBlockSize => format!("[{t}, {k}] E{e} block {}", self.block()),
            OpId::FusedMoe => match self.gemm {
                MoeGemmKind::GateUp => format!("gate_up [{t}, {h}] x [{e}, {}, {h}] k{k}", 2 * i),
                MoeGemmKind::Down => format!("down [{}, {i}] x [{e}, {h}, {i}] k{k}", t * k),
            },
            _ => format!("[{t}, {k}, {h}]"),
        }
    }

    pub(super) fn variant(&self, op: OpId) -> String {
        let mut v = Vec::new();
        match op {
            OpId::TopkSoftmax => {
                if self.skew {
                    v.push("ties".to_string());
                }
                v.push(if self.renormalize { "renorm" } else { "no-renorm" }.into());
            }
            OpId::MoeAlignBlockSize if self.skew => v.push("skewed".into()),
            OpId::FusedMoe => {
                v.push(format!("block {}", self.block()));
                if self.gemm == MoeGemmKind::Down && !self.weighted {
                    v.push("unweighted".into());
                }
            }
            OpId::MoeSum => {
                v.push(if self.weighted { "weighted" } else { "unweighted" }.into());
                if self.skew {
                    v.push("off-rank slots".into());
                }
            }
            _ => {}
        }
        v.join(" ")
    }
}

/// Correctness cases of the four MoE ops for `dtype` (fused_moe: bf16/f16 only).
pub(super) fn moe_test_cases(dtype: DType) -> Vec<Case> {
    let mut cases = Vec::new();
    let mk = |op: OpId, c: MoeCase| Case { op, dtype, params: CaseParams::Moe(c) };
    // topk_softmax: (T, E, k, ties, renormalize)
    for &(t, e, k, skew, renorm) in &[(1, 8, 2, false, true), (2, 8, 2, true, true), (7, 16, 1, false, false), (16, 64, 8, true, true), (257, 8, 2, true, false), (4096, 64, 8, false, true), (33, 256, 8, true, true), (5, 3, 3, false, true)] {
        cases.push(mk(OpId::TopkSoftmax, MoeCase { skew, renormalize: renorm, ..MoeCase::new(t, e, k) }));
    }
    // moe_sum: (T, k, H, weighted, off-rank)
    for &(t, k, h, w, skew) in &[(1, 2, 4096, false, false), (2, 2, 4096, true, false), (7, 1, 80, true, true), (16, 8, 100, false, true), (257, 2, 2880, true, false), (4096, 2, 256, false, false), (64, 8, 4096, true, true)] {
        cases.push(mk(OpId::MoeSum, MoeCase { hidden: h, weighted: w, skew, ..MoeCase::new(t, 8, k) }));
    }
    if dtype == DType::F32 {
        return cases;
    }
    // fused_moe: (T, E, k, H, I, block 0 = auto); small and Mixtral-sized (4096 / 14336) at
    // decode sizes; every tile configuration (block 16, 64, 128); I not a multiple of the
    // tile's columns; H not a multiple of the 64-wide K tile.
    let gemm = [
        (1, 8, 2, 4096, 14336, 0),
        (2, 8, 2, 4096, 14336, 0),
        (7, 8, 2, 256, 512, 0),
        (16, 8, 2, 4096, 14336, 0),
        (64, 16, 2, 128, 200, 64),
        (257, 8, 2, 512, 1024, 0),
        (4096, 8, 2, 256, 512, 0),
        (4096, 64, 8, 128, 96, 128),
        (33, 64, 8, 264, 136, 16),
        (100, 8, 1, 1024, 2048, 128),
        // Block 128 with ~50 slots per expert: last 64 rows all padding in some blocks (that
        // consumer idles) and not in others; I = 320 ends mid-tile.
        (400, 8, 1, 256, 320, 128),
        // 32 slots on 2 experts in blocks of 64: an expert usually holds more than 16 (a decode
        // kernel taking 16 rows at a time must walk the block's second group).
        (32, 2, 1, 256, 512, 64),
    ];
    for &(t, e, k, h, i, b) in &gemm {
        for kind in [MoeGemmKind::GateUp, MoeGemmKind::Down] {
            cases.push(mk(OpId::FusedMoe, MoeCase { hidden: h, inter: i, block_size: b, gemm: kind, ..MoeCase::new(t, e, k) }));
        }
    }
    cases.push(mk(OpId::FusedMoe, MoeCase { hidden: 256, inter: 512, gemm: MoeGemmKind::Down, weighted: false, ..MoeCase::new(9, 8, 2) }));
    cases
}

/// Correctness cases of moe_align_block_size (ids in, ids out: dtype i32): decode and prefill
/// sizes, E 8 … 512, block 1 … 128, skewed routings (one expert with many blocks).
pub(super) fn align_test_cases() -> Vec<Case> {
    let specs = [(1, 8, 2, 16, false), (2, 8, 2, 16, false), (7, 16, 1, 64, true), (16, 64, 8, 16, false), (257, 8, 2, 64, false), (4096, 8, 2, 128, true), (4096, 64, 8, 128, false), (100, 512, 8, 16, false), (3, 8, 2, 1, false)];
    specs
        .iter()
        .map(|&(t, e, k, b, skew)| Case { op: OpId::MoeAlignBlockSize, dtype: DType::I32, params: CaseParams::Moe(MoeCase { block_size: b, skew, ..MoeCase::new(t, e, k) }) })
        .collect()
}

/// Geometry of a sparse-MoE LLM layer (config.json).
#[derive(Clone, Debug)]
pub struct MoeShapes {
    pub hidden: usize,
    pub intermediate: usize,
    pub experts: usize,
    pub top_k: usize,
}

impl MoeShapes {
    /// mistralai/Mixtral-8x7B-Instruct-v0.1: hidden_size 4096, intermediate_size 14336,
    /// num_local_experts 8, num_experts_per_tok 2.
    pub const MIXTRAL_8X7B: MoeShapes = MoeShapes { hidden: 4096, intermediate: 14336, experts: 8, top_k: 2 };

    /// The shape label of a whole MoE block over `tokens` tokens (the PyTorch peer,
    /// `scripts/peer_hf_moe.py`, writes the same).
    pub fn block_label(&self, tokens: usize) -> String {
        format!("[{tokens}, {}] E{} k{} I={}", self.hidden, self.experts, self.top_k, self.intermediate)
    }
}

/// The token counts the MoE benches run (both `fk-baselines` and `fk-mixtral` `ops`, and
/// `scripts/peer_hf_moe.py`'s default): every power of two from one decode token to a 4096-token
/// prefill, so "at every batch size" is a row per size, not an interpolation.
pub const MOE_BENCH_TOKENS: [usize; 13] = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096];

/// Bench cases of the MoE ops at a model's shapes for each token count (bf16).
pub fn moe_bench_cases(s: &MoeShapes, tokens: &[usize], dtype: DType) -> Vec<Case> {
    let mut cases = Vec::new();
    for &t in tokens {
        let c = MoeCase { hidden: s.hidden, inter: s.intermediate, ..MoeCase::new(t, s.experts, s.top_k) };
        let mk = |op: OpId, c: MoeCase| Case { op, dtype, params: CaseParams::Moe(c) };
        cases.push(mk(OpId::TopkSoftmax, c.clone()));
        cases.push(Case { op: OpId::MoeAlignBlockSize, dtype: DType::I32, params: CaseParams::Moe(c.clone()) });
        cases.push(mk(OpId::FusedMoe, MoeCase { gemm: MoeGemmKind::GateUp, ..c.clone() }));
        cases.push(mk(OpId::FusedMoe, MoeCase { gemm: MoeGemmKind::Down, ..c.clone() }));
        cases.push(mk(OpId::MoeSum, c));
    }
    cases
}

/// Routing of `tokens` tokens: `k` distinct experts each (as a router picks them); `skew`
/// sends ~70% of choices to expert 0.
pub(super) fn random_routing(rng: &mut Rng, tokens: usize, experts: usize, k: usize, skew: bool) -> Vec<i32> {
    let mut ids = Vec::with_capacity(tokens * k);
    for _ in 0..tokens {
        let mut chosen: Vec<i32> = Vec::with_capacity(k);
        while chosen.len() < k {
            let e = if skew && rng.uniform() < 0.7 { 0 } else { rng.range(0, experts as i64) as i32 };
            if !chosen.contains(&e) {
                chosen.push(e);
            }
        }
        ids.extend(chosen);
    }
    ids
}

/// Renormalised random routing weights (k per token, sum 1).
fn random_weights(rng: &mut Rng, tokens: usize, k: usize) -> Vec<f32> {
    (0..tokens)
        .flat_map(|_| {
            let w: Vec<f64> = (0..k).map(|_| 0.05 + rng.uniform()).collect();
            let s: f64 = w.iter().sum();
            w.into_iter().map(move |v| (v / s) as f32)
        })
        .collect()
}

fn exact(out: &[f32], reference: &[f64], what: &str) -> std::result::Result<(), String> {
    compare(out, reference, Tolerance::for_dtype(DType::I32)).check(what)
}

pub(super) fn instantiate_moe(dev: &Device, case: &Case, c: &MoeCase, rng: &mut Rng) -> Result<Box<dyn Checked>> {
    Ok(match case.op {
        OpId::TopkSoftmax => Box::new(TopkInst::new(dev, case.dtype, c, rng)?),
        OpId::MoeAlignBlockSize => Box::new(AlignInst::new(dev, c, rng)?),
        OpId::FusedMoe => Box::new(GemmInst::new(dev, case.dtype, c, rng)?),
        _ => Box::new(SumInst::new(dev, case.dtype, c, rng)?),
    })
}

struct TopkInst {
    c: MoeCase,
    dtype: DType,
    logits: Tensor,
    weights: Tensor,
    ids: Tensor,
    hlogits: Vec<f32>,
    reference: Option<Vec<Vec<f64>>>,
}

impl TopkInst {
    fn new(dev: &Device, dtype: DType, c: &MoeCase, rng: &mut Rng) -> Result<TopkInst> {
        let n = c.tokens * c.experts;
        // Ties: values on a grid of 0.5 in [-1, 1], exact in every dtype, so most rows have
        // equal logits around the k-th place.
        let hlogits = if c.skew { (0..n).map(|_| rng.range(-2, 3) as f32 * 0.5).collect() } else { random(rng, n, 0.0, 2.0, dtype) };
        Ok(TopkInst {
            c: c.clone(),
            dtype,
            logits: upload(dev, &hlogits, &[c.tokens, c.experts], dtype)?,
            weights: Tensor::empty(dev, &[c.tokens, c.top_k], DType::F32)?,
            ids: Tensor::empty(dev, &[c.tokens, c.top_k], DType::I32)?,
            hlogits,
            reference: None,
        })
    }
}

impl Workload for TopkInst {
    fn prepare(&mut self) -> Result<()> {
        self.weights.poison()?;
        self.ids.poison()
    }
    fn run(&mut self, table: &OpTable) -> Result<()> {
        ops::topk_softmax(table, &self.logits, self.c.renormalize, &self.weights, &self.ids)
    }
    fn check(&mut self) -> std::result::Result<(), String> {
        let outs = self.outputs().map_err(|e| e.to_string())?;
        let r = self.reference().to_vec();
        exact(&outs[1], &r[1], "topk_ids")?;
        compare(&outs[0], &r[0], self.tolerance()).check("topk_weights")
    }
    fn bytes(&self) -> u64 {
        (self.c.tokens * (self.c.experts * self.dtype.size() + self.c.top_k * 8)) as u64
    }
}

impl Checked for TopkInst {
    fn outputs(&self) -> Result<Vec<Vec<f32>>> {
        Ok(vec![self.weights.to_f32()?, self.ids.to_i64()?.iter().map(|&v| v as f32).collect()])
    }
    /// fp32 softmax with expf: f32 tolerance (ids are compared exactly by `check`).
    fn tolerance(&self) -> Tolerance {
        Tolerance::for_dtype(DType::F32)
    }
    fn reference(&mut self) -> &[Vec<f64>] {
        if self.reference.is_none() {
            let r = refs::topk_softmax(&self.hlogits, self.c.experts, self.c.top_k, self.c.renormalize);
            self.reference = Some(vec![r.weights, r.ids.iter().map(|&v| v as f64).collect()]);
        }
        self.reference.as_deref().unwrap_or(&[])
    }
}

struct AlignInst {
    c: MoeCase,
    ids: Tensor,
    align: MoeAlignment,
    status: DeviceStatus,
    hids: Vec<i32>,
    reference: Option<Vec<Vec<f64>>>,
}

impl AlignInst {
    fn new(dev: &Device, c: &MoeCase, rng: &mut Rng) -> Result<AlignInst> {
        let hids = random_routing(rng, c.tokens, c.experts, c.top_k, c.skew);
        Ok(AlignInst {
            c: c.clone(),
            ids: Tensor::from_i32(dev, &hids, &[c.tokens, c.top_k])?,
            align: MoeAlignment::new(dev, c.tokens * c.top_k, c.experts, c.block())?,
            status: DeviceStatus::new(dev)?,
            hids,
            reference: None,
        })
    }
}

impl Workload for AlignInst {
    fn prepare(&mut self) -> Result<()> {
        self.align.sorted_token_ids.poison()?;
        self.align.expert_ids.poison()?;
        self.align.num_tokens_post_padded.poison()
    }
    fn run(&mut self, table: &OpTable) -> Result<()> {
        ops::moe_align_block_size(table, &self.ids, &self.align, Some(&self.status))
    }
    fn check(&mut self) -> std::result::Result<(), String> {
        self.status.check("moe_align_block_size", |s| format!("slot {s}")).map_err(|e| e.to_string())?;
        let outs = self.outputs().map_err(|e| e.to_string())?;
        let r = self.reference().to_vec();
        for (i, what) in ["sorted_token_ids", "expert_ids", "num_tokens_post_padded"].iter().enumerate() {
            exact(&outs[i], &r[i], what)?;
        }
        Ok(())
    }
    fn bytes(&self) -> u64 {
        let slots = self.c.tokens * self.c.top_k;
        (4 * (slots + refs::max_padded(slots, self.c.experts, self.c.block()) + refs::max_blocks(slots, self.c.experts, self.c.block()))) as u64
    }
}

impl Checked for AlignInst {
    fn outputs(&self) -> Result<Vec<Vec<f32>>> {
        let slots = self.c.tokens * self.c.top_k;
        let (e, b) = (self.c.experts, self.c.block());
        let get = |t: &Tensor, n: usize| -> Result<Vec<f32>> { Ok(t.narrow(0, 0, n)?.to_i64()?.iter().map(|&v| v as f32).collect()) };
        Ok(vec![
            get(&self.align.sorted_token_ids, refs::max_padded(slots, e, b))?,
            get(&self.align.expert_ids, refs::max_blocks(slots, e, b))?,
            get(&self.align.num_tokens_post_padded, 1)?,
        ])
    }
    fn tolerance(&self) -> Tolerance {
        Tolerance::for_dtype(DType::I32)
    }
    fn reference(&mut self) -> &[Vec<f64>] {
        if self.reference.is_none() {
            let a = refs::moe_align_block_size(&self.hids, self.c.experts, self.c.block());
            let f = |v: &[i32]| v.iter().map(|&x| x as f64).collect::<Vec<f64>>();
            self.reference = Some(vec![f(&a.sorted_token_ids), f(&a.expert_ids), vec![a.num_tokens_post_padded as f64]]);
        }
        self.reference.as_deref().unwrap_or(&[])
    }
}

/// Slot rows checked against the f64 reference: all of them up to this many MACs, else a
/// random sample of [`SAMPLED_SLOTS`].
const FULL_CHECK_MACS: usize = 1 << 31;
const SAMPLED_SLOTS: usize = 96;

struct GemmInst {
    c: MoeCase,
    dtype: DType,
    a: Tensor,
    weight: Tensor,
    align: MoeAlignment,
    topk_weights: Option<Tensor>,
    out: Tensor,
    ha: Vec<f32>,
    hw: Vec<f32>,
    hids: Vec<i32>,
    hweights: Vec<f32>,
    /// The slot rows `check` compares (sorted).
    checked: Vec<usize>,
    touched_experts: usize,
    reference: Option<Vec<Vec<f64>>>,
}

impl GemmInst {
    fn new(dev: &Device, dtype: DType, c: &MoeCase, rng: &mut Rng) -> Result<GemmInst> {
        let (t, e, k, h, i) = (c.tokens, c.experts, c.top_k, c.hidden, c.inter);
        let slots = t * k;
        let hids = random_routing(rng, t, e, k, false);
        let hweights = random_weights(rng, t, k);
        // Unit-scale activations, weights of std 1/sqrt(K): unit-scale outputs, as in a model.
        let (a_rows, kk, n_w, n) = match c.gemm {
            MoeGemmKind::GateUp => (t, h, 2 * i, i),
            MoeGemmKind::Down => (slots, i, h, h),
        };
        let ha = random(rng, a_rows * kk, 0.0, 1.0, dtype);
        let hw = random(rng, e * n_w * kk, 0.0, 1.0 / (kk as f32).sqrt(), dtype);
        let align = MoeAlignment::new(dev, slots, e, c.block())?;
        let a = refs::moe_align_block_size(&hids, e, c.block());
        align.sorted_token_ids.narrow(0, 0, a.sorted_token_ids.len())?.copy_from(&Tensor::from_i32(dev, &a.sorted_token_ids, &[a.sorted_token_ids.len()])?)?;
        align.expert_ids.narrow(0, 0, a.expert_ids.len())?.copy_from(&Tensor::from_i32(dev, &a.expert_ids, &[a.expert_ids.len()])?)?;
        align.num_tokens_post_padded.copy_from(&Tensor::from_i32(dev, &[a.num_tokens_post_padded as i32], &[1])?)?;
        let checked: Vec<usize> = if slots * n_w * kk <= FULL_CHECK_MACS {
            (0..slots).collect()
        } else {
            let mut s: Vec<usize> = (0..SAMPLED_SLOTS).map(|_| rng.range(0, slots as i64) as usize).collect();
            s.sort();
            s.dedup();
            s
        };
        let mut touched: Vec<i32> = hids.clone();
        touched.sort();
        touched.dedup();
        let weighted = c.gemm == MoeGemmKind::Down && c.weighted;
        Ok(GemmInst {
            c: c.clone(),
            dtype,
            a: upload(dev, &ha, &[a_rows, kk], dtype)?,
            weight: upload(dev, &hw, &[e, n_w, kk], dtype)?,
            align,
            topk_weights: if weighted { Some(Tensor::from_f32(dev, &hweights, &[slots], DType::F32)?) } else { None },
            out: Tensor::empty(dev, &[slots, n], dtype)?,
            ha,
            hw,
            hids,
            hweights,
            checked,
            touched_experts: touched.len(),
            reference: None,
        })
    }

    fn dims(&self) -> (usize, usize, usize) {
        // (n_w, K, N)
        match self.c.gemm {
            MoeGemmKind::GateUp => (2 * self.c.inter, self.c.hidden, self.c.inter),
            MoeGemmKind::Down => (self.c.hidden, self.c.inter, self.c.hidden),
        }
    }

    fn gemm(&self) -> MoeGemm<'_> {
        match self.c.gemm {
            MoeGemmKind::GateUp => MoeGemm::GateUp { top_k: self.c.top_k },
            MoeGemmKind::Down => MoeGemm::Down { topk_weights: self.topk_weights.as_ref() },
        }
    }
}

impl Workload for GemmInst {
    fn prepare(&mut self) -> Result<()> {
        self.out.poison()
    }
    fn run(&mut self, table: &OpTable) -> Result<()> {
        let g = self.gemm();
        ops::fused_moe(table, &self.a, &self.weight, &self.align, g, &self.out)
    }
    fn check(&mut self) -> std::result::Result<(), String> {
        let full = self.out.to_f32().map_err(|e| e.to_string())?;
        if let Some(bad) = full.iter().position(|v| !v.is_finite()) {
            let n = self.dims().2;
            return Err(format!("out row {} (slot) col {} is {} (unwritten or overflowed); {} non-finite in all", bad / n, bad % n, full[bad], full.iter().filter(|v| !v.is_finite()).count()));
        }
        let n = self.dims().2;
        let got: Vec<f32> = self.checked.iter().flat_map(|&s| full[s * n..(s + 1) * n].to_vec()).collect();
        let r = self.reference().to_vec();
        let what = format!("{} rows of {} slots", self.checked.len(), self.c.tokens * self.c.top_k);
        compare(&got, &r[0], self.tolerance()).check(&what)
    }
    /// Weights of the touched experts once, activations read once, output written once.
    fn bytes(&self) -> u64 {
        let (n_w, k, n) = self.dims();
        let es = self.dtype.size();
        let slots = self.c.tokens * self.c.top_k;
        (self.touched_experts * n_w * k * es + self.ha.len() * es + slots * n * es) as u64
    }
    /// Useful flops (padding rows excluded).
    fn flops(&self) -> u64 {
        let (n_w, k, _) = self.dims();
        (2 * self.c.tokens * self.c.top_k * n_w * k) as u64
    }
}

impl Checked for GemmInst {
    fn outputs(&self) -> Result<Vec<Vec<f32>>> {
        Ok(vec![self.out.to_f32()?])
    }
    /// gate_up rounds gate, up and silu(gate) to the dtype as PyTorch does: where fp32
    /// accumulation lands a sum on the other side of a rounding boundary than the f64
    /// reference, an intermediate moves by one unit, so allow twice the storage tolerance.
    fn tolerance(&self) -> Tolerance {
        let t = Tolerance::for_dtype(self.dtype);
        if self.c.gemm == MoeGemmKind::GateUp {
            t.scaled(2.0)
        } else {
            t
        }
    }
    fn reference(&mut self) -> &[Vec<f64>] {
        if self.reference.is_none() {
            let c = &self.c;
            let (ha, hw, hids, checked) = (&self.ha, &self.hw, &self.hids, &self.checked);
            let w64: Vec<f64> = self.hweights.iter().map(|&v| v as f64).collect();
            let weights = (c.gemm == MoeGemmKind::Down && c.weighted).then_some(w64.as_slice());
            let dtype = self.dtype;
            let per = |r: std::ops::Range<usize>| -> Vec<f64> {
                let slots = &checked[r];
                match c.gemm {
                    MoeGemmKind::GateUp => refs::fused_moe_gate_up(ha, c.hidden, hw, c.inter, hids, c.top_k, slots, dtype),
                    MoeGemmKind::Down => refs::fused_moe_down(ha, c.inter, hw, c.hidden, hids, weights, slots),
                }
            };
            self.reference = Some(vec![super::instances::par_rows(checked.len(), per)]);
        }
        self.reference.as_deref().unwrap_or(&[])
    }
}

struct SumInst {
    c: MoeCase,
    dtype: DType,
    input: Tensor,
    weights: Tensor,
    ids: Tensor,
    out: Tensor,
    hin: Vec<f32>,
    hweights: Vec<f32>,
    hids: Vec<i32>,
    reference: Option<Vec<Vec<f64>>>,
}

impl SumInst {
    fn new(dev: &Device, dtype: DType, c: &MoeCase, rng: &mut Rng) -> Result<SumInst> {
        let (t, k, h) = (c.tokens, c.top_k, c.hidden);
        let hin = random(rng, t * k * h, 0.0, 1.0, dtype);
        let hweights = random_weights(rng, t, k);
        let mut hids = random_routing(rng, t, c.experts, k, false);
        if c.skew {
            // Off-rank slots (expert parallelism): their rows are skipped, so make them NaN to
            // prove they are never read.
            for (s, id) in hids.iter_mut().enumerate() {
                if s % 3 == 1 {
                    *id = -1;
                }
            }
        }
        let mut hin = hin;
        for (s, &id) in hids.iter().enumerate() {
            if id < 0 {
                hin[s * h..(s + 1) * h].fill(f32::NAN);
            }
        }
        Ok(SumInst {
            c: c.clone(),
            dtype,
            input: upload(dev, &hin, &[t, k, h], dtype)?,
            weights: Tensor::from_f32(dev, &hweights, &[t, k], DType::F32)?,
            ids: Tensor::from_i32(dev, &hids, &[t, k])?,
            out: Tensor::empty(dev, &[t, h], dtype)?,
            hin,
            hweights,
            hids,
            reference: None,
        })
    }
}

impl Workload for SumInst {
    fn prepare(&mut self) -> Result<()> {
        self.out.poison()
    }
    fn run(&mut self, table: &OpTable) -> Result<()> {
        let w = self.c.weighted.then_some(&self.weights);
        let ids = self.c.skew.then_some((&self.ids, self.c.experts));
        ops::moe_sum(table, &self.input, w, ids, &self.out)
    }
    fn check(&mut self) -> std::result::Result<(), String> {
        super::instances::check_all(self)
    }
    fn bytes(&self) -> u64 {
        ((self.hin.len() + self.c.tokens * self.c.hidden) * self.dtype.size()) as u64
    }
}

impl Checked for SumInst {
    fn outputs(&self) -> Result<Vec<Vec<f32>>> {
        Ok(vec![self.out.to_f32()?])
    }
    fn tolerance(&self) -> Tolerance {
        Tolerance::for_dtype(self.dtype)
    }
    fn reference(&mut self) -> &[Vec<f64>] {
        if self.reference.is_none() {
            let w = self.c.weighted.then_some(self.hweights.as_slice());
            let ids = self.c.skew.then_some((self.hids.as_slice(), self.c.experts));
            self.reference = Some(vec![refs::moe_sum(&self.hin, self.c.top_k, self.c.hidden, w, ids)]);
        }
        self.reference.as_deref().unwrap_or(&[])
    }
}
