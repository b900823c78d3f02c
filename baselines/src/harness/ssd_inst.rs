//! Device instance of an `ssd_chunk_scan` case (Mamba-2 prefill): fresh random inputs in the
//! ranges a trained Mamba-2 sees (see `ssm_inst.rs` for dt and A), B and C as column blocks of
//! one conv-output-like buffer when the case has padding (as the mixer passes them), and the
//! plain recurrence `reference::ssm::ssd_sequential` as the oracle, per sequence and head.
//! Heads are independent given their group's B and C, so big cases check a sample of heads.
//! `full` cases with padding also clamp dt (HF's `time_step_limit`); the reference then gets
//! the effective steps, computed on the host, so the kernel's softplus-and-clamp is checked
//! against an independent formula.

use super::instances::{upload, Checked};
use super::ssm::SsmCase;
use super::ssm_inst::{b_and_c, f64s, random_a, random_dt, state_tol, strided_input, strided_output, FULL_CHECK};
use super::Workload;
use crate::ops::{self, PrefillStates, SeqLens, SsdScan, SsdTokens};
use crate::reference::ssm as refs;
use crate::table::OpTable;
use fk_runtime::compare::{compare, compare_bounded, Tolerance};
use fk_runtime::rng::Rng;
use fk_runtime::{DType, Device, Result, Tensor};

/// The error the kernel may add to an output whose sum has Σ|terms| = `magnitude`.
/// 16-bit: its three roundings to the dtype (the incoming state, w·x and the masked C·Bᵀ
/// matrix, each relative u = 2^-(mantissa bits + 1)) enter every term at most once each, so
/// 4u·Σ|terms| with one unit to spare. Measured on the H200 (run 19) before this bound
/// existed: rel-L2 2.7e-4 (f16) / 2.4e-3 (bf16) at every shape, and 1e-4 of the elements, all
/// outputs that cancel to near zero, past the plain elementwise tolerance.
/// f32 (the plain fp32 recurrence): each decay is one ex2.approx (relative error < 2^-22), and
/// a term from k tokens back carries k of them, so an output that cancels can miss the
/// elementwise f32 tolerance while rel-L2 stays ~1e-6 (run 30: 1 element of 524288 at 2048
/// tokens, 1.07e-5 off on -2.4e-3): 2^-16·Σ|terms| (a k of 64 at the 2^-22 rate).
pub(super) fn rounding_bound(dtype: DType, magnitude: &[f64]) -> Vec<f64> {
    let u = match dtype {
        DType::F16 | DType::BF16 => 4.0 * dtype.unit_roundoff(),
        DType::F32 => (2f64).powi(-16),
        _ => 0.0,
    };
    magnitude.iter().map(|m| u * m).collect()
}

/// Most heads checked in a sampled case.
const SAMPLED_HEADS: usize = 8;

pub(super) struct SsdInst {
    c: SsmCase,
    dtype: DType,
    x: Tensor,
    dt: Tensor,
    b: Tensor,
    cm: Tensor,
    a: Tensor,
    d: Option<Tensor>,
    dt_bias: Option<Tensor>,
    dt_limit: (f32, f32),
    seqlens: SeqLens,
    init: Option<Tensor>,
    fin: Tensor,
    out: Tensor,
    h: SsdHost,
    heads_checked: Vec<usize>,
    reference: Option<Vec<Vec<f64>>>,
    /// Per output element, Σ|terms| of its sum (see `compute_reference`).
    magnitude: Option<Vec<f64>>,
}

/// Host copies of the inputs (B and C contiguous `[tokens, ngroups·N]`).
struct SsdHost {
    x: Vec<f32>,
    dt: Vec<f32>,
    b: Vec<f32>,
    c: Vec<f32>,
    a: Vec<f32>,
    d: Option<Vec<f32>>,
    dt_bias: Option<Vec<f32>>,
    init: Option<Vec<f64>>,
}

/// Every head, or [`SAMPLED_HEADS`] spread over them (first and last included) when the
/// reference would cost more than [`FULL_CHECK`] multiply-adds.
fn checked_heads(heads: usize, cost: usize) -> Vec<usize> {
    if cost <= FULL_CHECK || heads <= SAMPLED_HEADS {
        return (0..heads).collect();
    }
    let mut v: Vec<usize> = (0..SAMPLED_HEADS).map(|i| i * (heads - 1) / (SAMPLED_HEADS - 1)).collect();
    v.dedup();
    v
}

