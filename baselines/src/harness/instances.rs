//! Device instances of the L1 cases: random inputs (uploaded once, restored before every
//! run of an in-place op), poisoned outputs, and a CPU reference computed on first check.

use super::cases::{Case, CaseParams};
use super::Workload;
use crate::ops::{self, DeviceStatus, GeluApprox, Rotary};
use crate::reference;
use crate::table::{OpId, OpTable};
use fk_runtime::compare::{compare, Tolerance};
use fk_runtime::host::round_trip;
use fk_runtime::rng::Rng;
use fk_runtime::{DType, Device, Result, Tensor};

/// A workload whose raw outputs can be read back (for determinism and A/B comparisons).
pub trait Checked: Workload {
    fn outputs(&self) -> Result<Vec<Vec<f32>>>;
    fn tolerance(&self) -> Tolerance;
    /// The reference, one vector per output (computed on first use).
    fn reference(&mut self) -> &[Vec<f64>];
}

/// Run `f` over row ranges on all cores and concatenate: references of big bench shapes
/// would otherwise dominate a device run.
fn par_rows(rows: usize, f: impl Fn(std::ops::Range<usize>) -> Vec<f64> + Sync) -> Vec<f64> {
    let threads = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1).min(rows.max(1));
    let chunk = rows.div_ceil(threads.max(1)).max(1);
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..rows).step_by(chunk).map(|lo| {
            let f = &f;
            s.spawn(move || f(lo..(lo + chunk).min(rows)))
        }).collect();
        handles.into_iter().flat_map(|h| h.join().expect("reference thread")).collect()
    })
}

/// `n` values with the given mean and std (normal; uniform for > 64 Mi values), rounded to `dtype`,
/// generated on all cores from seeds drawn from `rng` (random weights of real-size models
/// would otherwise dominate a test run).
pub fn random(rng: &mut Rng, n: usize, mean: f32, std: f32, dtype: DType) -> Vec<f32> {
    const CHUNK: usize = 1 << 20;
    let seeds: Vec<u64> = (0..n.div_ceil(CHUNK)).map(|_| rng.next_u64()).collect();
    let parts: Vec<Vec<f32>> = std::thread::scope(|s| {
        let handles: Vec<_> = seeds.iter().enumerate().map(|(i, &seed)| {
            s.spawn(move || {
                let len = CHUNK.min(n - i * CHUNK);
                let mut r = Rng::new(seed);
                // Huge tensors: uniform with the same mean and std (a = std·√3), ~10x cheaper.
                let a = std * 3f32.sqrt();
                let v = if n > 64 << 20 { r.uniform_vec(len, mean - a, mean + a) } else { r.normal_vec(len, mean, std) };
                round_trip(&v, dtype)
            })
        }).collect();
        handles.into_iter().map(|h| h.join().expect("rng thread")).collect()
    });
    parts.concat()
}

fn upload(dev: &Device, v: &[f32], shape: &[usize], dtype: DType) -> Result<Tensor> {
    Tensor::from_f32(dev, v, shape, dtype)
}

fn fmt_fail(what: &str, out: &[f32], reference: &[f64], tol: Tolerance) -> std::result::Result<(), String> {
    compare(out, reference, tol).check(what)
}

