//! Device instances of the SSM cases (see `ssm.rs`): fresh random inputs in the ranges a
//! trained Mamba sees (dt = softplus(dt + bias) of a few hundredths to tenths, A = -exp(A_log)
//! between -0.5 and -16), the CPU references of `reference::ssm`, and the bytes each op must
//! move. States are restored before every run (they are updated in place) and every output,
//! final states included, is poisoned first.
//! Big bench shapes check a sample of channels against the reference: every channel of the
//! conv and of the scan is independent, so a column sample is an exact sub-problem.

use super::cases::Case;
use super::instances::{random, upload, Checked};
use super::ssm::SsmCase;
use super::Workload;
use crate::ops::{self, CausalConv1d, DecodeTokens, PrefillStates, ScanTokens, SelectiveScan, SeqLens, StateUpdate};
use crate::reference::ssm as refs;
use crate::table::{OpId, OpTable};
use fk_runtime::compare::{compare, Tolerance};
use fk_runtime::rng::Rng;
use fk_runtime::{DType, Device, Result, Tensor};

/// References bigger than this many multiply-adds are checked on [`SAMPLED`] channels.
pub(super) const FULL_CHECK: usize = 1 << 26;
const SAMPLED: usize = 64;

pub(super) fn instantiate_ssm(dev: &Device, case: &Case, c: &SsmCase, rng: &mut Rng) -> Result<Box<dyn Checked>> {
    Ok(match case.op {
        OpId::CausalConv1d => Box::new(ConvInst::new(dev, case.dtype, c, rng)?),
        OpId::CausalConv1dUpdate => Box::new(ConvUpdateInst::new(dev, case.dtype, c, rng)?),
        OpId::SelectiveScan => Box::new(ScanInst::new(dev, case.dtype, c, rng)?),
        OpId::SelectiveStateUpdate => Box::new(UpdateInst::new(dev, case.dtype, c, rng)?),
        OpId::SsdChunkScan => Box::new(super::ssd_inst::SsdInst::new(dev, case.dtype, c, rng)?),
        _ => Box::new(NormGatedInst::new(dev, case.dtype, c, rng)?),
    })
}

/// B and C `[t, width]` (Mamba: d_state; Mamba-2: ngroups·d_state) with their host values:
/// with `pad` > 0, column blocks of one `[t, pad + 2·width]` buffer, as a mixer passes the
/// x_proj / conv output; else two contiguous tensors.
pub(super) fn b_and_c(dev: &Device, rng: &mut Rng, t: usize, width: usize, pad: usize, dtype: DType) -> Result<(Tensor, Vec<f32>, Tensor, Vec<f32>)> {
    if pad == 0 {
        let (hb, hc) = (random(rng, t * width, 0.0, 1.0, dtype), random(rng, t * width, 0.0, 1.0, dtype));
        return Ok((upload(dev, &hb, &[t, width], dtype)?, hb, upload(dev, &hc, &[t, width], dtype)?, hc));
    }
    let w = pad + 2 * width;
    let all = random(rng, t * w, 0.0, 1.0, dtype);
    let buf = upload(dev, &all, &[t, w], dtype)?;
    let blk = |off: usize| -> Vec<f32> { all.chunks_exact(w).flat_map(|r| r[off..off + width].to_vec()).collect() };
    Ok((buf.narrow(1, pad, width)?, blk(pad), buf.narrow(1, pad + width, width)?, blk(pad + width)))
}

/// `[rows, cols]` activations as a view of a `[rows, cols + pad]` buffer (pad columns hold
/// random values too, which a kernel must not read as data): (view, host values of the view).
pub(super) fn strided_input(dev: &Device, rng: &mut Rng, rows: usize, cols: usize, pad: usize, std: f32, dtype: DType) -> Result<(Tensor, Vec<f32>)> {
    let full = random(rng, rows * (cols + pad), 0.0, std, dtype);
    let t = upload(dev, &full, &[rows, cols + pad], dtype)?.narrow(1, 0, cols)?;
    let host = if pad == 0 { full } else { full.chunks_exact(cols + pad).flat_map(|r| r[..cols].to_vec()).collect() };
    Ok((t, host))
}