impl SsdInst {
    pub(super) fn new(dev: &Device, dtype: DType, c: &SsmCase, rng: &mut Rng) -> Result<SsdInst> {
        let (t, heads, p, g, n, batch, full) = (c.tokens(), c.heads(), c.head_dim, c.ngroups, c.d_state, c.lens.len(), c.full);
        let (x, hx) = strided_input(dev, rng, t, heads * p, c.pad, 1.0, dtype)?;
        let hdt = random_dt(rng, t * heads, full, dtype);
        let dt = upload(dev, &hdt, &[t, heads], dtype)?;
        let (b, hb, cm, hc) = b_and_c(dev, rng, t, g * n, c.pad, dtype)?;
        let ha = random_a(rng, heads);
        let hd = full.then(|| rng.normal_vec(heads, 0.0, 1.0));
        let hdtb = full.then(|| rng.uniform_vec(heads, -4.0, -1.0));
        let hinit = full.then(|| rng.normal_vec(batch * heads * p * n, 0.0, 1.0));
        let f32t = |v: &Vec<f32>, shape: &[usize]| Tensor::from_f32(dev, v, shape, DType::F32);
        Ok(SsdInst {
            c: c.clone(),
            dtype,
            x,
            dt,
            b,
            cm,
            a: f32t(&ha, &[heads])?,
            d: hd.as_ref().map(|v| f32t(v, &[heads])).transpose()?,
            dt_bias: hdtb.as_ref().map(|v| f32t(v, &[heads])).transpose()?,
            dt_limit: if full && c.pad > 0 { (0.05, 0.3) } else { SsdScan::NO_DT_LIMIT },
            seqlens: SeqLens::new(dev, &c.cu_seqlens())?,
            init: hinit.as_ref().map(|v| f32t(v, &[batch, heads, p, n])).transpose()?,
            fin: Tensor::empty(dev, &[batch, heads, p, n], DType::F32)?,
            out: strided_output(dev, t, heads * p, c.pad, dtype)?,
            h: SsdHost { x: hx, dt: hdt, b: hb, c: hc, a: ha, d: hd, dt_bias: hdtb, init: hinit.map(|v| f64s(&v)) },
            heads_checked: checked_heads(heads, t * heads * p * n),
            reference: None,
            magnitude: None,
        })
    }

    /// The step the kernel must use for token `t`, head `h`: softplus(dt + bias), clamped.
    fn effective_dt(&self, t: usize, h: usize) -> f32 {
        let heads = self.c.heads();
        let mut v = self.h.dt[t * heads + h] as f64;
        if self.c.full {
            v += self.h.dt_bias.as_ref().map_or(0.0, |b| b[h] as f64);
            v = if v > 20.0 { v } else { v.exp().ln_1p() };
        }
        let (lo, hi) = self.dt_limit;
        v.clamp(lo as f64, hi as f64) as f32
    }

    /// (y of the checked heads `[tokens, checked·head_dim]`, their final states
    /// `[batch, checked, head_dim, N]`) from the recurrence, one (sequence, head) at a time.
    /// `magnitude`: the same recurrence on |x|, |B|, |C|, |D| and |initial state| (the decays
    /// and steps are positive), whose y bounds Σ|terms| of each output's sum: every product
    /// the chunked kernel forms is one of those terms or a partial sum of them.
    fn compute_reference(&self, magnitude: bool) -> fk_runtime::Result<(Vec<f64>, Vec<f64>)> {
        let abs32 = |v: Vec<f32>| if magnitude { v.into_iter().map(f32::abs).collect() } else { v };
        let (heads, p, n, g) = (self.c.heads(), self.c.head_dim, self.c.d_state, self.c.ngroups);
        let cu = self.c.cu_seqlens();
        let hc = self.heads_checked.len();
        let mut y = vec![0.0; cu[cu.len() - 1] * hc * p];
        let mut states = Vec::with_capacity((cu.len() - 1) * hc * p * n);
        for s in 0..cu.len() - 1 {
            let rows = cu[s]..cu[s + 1];
            for (k, &h) in self.heads_checked.iter().enumerate() {
                let grp = h / (heads / g);
                let x: Vec<f32> = abs32(rows.clone().flat_map(|t| self.h.x[t * heads * p + h * p..t * heads * p + (h + 1) * p].to_vec()).collect());
                let dt: Vec<f32> = rows.clone().map(|t| self.effective_dt(t, h)).collect();
                let cols = |m: &Vec<f32>| -> Vec<f32> { rows.clone().flat_map(|t| m[t * g * n + grp * n..t * g * n + (grp + 1) * n].to_vec()).collect() };
                let (b, c) = (abs32(cols(&self.h.b)), abs32(cols(&self.h.c)));
                let d = self.h.d.as_ref().map(|d| abs32(vec![d[h]]));
                let inp = refs::SsdInputs {
                    x: &x,
                    dt: &dt,
                    a: &self.h.a[h..h + 1],
                    b: &b,
                    c: &c,
                    d: d.as_deref(),
                    z: None,
                    dt_bias: None,
                    dt_softplus: false,
                    heads: 1,
                    head_dim: p,
                    ngroups: 1,
                    d_state: n,
                };
                let init = self.h.init.as_ref().map(|v| v[(s * heads + h) * p * n..(s * heads + h + 1) * p * n].iter().map(|&x| if magnitude { x.abs() } else { x }).collect::<Vec<f64>>());
                let (ys, st) = refs::ssd_sequential(&inp, init.as_deref())?;
                for (i, t) in rows.clone().enumerate() {
                    y[(t * hc + k) * p..(t * hc + k + 1) * p].copy_from_slice(&ys[i * p..(i + 1) * p]);
                }
                states.extend(st);
            }
        }
        Ok((y, states))
    }
}