/// Build the device instance of `case` with inputs drawn from `rng`.
pub fn instantiate(dev: &Device, case: &Case, rng: &mut Rng) -> Result<Box<dyn Checked>> {
    let dtype = case.dtype;
    Ok(match case.params.clone() {
        CaseParams::Norm { rows, hidden, eps, scale, pad } => {
            let width = hidden + pad;
            let hx = random(rng, rows * width, 0.0, scale, dtype);
            let hw = random(rng, hidden, 1.0, 0.1, dtype);
            let fused = case.op == OpId::FusedAddRmsNorm;
            let hr = if fused { random(rng, rows * hidden, 0.0, scale, dtype) } else { Vec::new() };
            let x_src = upload(dev, &hx, &[rows, width], dtype)?;
            let x_full = x_src.duplicate()?;
            let r_src = if fused { Some(upload(dev, &hr, &[rows, hidden], dtype)?) } else { None };
            Box::new(NormInst {
                fused,
                dtype,
                rows,
                hidden,
                width,
                eps,
                x: x_full.narrow(1, 0, hidden)?,
                x_full,
                x_src,
                r: r_src.as_ref().map(Tensor::duplicate).transpose()?,
                r_src,
                w: upload(dev, &hw, &[hidden], dtype)?,
                out: if fused { None } else { Some(Tensor::empty(dev, &[rows, hidden], dtype)?) },
                hx,
                hr,
                hw,
                reference: None,
            })
        }
        CaseParams::Gated { rows, d, tanh, scale } => {
            let hx = random(rng, rows * 2 * d, 0.0, scale, dtype);
            Box::new(GatedInst {
                op: case.op,
                tanh,
                dtype,
                rows,
                d,
                input: upload(dev, &hx, &[rows, 2 * d], dtype)?,
                out: Tensor::empty(dev, &[rows, d], dtype)?,
                hx,
                reference: None,
            })
        }
        CaseParams::Rotary { tokens, heads, kv_heads, head_size, rot_dim, neox, max_position, fused_qkv } => {
            let (qw, kw) = (heads * head_size, kv_heads * head_size);
            let width = if fused_qkv { qw + 2 * kw } else { qw + kw };
            let hbuf = random(rng, tokens * width, 0.0, 1.0, dtype);
            let positions: Vec<i64> = (0..tokens).map(|_| rng.range(0, max_position as i64)).collect();
            let cache = reference::cos_sin_cache(max_position, rot_dim, 500_000.0);
            let src = upload(dev, &hbuf, &[tokens, width], dtype)?;
            let buf = src.duplicate()?;
            Box::new(RotaryInst {
                dtype,
                tokens,
                heads,
                kv_heads,
                head_size,
                rot_dim,
                neox,
                width,
                q: buf.narrow(1, 0, qw)?,
                k: buf.narrow(1, qw, kw)?,
                buf,
                src,
                positions: Tensor::from_i64(dev, &positions, &[tokens])?,
                cache: Tensor::from_f32(dev, &cache, &[max_position, rot_dim], DType::F32)?,
                status: DeviceStatus::new(dev)?,
                hbuf,
                hpos: positions,
                hcache: cache,
                reference: None,
            })
        }
        CaseParams::Embedding { tokens, vocab, hidden, ids_i64 } => {
            let hw = random(rng, vocab * hidden, 0.0, 1.0, dtype);
            let ids: Vec<i64> = (0..tokens).map(|_| rng.range(0, vocab as i64)).collect();
            let ids_t = if ids_i64 {
                Tensor::from_i64(dev, &ids, &[tokens])?
            } else {
                Tensor::from_i32(dev, &ids.iter().map(|&i| i as i32).collect::<Vec<_>>(), &[tokens])?
            };
            Box::new(EmbInst {
                dtype,
                tokens,
                hidden,
                weight: upload(dev, &hw, &[vocab, hidden], dtype)?,
                out: Tensor::empty(dev, &[tokens, hidden], dtype)?,
                ids: ids_t,
                status: DeviceStatus::new(dev)?,
                hids: ids,
                hw,
                reference: None,
            })
        }
    })
}

fn check_all(inst: &mut dyn Checked) -> std::result::Result<(), String> {
    let outs = inst.outputs().map_err(|e| e.to_string())?;
    let tol = inst.tolerance();
    let refs = inst.reference().to_vec();
    for (i, (o, r)) in outs.iter().zip(&refs).enumerate() {
        fmt_fail(&format!("output {i}"), o, r, tol)?;
    }
    Ok(())
}

struct NormInst {
    fused: bool,
    dtype: DType,
    rows: usize,
    hidden: usize,
    width: usize,
    eps: f32,
    x_src: Tensor,
    x_full: Tensor,
    x: Tensor,
    r_src: Option<Tensor>,
    r: Option<Tensor>,
    w: Tensor,
    out: Option<Tensor>,
    hx: Vec<f32>,
    hr: Vec<f32>,
    hw: Vec<f32>,
    reference: Option<Vec<Vec<f64>>>,
}

impl Workload for NormInst {
    fn prepare(&mut self) -> Result<()> {
        if let (Some(r), Some(src)) = (&self.r, &self.r_src) {
            self.x_full.copy_from(&self.x_src)?;
            r.copy_from(src)?;
        }
        if let Some(out) = &self.out {
            out.poison()?;
        }
        Ok(())
    }
    fn run(&mut self, table: &OpTable) -> Result<()> {
        match (&self.out, &self.r) {
            (Some(out), _) => ops::rms_norm(table, &self.x, &self.w, self.eps, out),
            (None, Some(r)) => ops::fused_add_rms_norm(table, &self.x, r, &self.w, self.eps),
            (None, None) => unreachable!("a norm instance has an output or a residual"),
        }
    }
    fn check(&mut self) -> std::result::Result<(), String> {
        check_all(self)
    }
    fn bytes(&self) -> u64 {
        let (n, es) = ((self.rows * self.hidden) as u64, self.dtype.size() as u64);
        (if self.fused { 4 } else { 2 }) * n * es + self.hidden as u64 * es
    }
}