/// An output `[rows, cols]`, a view of a `[rows, cols + pad]` buffer when pad > 0.
pub(super) fn strided_output(dev: &Device, rows: usize, cols: usize, pad: usize, dtype: DType) -> Result<Tensor> {
    Tensor::empty(dev, &[rows, cols + pad], dtype)?.narrow(1, 0, cols)
}

/// Columns `idx` of a row-major `[rows, width]` matrix.
pub(super) fn columns<T: Copy>(v: &[T], width: usize, idx: &[usize]) -> Vec<T> {
    v.chunks_exact(width).flat_map(|r| idx.iter().map(|&i| r[i])).collect()
}

/// Every channel, or [`SAMPLED`] spread over `dim` (first and last included) when the
/// reference would cost more than [`FULL_CHECK`] multiply-adds.
fn checked_channels(dim: usize, cost: usize) -> Vec<usize> {
    if cost <= FULL_CHECK || dim <= SAMPLED {
        return (0..dim).collect();
    }
    let mut v: Vec<usize> = (0..SAMPLED).map(|i| i * (dim - 1) / (SAMPLED - 1)).collect();
    v.dedup();
    v
}

pub(super) fn f64s(v: &[f32]) -> Vec<f64> {
    v.iter().map(|&x| x as f64).collect()
}

/// Negative A = -exp(A_log) with |A| log-uniform in [0.5, 16].
pub(super) fn random_a(rng: &mut Rng, n: usize) -> Vec<f32> {
    (0..n).map(|_| -((0.5f64.ln() + rng.uniform() * (32f64).ln()).exp()) as f32).collect()
}

/// Raw dt: with softplus + bias, N(0, 0.5) around a bias in [-4, -1] (dt of ~0.02 … 0.5);
/// without, positive steps in [0.005, 0.2] as the softplus would have produced.
pub(super) fn random_dt(rng: &mut Rng, n: usize, softplus: bool, dtype: DType) -> Vec<f32> {
    if softplus {
        random(rng, n, 0.0, 0.5, dtype)
    } else {
        fk_runtime::host::round_trip(&rng.uniform_vec(n, 0.005, 0.2), dtype)
    }
}

pub(super) fn state_tol() -> Tolerance {
    // fp32 state from exactly representable inputs: f32 tolerances whatever the activations' dtype.
    Tolerance::for_dtype(DType::F32)
}