impl Workload for SsdInst {
    fn prepare(&mut self) -> Result<()> {
        self.out.poison()?;
        self.fin.poison()
    }
    fn run(&mut self, table: &OpTable) -> Result<()> {
        let scan = SsdScan { a: &self.a, d: self.d.as_ref(), dt_bias: self.dt_bias.as_ref(), dt_softplus: self.c.full, dt_limit: self.dt_limit, ngroups: self.c.ngroups };
        let inp = SsdTokens { x: &self.x, dt: &self.dt, b: &self.b, c: &self.cm };
        let states = PrefillStates { initial: self.init.as_ref(), final_state: Some(&self.fin) };
        ops::ssd_chunk_scan(table, &scan, &inp, &self.seqlens, states, &self.out)
    }
    fn check(&mut self) -> std::result::Result<(), String> {
        let outs = self.outputs().map_err(|e| e.to_string())?;
        let r = self.reference().to_vec();
        if self.magnitude.is_none() {
            self.magnitude = Some(self.compute_reference(true).map_err(|e| e.to_string())?.0);
        }
        let bound = rounding_bound(self.dtype, self.magnitude.as_deref().unwrap_or(&[]));
        compare_bounded(&outs[0], &r[0], self.tolerance(), &bound).check("out")?;
        let state = if self.dtype == DType::F32 { state_tol() } else { Tolerance::for_dtype(self.dtype) };
        compare(&outs[1], &r[1], state).check("final_state")
    }
    /// x, dt, B, C in, y out, the states, A / D / dt_bias.
    fn bytes(&self) -> u64 {
        let (t, heads, p, gn, b) = (self.c.tokens(), self.c.heads(), self.c.head_dim, self.c.ngroups * self.c.d_state, self.c.lens.len());
        let acts = 2 * t * heads * p + t * heads + 2 * t * gn;
        let states = (if self.init.is_some() { 2 } else { 1 }) * b * heads * p * self.c.d_state;
        (acts * self.dtype.size() + 4 * (states + 3 * heads)) as u64
    }
}

impl Checked for SsdInst {
    fn outputs(&self) -> Result<Vec<Vec<f32>>> {
        let (heads, p, n) = (self.c.heads(), self.c.head_dim, self.c.d_state);
        let out = self.out.to_f32()?;
        let y: Vec<f32> = out.chunks_exact(heads * p).flat_map(|row| self.heads_checked.iter().flat_map(move |&h| row[h * p..(h + 1) * p].to_vec())).collect();
        let fin = self.fin.to_f32()?;
        let st: Vec<f32> = fin.chunks_exact(heads * p * n).flat_map(|s| self.heads_checked.iter().flat_map(move |&h| s[h * p * n..(h + 1) * p * n].to_vec())).collect();
        Ok(vec![y, st])
    }
    /// The 16-bit kernel rounds three intermediates to the dtype before its tensor-core
    /// products (the contract header says which), hence twice the dtype's tolerance, plus (in
    /// `check`) [`rounding_bound`] per element.
    fn tolerance(&self) -> Tolerance {
        match self.dtype {
            DType::F32 => Tolerance::for_dtype(DType::F32),
            d => Tolerance::for_dtype(d).scaled(2.0),
        }
    }
    fn reference(&mut self) -> &[Vec<f64>] {
        if self.reference.is_none() {
            let r = self.compute_reference(false);
            self.reference = Some(r.map_or_else(|_| vec![vec![f64::NAN], vec![f64::NAN]], |(y, s)| vec![y, s]));
        }
        self.reference.as_deref().unwrap_or(&[])
    }
}