impl Checked for NormInst {
    fn outputs(&self) -> Result<Vec<Vec<f32>>> {
        match (&self.out, &self.r) {
            (Some(out), _) => Ok(vec![out.to_f32()?]),
            (_, Some(r)) => Ok(vec![self.x_full.to_f32()?, r.to_f32()?]),
            _ => Ok(vec![]),
        }
    }
    fn tolerance(&self) -> Tolerance {
        Tolerance::for_dtype(self.dtype)
    }
    fn reference(&mut self) -> &[Vec<f64>] {
        if self.reference.is_none() {
            let (h, w, eps, dt) = (self.hidden, self.width, self.eps, self.dtype);
            let (hx, hr, hw) = (&self.hx, &self.hr, &self.hw);
            let logical = |r: std::ops::Range<usize>| -> Vec<f32> {
                r.flat_map(|row| hx[row * w..row * w + h].iter().copied()).collect()
            };
            self.reference = Some(if !self.fused {
                vec![par_rows(self.rows, |r| reference::rms_norm(&logical(r), hw, eps, dt))]
            } else {
                // Out-of-place parts of the strided input row (the pad) must come back unchanged.
                let normed = par_rows(self.rows, |r| {
                    let rr = &hr[r.start * h..r.end * h];
                    let (out, _) = reference::fused_add_rms_norm(&logical(r.clone()), rr, hw, eps, dt);
                    let mut full = Vec::with_capacity(r.len() * w);
                    for (i, row) in r.enumerate() {
                        full.extend_from_slice(&out[i * h..(i + 1) * h]);
                        full.extend(hx[row * w + h..(row + 1) * w].iter().map(|&v| v as f64));
                    }
                    full
                });
                let res = par_rows(self.rows, |r| {
                    reference::fused_add_rms_norm(&logical(r.clone()), &hr[r.start * h..r.end * h], hw, eps, dt).1
                });
                vec![normed, res]
            });
        }
        self.reference.as_deref().unwrap_or(&[])
    }
}

struct GatedInst {
    op: OpId,
    tanh: bool,
    dtype: DType,
    rows: usize,
    d: usize,
    input: Tensor,
    out: Tensor,
    hx: Vec<f32>,
    reference: Option<Vec<Vec<f64>>>,
}

impl Workload for GatedInst {
    fn prepare(&mut self) -> Result<()> {
        self.out.poison()
    }
    fn run(&mut self, table: &OpTable) -> Result<()> {
        if self.op == OpId::SiluAndMul {
            ops::silu_and_mul(table, &self.input, &self.out)
        } else {
            let approx = if self.tanh { GeluApprox::Tanh } else { GeluApprox::None };
            ops::gelu_and_mul(table, &self.input, &self.out, approx)
        }
    }
    fn check(&mut self) -> std::result::Result<(), String> {
        check_all(self)
    }
    fn bytes(&self) -> u64 {
        3 * (self.rows * self.d * self.dtype.size()) as u64
    }
}

impl Checked for GatedInst {
    fn outputs(&self) -> Result<Vec<Vec<f32>>> {
        Ok(vec![self.out.to_f32()?])
    }
    fn tolerance(&self) -> Tolerance {
        Tolerance::for_dtype(self.dtype)
    }
    fn reference(&mut self) -> &[Vec<f64>] {
        if self.reference.is_none() {
            let (d, hx, tanh, silu) = (self.d, &self.hx, self.tanh, self.op == OpId::SiluAndMul);
            self.reference = Some(vec![par_rows(self.rows, |r| {
                let x = &hx[r.start * 2 * d..r.end * 2 * d];
                if silu {
                    reference::silu_and_mul(x, d)
                } else {
                    reference::gelu_and_mul(x, d, tanh)
                }
            })]);
        }
        self.reference.as_deref().unwrap_or(&[])
    }
}