/// Compare output `i` (of `outs`) with its reference under `tol`.
pub(super) fn check_outputs(names: &[&str], outs: &[Vec<f32>], refs: &[Vec<f64>], tols: &[Tolerance]) -> std::result::Result<(), String> {
    for (i, name) in names.iter().enumerate() {
        compare(&outs[i], &refs[i], tols[i]).check(name)?;
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------

struct ConvInst {
    c: SsmCase,
    dtype: DType,
    x: Tensor,
    out: Tensor,
    weight: Tensor,
    bias: Option<Tensor>,
    seqlens: SeqLens,
    init: Option<Tensor>,
    fin: Tensor,
    hx: Vec<f32>,
    hw: Vec<f32>,
    hb: Option<Vec<f32>>,
    hinit: Option<Vec<f64>>,
    channels: Vec<usize>,
    reference: Option<Vec<Vec<f64>>>,
}

impl ConvInst {
    fn new(dev: &Device, dtype: DType, c: &SsmCase, rng: &mut Rng) -> Result<ConvInst> {
        let (t, d, w, b) = (c.tokens(), c.dim, c.width, c.lens.len());
        let (x, hx) = strided_input(dev, rng, t, d, c.pad, 1.0, dtype)?;
        let hw = random(rng, d * w, 0.0, 0.5, dtype);
        let hb = c.full.then(|| random(rng, d, 0.0, 0.5, dtype));
        let hinit = c.full.then(|| random(rng, b * d * (w - 1), 0.0, 1.0, dtype));
        Ok(ConvInst {
            c: c.clone(),
            dtype,
            x,
            out: strided_output(dev, t, d, c.pad, dtype)?,
            weight: upload(dev, &hw, &[d, w], dtype)?,
            bias: hb.as_ref().map(|v| upload(dev, v, &[d], dtype)).transpose()?,
            seqlens: SeqLens::new(dev, &c.cu_seqlens())?,
            init: hinit.as_ref().map(|v| upload(dev, v, &[b, d, w - 1], dtype)).transpose()?,
            fin: Tensor::empty(dev, &[b, d, w - 1], dtype)?,
            hx,
            hw,
            hb,
            hinit: hinit.map(|v| f64s(&v)),
            channels: checked_channels(d, t * d * w),
            reference: None,
        })
    }
}

impl Workload for ConvInst {
    fn prepare(&mut self) -> Result<()> {
        self.out.poison()?;
        self.fin.poison()
    }
    fn run(&mut self, table: &OpTable) -> Result<()> {
        let conv = CausalConv1d { weight: &self.weight, bias: self.bias.as_ref(), silu: self.c.full };
        let states = PrefillStates { initial: self.init.as_ref(), final_state: Some(&self.fin) };
        ops::causal_conv1d(table, &conv, &self.x, &self.seqlens, states, &self.out)
    }
    fn check(&mut self) -> std::result::Result<(), String> {
        let outs = self.outputs().map_err(|e| e.to_string())?;
        let r = self.reference().to_vec();
        // The final state holds inputs: exact.
        check_outputs(&["out", "final_state"], &outs, &r, &[self.tolerance(), Tolerance::for_dtype(DType::I32)])
    }
    fn bytes(&self) -> u64 {
        let (t, d, w, b) = (self.c.tokens(), self.c.dim, self.c.width, self.c.lens.len());
        let states = if self.init.is_some() { 2 } else { 1 } * b * d * (w - 1);
        ((2 * t * d + d * w + self.bias.as_ref().map_or(0, |_| d) + states) * self.dtype.size()) as u64
    }
}

impl Checked for ConvInst {
    /// out and final_state, on the checked channels.
    fn outputs(&self) -> Result<Vec<Vec<f32>>> {
        let (d, k) = (self.c.dim, self.c.width - 1);
        let fin = self.fin.to_f32()?;
        let fin: Vec<f32> = fin.chunks_exact(d * k).flat_map(|s| self.channels.iter().flat_map(move |&ch| s[ch * k..(ch + 1) * k].to_vec())).collect();
        Ok(vec![columns(&self.out.to_f32()?, d, &self.channels), fin])
    }
    fn tolerance(&self) -> Tolerance {
        Tolerance::for_dtype(self.dtype)
    }
    fn reference(&mut self) -> &[Vec<f64>] {
        if self.reference.is_none() {
            let (d, w, ch) = (self.c.dim, self.c.width, &self.channels);
            let k = w - 1;
            let x = columns(&self.hx, d, ch);
            let wt: Vec<f32> = ch.iter().flat_map(|&c| self.hw[c * w..(c + 1) * w].to_vec()).collect();
            let b = self.hb.as_ref().map(|b| ch.iter().map(|&c| b[c]).collect::<Vec<f32>>());
            let init = self.hinit.as_ref().map(|s| s.chunks_exact(d * k).flat_map(|s| ch.iter().flat_map(move |&c| s[c * k..(c + 1) * k].to_vec())).collect::<Vec<f64>>());
            let r = refs::causal_conv1d(&x, &self.c.cu_seqlens(), ch.len(), &wt, b.as_deref(), init.as_deref(), self.c.full);
            self.reference = Some(r.map_or_else(|_| vec![vec![f64::NAN], vec![f64::NAN]], |(y, st)| vec![y, st]));
        }
        self.reference.as_deref().unwrap_or(&[])
    }
}

// ---------------------------------------------------------------------------------------------

struct ConvUpdateInst {
    c: SsmCase,
    dtype: DType,
    x: Tensor,
    out: Tensor,
    weight: Tensor,
    bias: Option<Tensor>,
    state_src: Tensor,
    state: Tensor,
    hx: Vec<f32>,
    hw: Vec<f32>,
    hb: Option<Vec<f32>>,
    hstate: Vec<f64>,
    reference: Option<Vec<Vec<f64>>>,
}

impl ConvUpdateInst {
    fn new(dev: &Device, dtype: DType, c: &SsmCase, rng: &mut Rng) -> Result<ConvUpdateInst> {
        let (b, d, w) = (c.batch, c.dim, c.width);
        let (x, hx) = strided_input(dev, rng, b, d, c.pad, 1.0, dtype)?;
        let hw = random(rng, d * w, 0.0, 0.5, dtype);
        let hb = c.full.then(|| random(rng, d, 0.0, 0.5, dtype));
        let hs = random(rng, b * d * (w - 1), 0.0, 1.0, dtype);
        let state_src = upload(dev, &hs, &[b, d, w - 1], dtype)?;
        Ok(ConvUpdateInst {
            c: c.clone(),
            dtype,
            x,
            out: strided_output(dev, b, d, c.pad, dtype)?,
            weight: upload(dev, &hw, &[d, w], dtype)?,
            bias: hb.as_ref().map(|v| upload(dev, v, &[d], dtype)).transpose()?,
            state: state_src.duplicate()?,
            state_src,
            hx,
            hw,
            hb,
            hstate: f64s(&hs),
            reference: None,
        })
    }
}

impl Workload for ConvUpdateInst {
    fn prepare(&mut self) -> Result<()> {
        self.state.copy_from(&self.state_src)?;
        self.out.poison()
    }
    fn run(&mut self, table: &OpTable) -> Result<()> {
        let conv = CausalConv1d { weight: &self.weight, bias: self.bias.as_ref(), silu: self.c.full };
        ops::causal_conv1d_update(table, &conv, &self.x, &self.state, &self.out)
    }
    fn check(&mut self) -> std::result::Result<(), String> {
        let outs = self.outputs().map_err(|e| e.to_string())?;
        let r = self.reference().to_vec();
        check_outputs(&["out", "conv_state"], &outs, &r, &[self.tolerance(), Tolerance::for_dtype(DType::I32)])
    }
    fn bytes(&self) -> u64 {
        let (b, d, w) = (self.c.batch, self.c.dim, self.c.width);
        ((2 * b * d + d * w + self.bias.as_ref().map_or(0, |_| d) + 2 * b * d * (w - 1)) * self.dtype.size()) as u64
    }
}

impl Checked for ConvUpdateInst {
    fn outputs(&self) -> Result<Vec<Vec<f32>>> {
        Ok(vec![self.out.to_f32()?, self.state.to_f32()?])
    }
    fn tolerance(&self) -> Tolerance {
        Tolerance::for_dtype(self.dtype)
    }
    fn reference(&mut self) -> &[Vec<f64>] {
        if self.reference.is_none() {
            let mut st = self.hstate.clone();
            let y = refs::causal_conv1d_update(&self.hx, self.c.dim, &mut st, &self.hw, self.hb.as_deref(), self.c.full).unwrap_or_else(|_| vec![f64::NAN]);
            self.reference = Some(vec![y, st]);
        }
        self.reference.as_deref().unwrap_or(&[])
    }
}

// ---------------------------------------------------------------------------------------------

struct ScanInst {
    c: SsmCase,
    dtype: DType,
    u: Tensor,
    delta: Tensor,
    z: Option<Tensor>,
    b: Tensor,
    cm: Tensor,
    a: Tensor,
    d: Option<Tensor>,
    dbias: Option<Tensor>,
    seqlens: SeqLens,
    init: Option<Tensor>,
    fin: Tensor,
    out: Tensor,
    h: ScanHost,
    channels: Vec<usize>,
    reference: Option<Vec<Vec<f64>>>,
}

/// Host copies of a scan's inputs (B and C contiguous `[tokens, N]`).
pub(super) struct ScanHost {
    pub u: Vec<f32>,
    pub delta: Vec<f32>,
    pub z: Option<Vec<f32>>,
    pub b: Vec<f32>,
    pub c: Vec<f32>,
    pub a: Vec<f32>,
    pub d: Option<Vec<f32>>,
    pub dbias: Option<Vec<f32>>,
    pub init: Option<Vec<f64>>,
}

impl ScanHost {
    /// The reference inputs restricted to channels `ch`.
    pub fn reference(&self, dim: usize, n: usize, softplus: bool, ch: &[usize], cu: &[usize]) -> fk_runtime::Result<(Vec<f64>, Vec<f64>)> {
        let pick = |v: &Vec<f32>| ch.iter().map(|&c| v[c]).collect::<Vec<f32>>();
        let (u, delta) = (columns(&self.u, dim, ch), columns(&self.delta, dim, ch));
        let z = self.z.as_ref().map(|z| columns(z, dim, ch));
        let a: Vec<f32> = ch.iter().flat_map(|&c| self.a[c * n..(c + 1) * n].to_vec()).collect();
        let (d, db) = (self.d.as_ref().map(pick), self.dbias.as_ref().map(pick));
        let init = self.init.as_ref().map(|s| s.chunks_exact(dim * n).flat_map(|s| ch.iter().flat_map(move |&c| s[c * n..(c + 1) * n].to_vec())).collect::<Vec<f64>>());
        let inp = refs::ScanInputs {
            u: &u,
            delta: &delta,
            a: &a,
            b: &self.b,
            c: &self.c,
            d: d.as_deref(),
            z: z.as_deref(),
            delta_bias: db.as_deref(),
            delta_softplus: softplus,
            dim: ch.len(),
            d_state: n,
        };
        refs::selective_scan_varlen(&inp, cu, init.as_deref())
    }
}

impl ScanInst {
    fn new(dev: &Device, dtype: DType, c: &SsmCase, rng: &mut Rng) -> Result<ScanInst> {
        let (t, dim, n, batch, full) = (c.tokens(), c.dim, c.d_state, c.lens.len(), c.full);
        let (u, hu) = strided_input(dev, rng, t, dim, c.pad, 1.0, dtype)?;
        let hdelta = random_dt(rng, t * dim, full, dtype);
        let delta = upload(dev, &hdelta, &[t, dim], dtype)?;
        let (z, hz) = if full {
            let (z, hz) = strided_input(dev, rng, t, dim, c.pad, 1.0, dtype)?;
            (Some(z), Some(hz))
        } else {
            (None, None)
        };
        let (b, hb, cm, hc) = b_and_c(dev, rng, t, n, c.pad, dtype)?;
        let ha = random_a(rng, dim * n);
        let hd = full.then(|| rng.normal_vec(dim, 0.0, 1.0));
        let hdb = full.then(|| rng.uniform_vec(dim, -4.0, -1.0));
        let hinit = full.then(|| rng.normal_vec(batch * dim * n, 0.0, 1.0));
        let f32t = |v: &Vec<f32>, shape: &[usize]| Tensor::from_f32(dev, v, shape, DType::F32);
        Ok(ScanInst {
            c: c.clone(),
            dtype,
            u,
            delta,
            z,
            b,
            cm,
            a: f32t(&ha, &[dim, n])?,
            d: hd.as_ref().map(|v| f32t(v, &[dim])).transpose()?,
            dbias: hdb.as_ref().map(|v| f32t(v, &[dim])).transpose()?,
            seqlens: SeqLens::new(dev, &c.cu_seqlens())?,
            init: hinit.as_ref().map(|v| f32t(v, &[batch, dim, n])).transpose()?,
            fin: Tensor::empty(dev, &[batch, dim, n], DType::F32)?,
            out: strided_output(dev, t, dim, c.pad, dtype)?,
            h: ScanHost { u: hu, delta: hdelta, z: hz, b: hb, c: hc, a: ha, d: hd, dbias: hdb, init: hinit.map(|v| f64s(&v)) },
            channels: checked_channels(dim, t * dim * n),
            reference: None,
        })
    }
}

impl Workload for ScanInst {
    fn prepare(&mut self) -> Result<()> {
        self.out.poison()?;
        self.fin.poison()
    }
    fn run(&mut self, table: &OpTable) -> Result<()> {
        let scan = SelectiveScan { a: &self.a, d: self.d.as_ref(), delta_bias: self.dbias.as_ref(), delta_softplus: self.c.full };
        let inp = ScanTokens { u: &self.u, delta: &self.delta, b: &self.b, c: &self.cm, z: self.z.as_ref() };
        let states = PrefillStates { initial: self.init.as_ref(), final_state: Some(&self.fin) };
        ops::selective_scan(table, &scan, &inp, &self.seqlens, states, &self.out)
    }
    fn check(&mut self) -> std::result::Result<(), String> {
        let outs = self.outputs().map_err(|e| e.to_string())?;
        let r = self.reference().to_vec();
        check_outputs(&["out", "final_state"], &outs, &r, &[self.tolerance(), state_tol()])
    }
    /// u, delta, z in, y out, B and C, A, the states.
    fn bytes(&self) -> u64 {
        let (t, d, n, b) = (self.c.tokens(), self.c.dim, self.c.d_state, self.c.lens.len());
        let acts = (if self.z.is_some() { 4 } else { 3 }) * t * d + 2 * t * n;
        let states = (if self.init.is_some() { 2 } else { 1 }) * b * d * n;
        (acts * self.dtype.size() + 4 * (d * n + states + 2 * d)) as u64
    }
}

impl Checked for ScanInst {
    fn outputs(&self) -> Result<Vec<Vec<f32>>> {
        let (d, n) = (self.c.dim, self.c.d_state);
        let fin = self.fin.to_f32()?;
        let fin: Vec<f32> = fin.chunks_exact(d * n).flat_map(|s| self.channels.iter().flat_map(move |&c| s[c * n..(c + 1) * n].to_vec())).collect();
        Ok(vec![columns(&self.out.to_f32()?, d, &self.channels), fin])
    }
    fn tolerance(&self) -> Tolerance {
        Tolerance::for_dtype(self.dtype)
    }
    fn reference(&mut self) -> &[Vec<f64>] {
        if self.reference.is_none() {
            let r = self.h.reference(self.c.dim, self.c.d_state, self.c.full, &self.channels, &self.c.cu_seqlens());
            self.reference = Some(r.map_or_else(|_| vec![vec![f64::NAN], vec![f64::NAN]], |(y, s)| vec![y, s]));
        }
        self.reference.as_deref().unwrap_or(&[])
    }
}

// ---------------------------------------------------------------------------------------------

/// selective_state_update in the Mamba-1 (head_dim 0 in the case) or Mamba-2 form.
struct UpdateInst {
    c: SsmCase,
    dtype: DType,
    x: Tensor,
    dt: Tensor,
    b: Tensor,
    cm: Tensor,
    z: Option<Tensor>,
    a: Tensor,
    d: Option<Tensor>,
    dtb: Option<Tensor>,
    state_src: Tensor,
    state: Tensor,
    out: Tensor,
    hx: Vec<f32>,
    hdt: Vec<f32>,
    hb: Vec<f32>,
    hc: Vec<f32>,
    hz: Option<Vec<f32>>,
    ha: Vec<f32>,
    hd: Option<Vec<f32>>,
    hdtb: Option<Vec<f32>>,
    hstate: Vec<f64>,
    /// Run with the settled-state promise (half the instances, drawn): `prepare` restores the
    /// state with a copy, so the launch before `run` never is a kernel writing it.
    settled: bool,
    reference: Option<Vec<Vec<f64>>>,
}

impl UpdateInst {
    fn new(dev: &Device, dtype: DType, c: &SsmCase, rng: &mut Rng) -> Result<UpdateInst> {
        let (bt, dim, n, full) = (c.batch, c.dim, c.d_state, c.full);
        let mamba2 = c.head_dim > 0;
        let heads = c.heads();
        let g = if mamba2 { c.ngroups } else { 1 };
        let (x, hx) = strided_input(dev, rng, bt, dim, c.pad, 1.0, dtype)?;
        let hdt = random_dt(rng, bt * heads, full, dtype);
        let hb = random(rng, bt * g * n, 0.0, 1.0, dtype);
        let hc = random(rng, bt * g * n, 0.0, 1.0, dtype);
        let (z, hz) = if full {
            let (z, hz) = strided_input(dev, rng, bt, dim, c.pad, 1.0, dtype)?;
            (Some(z), Some(hz))
        } else {
            (None, None)
        };
        let ha = random_a(rng, if mamba2 { heads } else { heads * n });
        let hd = full.then(|| rng.normal_vec(heads, 0.0, 1.0));
        let hdtb = full.then(|| rng.uniform_vec(heads, -4.0, -1.0));
        let hs = rng.normal_vec(bt * dim * n, 0.0, 1.0);
        let f32t = |v: &Vec<f32>, shape: &[usize]| Tensor::from_f32(dev, v, shape, DType::F32);
        let state_shape: Vec<usize> = if mamba2 { vec![bt, heads, c.head_dim, n] } else { vec![bt, dim, n] };
        let state_src = f32t(&hs, &state_shape)?;
        Ok(UpdateInst {
            c: c.clone(),
            dtype,
            x,
            dt: upload(dev, &hdt, &[bt, heads], dtype)?,
            b: upload(dev, &hb, &[bt, g * n], dtype)?,
            cm: upload(dev, &hc, &[bt, g * n], dtype)?,
            z,
            a: if mamba2 { f32t(&ha, &[heads])? } else { f32t(&ha, &[heads, n])? },
            d: hd.as_ref().map(|v| f32t(v, &[heads])).transpose()?,
            dtb: hdtb.as_ref().map(|v| f32t(v, &[heads])).transpose()?,
            state: state_src.duplicate()?,
            state_src,
            out: strided_output(dev, bt, dim, c.pad, dtype)?,
            hx,
            hdt,
            hb,
            hc,
            hz,
            ha,
            hd,
            hdtb,
            hstate: f64s(&hs),
            settled: rng.range(0, 2) == 1,
            reference: None,
        })
    }
}

impl Workload for UpdateInst {
    fn prepare(&mut self) -> Result<()> {
        self.state.copy_from(&self.state_src)?;
        self.out.poison()
    }
    fn run(&mut self, table: &OpTable) -> Result<()> {
        let m = StateUpdate { a: &self.a, d: self.d.as_ref(), dt_bias: self.dtb.as_ref(), dt_softplus: self.c.full, ngroups: if self.c.head_dim > 0 { self.c.ngroups } else { 1 }, state_settled: self.settled, dt_proj: None };
        let inp = DecodeTokens { x: &self.x, dt: &self.dt, b: &self.b, c: &self.cm, z: self.z.as_ref() };
        ops::selective_state_update(table, &m, &inp, &self.state, &self.out)
    }
    fn check(&mut self) -> std::result::Result<(), String> {
        let outs = self.outputs().map_err(|e| e.to_string())?;
        let r = self.reference().to_vec();
        check_outputs(&["out", "state"], &outs, &r, &[self.tolerance(), state_tol()])
    }
    /// The state read and written (the bulk), x, z, out, dt, B, C.
    fn bytes(&self) -> u64 {
        let (b, d, n) = (self.c.batch, self.c.dim, self.c.d_state);
        let g = if self.c.head_dim > 0 { self.c.ngroups } else { 1 };
        let acts = (if self.z.is_some() { 3 } else { 2 }) * b * d + b * self.c.heads() + 2 * b * g * n;
        (8 * b * d * n + acts * self.dtype.size() + 4 * self.ha.len()) as u64
    }
}

impl Checked for UpdateInst {
    fn outputs(&self) -> Result<Vec<Vec<f32>>> {
        Ok(vec![self.out.to_f32()?, self.state.to_f32()?])
    }
    fn tolerance(&self) -> Tolerance {
        Tolerance::for_dtype(self.dtype)
    }
    fn reference(&mut self) -> &[Vec<f64>] {
        if self.reference.is_none() {
            let c = &self.c;
            let mut st = self.hstate.clone();
            let y = if c.head_dim > 0 {
                let inp = refs::SsdInputs {
                    x: &self.hx,
                    dt: &self.hdt,
                    a: &self.ha,
                    b: &self.hb,
                    c: &self.hc,
                    d: self.hd.as_deref(),
                    z: self.hz.as_deref(),
                    dt_bias: self.hdtb.as_deref(),
                    dt_softplus: c.full,
                    heads: c.heads(),
                    head_dim: c.head_dim,
                    ngroups: c.ngroups,
                    d_state: c.d_state,
                };
                refs::selective_state_update_mamba2(&inp, &mut st)
            } else {
                let inp = refs::ScanInputs {
                    u: &self.hx,
                    delta: &self.hdt,
                    a: &self.ha,
                    b: &self.hb,
                    c: &self.hc,
                    d: self.hd.as_deref(),
                    z: self.hz.as_deref(),
                    delta_bias: self.hdtb.as_deref(),
                    delta_softplus: c.full,
                    dim: c.dim,
                    d_state: c.d_state,
                };
                refs::selective_state_update(&inp, &mut st)
            };
            self.reference = Some(vec![y.unwrap_or_else(|_| vec![f64::NAN]), st]);
        }
        self.reference.as_deref().unwrap_or(&[])
    }
}

// ---------------------------------------------------------------------------------------------

const NORM_EPS: f32 = 1e-5;

struct NormGatedInst {
    c: SsmCase,
    dtype: DType,
    x: Tensor,
    z: Option<Tensor>,
    w: Tensor,
    out: Tensor,
    hx: Vec<f32>,
    hz: Option<Vec<f32>>,
    hw: Vec<f32>,
    reference: Option<Vec<Vec<f64>>>,
}

impl NormGatedInst {
    fn new(dev: &Device, dtype: DType, c: &SsmCase, rng: &mut Rng) -> Result<NormGatedInst> {
        let (rows, h) = (c.batch, c.dim);
        let (x, hx) = strided_input(dev, rng, rows, h, c.pad, 1.0, dtype)?;
        let (z, hz) = if c.full {
            let (z, hz) = strided_input(dev, rng, rows, h, c.pad, 2.0, dtype)?;
            (Some(z), Some(hz))
        } else {
            (None, None)
        };
        let hw = random(rng, h, 1.0, 0.1, dtype);
        Ok(NormGatedInst {
            c: c.clone(),
            dtype,
            x,
            z,
            w: upload(dev, &hw, &[h], dtype)?,
            out: strided_output(dev, rows, h, c.pad, dtype)?,
            hx,
            hz,
            hw,
            reference: None,
        })
    }
}

impl Workload for NormGatedInst {
    fn prepare(&mut self) -> Result<()> {
        self.out.poison()
    }
    fn run(&mut self, table: &OpTable) -> Result<()> {
        ops::rms_norm_gated(table, &self.x, self.z.as_ref(), &self.w, self.c.dim / self.c.ngroups, NORM_EPS, &self.out)
    }
    fn check(&mut self) -> std::result::Result<(), String> {
        let outs = self.outputs().map_err(|e| e.to_string())?;
        let r = self.reference().to_vec();
        check_outputs(&["out"], &outs, &r, &[self.tolerance()])
    }
    fn bytes(&self) -> u64 {
        let n = self.c.batch * self.c.dim;
        (((if self.z.is_some() { 3 } else { 2 }) * n + self.c.dim) * self.dtype.size()) as u64
    }
}

impl Checked for NormGatedInst {
    fn outputs(&self) -> Result<Vec<Vec<f32>>> {
        Ok(vec![self.out.to_f32()?])
    }
    /// Two roundings to the dtype, as HF does: the normalised value before the weight, then
    /// the product.
    fn tolerance(&self) -> Tolerance {
        Tolerance::for_dtype(self.dtype).scaled(2.0)
    }
    fn reference(&mut self) -> &[Vec<f64>] {
        if self.reference.is_none() {
            let gs = self.c.dim / self.c.ngroups;
            let y = match &self.hz {
                Some(z) => refs::rms_norm_gated(&self.hx, z, &self.hw, NORM_EPS as f64, gs).unwrap_or_else(|_| vec![f64::NAN]),
                None => plain_group_rms_norm(&self.hx, &self.hw, NORM_EPS as f64, gs),
            };
            self.reference = Some(vec![y]);
        }
        self.reference.as_deref().unwrap_or(&[])
    }
}

/// The gate-less form (HF `MambaRMSNormGated` with gate=None): grouped RMSNorm times weight.
fn plain_group_rms_norm(x: &[f32], w: &[f32], eps: f64, gs: usize) -> Vec<f64> {
    let h = w.len();
    let mut out = Vec::with_capacity(x.len());
    for row in x.chunks_exact(h) {
        for (gi, g) in row.chunks_exact(gs).enumerate() {
            let ms = g.iter().map(|&v| (v as f64).powi(2)).sum::<f64>() / gs as f64;
            let r = 1.0 / (ms + eps).sqrt();
            out.extend(g.iter().zip(&w[gi * gs..(gi + 1) * gs]).map(|(&v, &wv)| v as f64 * r * wv as f64));
        }
    }
    out
}