struct RotaryInst {
    dtype: DType,
    tokens: usize,
    heads: usize,
    kv_heads: usize,
    head_size: usize,
    rot_dim: usize,
    neox: bool,
    width: usize,
    src: Tensor,
    buf: Tensor,
    q: Tensor,
    k: Tensor,
    positions: Tensor,
    cache: Tensor,
    status: DeviceStatus,
    hbuf: Vec<f32>,
    hpos: Vec<i64>,
    hcache: Vec<f32>,
    reference: Option<Vec<Vec<f64>>>,
}

impl Workload for RotaryInst {
    fn prepare(&mut self) -> Result<()> {
        self.buf.copy_from(&self.src)
    }
    fn run(&mut self, table: &OpTable) -> Result<()> {
        let rope = Rotary { head_size: self.head_size, cos_sin_cache: &self.cache, is_neox_style: self.neox };
        ops::rotary_embedding(table, &rope, &self.positions, &self.q, Some(&self.k), &self.status)
    }
    fn check(&mut self) -> std::result::Result<(), String> {
        self.status.check("rotary_embedding", |row| format!("token {row}")).map_err(|e| e.to_string())?;
        check_all(self)
    }
    fn bytes(&self) -> u64 {
        let t = self.tokens as u64;
        let qk = t * ((self.heads + self.kv_heads) * self.head_size * self.dtype.size()) as u64;
        2 * qk + t * 8 + t * (self.rot_dim * 4) as u64
    }
}

impl Checked for RotaryInst {
    fn outputs(&self) -> Result<Vec<Vec<f32>>> {
        Ok(vec![self.buf.to_f32()?])
    }
    fn tolerance(&self) -> Tolerance {
        Tolerance::for_dtype(self.dtype)
    }
    fn reference(&mut self) -> &[Vec<f64>] {
        if self.reference.is_none() {
            let (w, hs, qw, kw) = (self.width, self.head_size, self.heads * self.head_size, self.kv_heads * self.head_size);
            let (hbuf, hpos, cache, rot, neox, heads, kvh) =
                (&self.hbuf, &self.hpos, &self.hcache, self.rot_dim, self.neox, self.heads, self.kv_heads);
            self.reference = Some(vec![par_rows(self.tokens, |r| {
                let mut out = Vec::with_capacity(r.len() * w);
                for t in r {
                    let row = &hbuf[t * w..(t + 1) * w];
                    out.extend(reference::rotary_embedding(&hpos[t..t + 1], &row[..qw], heads, hs, cache, rot, neox));
                    out.extend(reference::rotary_embedding(&hpos[t..t + 1], &row[qw..qw + kw], kvh, hs, cache, rot, neox));
                    out.extend(row[qw + kw..].iter().map(|&v| v as f64)); // v: untouched
                }
                out
            })]);
        }
        self.reference.as_deref().unwrap_or(&[])
    }
}

struct EmbInst {
    dtype: DType,
    tokens: usize,
    hidden: usize,
    ids: Tensor,
    weight: Tensor,
    out: Tensor,
    status: DeviceStatus,
    hids: Vec<i64>,
    hw: Vec<f32>,
    reference: Option<Vec<Vec<f64>>>,
}

impl Workload for EmbInst {
    fn prepare(&mut self) -> Result<()> {
        self.out.poison()
    }
    fn run(&mut self, table: &OpTable) -> Result<()> {
        ops::embedding(table, &self.ids, &self.weight, &self.out, &self.status)
    }
    fn check(&mut self) -> std::result::Result<(), String> {
        self.status.check("embedding", |row| format!("token {row}")).map_err(|e| e.to_string())?;
        check_all(self)
    }
    fn bytes(&self) -> u64 {
        2 * (self.tokens * self.hidden * self.dtype.size()) as u64 + self.ids.nbytes() as u64
    }
}

impl Checked for EmbInst {
    fn outputs(&self) -> Result<Vec<Vec<f32>>> {
        Ok(vec![self.out.to_f32()?])
    }
    /// A gather is exact.
    fn tolerance(&self) -> Tolerance {
        Tolerance { atol: 0.0, rtol: 0.0, max_rel_l2: 0.0 }
    }
    fn reference(&mut self) -> &[Vec<f64>] {
        if self.reference.is_none() {
            self.reference = Some(vec![reference::embedding(&self.hids, &self.hw, self.hidden)]);
        }
        self.reference.as_deref().unwrap_or(&[])
    }
}
