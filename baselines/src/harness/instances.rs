//! Device instances of the L1 cases: random inputs (uploaded once, restored before every
//! run of an in-place op), poisoned outputs, and a CPU reference computed on first check.

use super::cases::{Case, CaseParams};
use super::Workload;
use crate::ops::{self, DecodeSplits, DeviceStatus, GeluApprox, PagedKv, Rotary};
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
pub(crate) fn par_rows(rows: usize, f: impl Fn(std::ops::Range<usize>) -> Vec<f64> + Sync) -> Vec<f64> {
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

pub(super) fn upload(dev: &Device, v: &[f32], shape: &[usize], dtype: DType) -> Result<Tensor> {
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
        CaseParams::ReshapeAndCache { tokens, kv_heads, head_dim, block_size, num_blocks, fused } => {
            let row = kv_heads * head_dim;
            let hkv = random(rng, tokens * 2 * row, 0.0, 1.0, dtype);
            let cache_elems = num_blocks * block_size * row;
            let hkc = random(rng, cache_elems, 0.0, 1.0, dtype);
            let hvc = random(rng, cache_elems, 0.0, 1.0, dtype);
            // Distinct slots (a partial Fisher-Yates shuffle), 1 in 8 turned into padding.
            let mut all: Vec<i64> = (0..(num_blocks * block_size) as i64).collect();
            for i in 0..tokens {
                let j = rng.range(i as i64, all.len() as i64) as usize;
                all.swap(i, j);
            }
            let slots: Vec<i64> = all[..tokens].iter().map(|&s| if rng.range(0, 8) == 0 { -1 } else { s }).collect();
            let kv = upload(dev, &hkv, &[tokens, 2 * row], dtype)?;
            let (key, value) = if fused {
                (kv.narrow(1, 0, row)?, kv.narrow(1, row, row)?)
            } else {
                let k: Vec<f32> = (0..tokens).flat_map(|t| hkv[t * 2 * row..t * 2 * row + row].to_vec()).collect();
                let v: Vec<f32> = (0..tokens).flat_map(|t| hkv[t * 2 * row + row..(t + 1) * 2 * row].to_vec()).collect();
                (upload(dev, &k, &[tokens, row], dtype)?, upload(dev, &v, &[tokens, row], dtype)?)
            };
            let shape = [num_blocks, block_size, kv_heads, head_dim];
            let kc_src = upload(dev, &hkc, &shape, dtype)?;
            let vc_src = upload(dev, &hvc, &shape, dtype)?;
            Box::new(CacheInst {
                dtype,
                tokens,
                row,
                key,
                value,
                key_cache: kc_src.duplicate()?,
                value_cache: vc_src.duplicate()?,
                kc_src,
                vc_src,
                slots: Tensor::from_i64(dev, &slots, &[tokens])?,
                status: DeviceStatus::new(dev)?,
                hkv,
                hkc,
                hvc,
                hslots: slots,
                reference: None,
            })
        }
        CaseParams::PagedDecode { seqs, heads, kv_heads, head_dim, block_size, max_len, split_tokens, uniform } => {
            let max_blocks = max_len.div_ceil(block_size);
            let num_blocks = seqs * max_blocks + 3;
            let lens: Vec<usize> =
                (0..seqs).map(|b| if uniform || b == 0 { max_len } else { rng.range(1, max_len as i64 + 1) as usize }).collect();
            // Every sequence gets distinct physical blocks, in shuffled order.
            let mut phys: Vec<i32> = (0..num_blocks as i32).collect();
            for i in (1..phys.len()).rev() {
                let j = rng.range(0, i as i64 + 1) as usize;
                phys.swap(i, j);
            }
            let table: Vec<i32> = phys[..seqs * max_blocks].to_vec();
            let row = kv_heads * head_dim;
            let cache_elems = num_blocks * block_size * row;
            let hkc = random(rng, cache_elems, 0.0, 1.0, dtype);
            let hvc = random(rng, cache_elems, 0.0, 1.0, dtype);
            let hq = random(rng, seqs * heads * head_dim, 0.0, 1.0, dtype);
            let splits = if split_tokens == 0 {
                DecodeSplits::for_device(seqs, kv_heads, max_blocks, block_size, dev.info().sm_count.max(1) as usize)?
            } else {
                DecodeSplits::new(max_blocks, block_size, split_tokens)?
            };
            let ws = splits.workspace_floats(seqs, heads, head_dim);
            let shape = [num_blocks, block_size, kv_heads, head_dim];
            Box::new(DecodeInst {
                dtype,
                heads,
                kv_heads,
                head_dim,
                block_size,
                max_blocks,
                splits,
                query: upload(dev, &hq, &[seqs, heads * head_dim], dtype)?,
                key_cache: upload(dev, &hkc, &shape, dtype)?,
                value_cache: upload(dev, &hvc, &shape, dtype)?,
                block_table: Tensor::from_i32(dev, &table, &[seqs, max_blocks])?,
                seq_lens: Tensor::from_i32(dev, &lens.iter().map(|&l| l as i32).collect::<Vec<_>>(), &[seqs])?,
                workspace: if ws > 0 { Some(Tensor::empty(dev, &[ws], DType::F32)?) } else { None },
                out: Tensor::empty(dev, &[seqs, heads, head_dim], dtype)?,
                status: DeviceStatus::new(dev)?,
                hq,
                hkc,
                hvc,
                htable: table,
                hlens: lens,
                reference: None,
            })
        }
        CaseParams::SkinnyGemm { rows, n, k, bias, x_pad, stream } => super::skinny::instance(dev, dtype, rows, n, k, bias, x_pad, stream, rng)?,
        CaseParams::Prefill { lens_q, lens_k, heads, kv_heads, head_dim, causal, window_left, kv, portable } => {
            let mask = reference::AttnMask { causal, window_left };
            Box::new(super::prefill::instantiate_prefill(dev, dtype, rng, &lens_q, &lens_k, heads, kv_heads, head_dim, mask, kv, portable)?)
        }
        CaseParams::Sample { .. } => super::sampling::instantiate_sample(dev, case, rng)?,
        CaseParams::Moe(c) => super::moe::instantiate_moe(dev, case, &c, rng)?,
        CaseParams::Encoder(c) => super::encoder_inst::instantiate_encoder(dev, dtype, &c, rng)?,
        CaseParams::Ssm(c) => super::ssm_inst::instantiate_ssm(dev, case, &c, rng)?,
        CaseParams::MambaDecode(c) => Box::new(super::mamba_decode::MambaDecodeInst::new(dev, dtype, &c, rng)?),
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

pub(super) fn check_all(inst: &mut dyn Checked) -> std::result::Result<(), String> {
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

struct CacheInst {
    dtype: DType,
    tokens: usize,
    row: usize,
    key: Tensor,
    value: Tensor,
    kc_src: Tensor,
    vc_src: Tensor,
    key_cache: Tensor,
    value_cache: Tensor,
    slots: Tensor,
    status: DeviceStatus,
    hkv: Vec<f32>,
    hkc: Vec<f32>,
    hvc: Vec<f32>,
    hslots: Vec<i64>,
    reference: Option<Vec<Vec<f64>>>,
}

impl Workload for CacheInst {
    fn prepare(&mut self) -> Result<()> {
        self.key_cache.copy_from(&self.kc_src)?;
        self.value_cache.copy_from(&self.vc_src)
    }
    fn run(&mut self, table: &OpTable) -> Result<()> {
        let kv = PagedKv { key_cache: &self.key_cache, value_cache: &self.value_cache };
        ops::reshape_and_cache(table, &self.key, &self.value, &kv, &self.slots, &self.status)
    }
    fn check(&mut self) -> std::result::Result<(), String> {
        self.status.check("reshape_and_cache", |row| format!("token {row}")).map_err(|e| e.to_string())?;
        check_all(self)
    }
    fn bytes(&self) -> u64 {
        let written = self.hslots.iter().filter(|&&s| s >= 0).count();
        (4 * written * self.row * self.dtype.size() + self.tokens * 8) as u64
    }
}

impl Checked for CacheInst {
    fn outputs(&self) -> Result<Vec<Vec<f32>>> {
        Ok(vec![self.key_cache.to_f32()?, self.value_cache.to_f32()?])
    }
    /// A copy is exact.
    fn tolerance(&self) -> Tolerance {
        Tolerance { atol: 0.0, rtol: 0.0, max_rel_l2: 0.0 }
    }
    fn reference(&mut self) -> &[Vec<f64>] {
        if self.reference.is_none() {
            let r = self.row;
            let k: Vec<f32> = (0..self.tokens).flat_map(|t| self.hkv[t * 2 * r..t * 2 * r + r].to_vec()).collect();
            let v: Vec<f32> = (0..self.tokens).flat_map(|t| self.hkv[t * 2 * r + r..(t + 1) * 2 * r].to_vec()).collect();
            let (mut kc, mut vc) = (self.hkc.clone(), self.hvc.clone());
            // kv_heads * head_dim = row: the reference only needs the product.
            reference::reshape_and_cache(&k, &v, &self.hslots, &mut kc, &mut vc, 1, r);
            self.reference = Some(vec![kc.iter().map(|&x| x as f64).collect(), vc.iter().map(|&x| x as f64).collect()]);
        }
        self.reference.as_deref().unwrap_or(&[])
    }
}

struct DecodeInst {
    dtype: DType,
    heads: usize,
    kv_heads: usize,
    head_dim: usize,
    block_size: usize,
    max_blocks: usize,
    splits: DecodeSplits,
    query: Tensor,
    key_cache: Tensor,
    value_cache: Tensor,
    block_table: Tensor,
    seq_lens: Tensor,
    workspace: Option<Tensor>,
    out: Tensor,
    status: DeviceStatus,
    hq: Vec<f32>,
    hkc: Vec<f32>,
    hvc: Vec<f32>,
    htable: Vec<i32>,
    hlens: Vec<usize>,
    reference: Option<Vec<Vec<f64>>>,
}

impl DecodeInst {
    fn scale(&self) -> f32 {
        1.0 / (self.head_dim as f32).sqrt()
    }
}

impl Workload for DecodeInst {
    fn prepare(&mut self) -> Result<()> {
        self.out.poison()
    }
    fn run(&mut self, table: &OpTable) -> Result<()> {
        let kv = PagedKv { key_cache: &self.key_cache, value_cache: &self.value_cache };
        let scale = self.scale();
        ops::paged_attention_decode(table, &self.query, &kv, &self.block_table, &self.seq_lens, self.splits, self.workspace.as_ref(), scale, &self.out, &self.status)
    }
    fn check(&mut self) -> std::result::Result<(), String> {
        self.status.check("paged_attention_decode", |row| format!("sequence {row}")).map_err(|e| e.to_string())?;
        check_all(self)
    }
    fn bytes(&self) -> u64 {
        let ctx: usize = self.hlens.iter().sum();
        let es = self.dtype.size();
        (2 * ctx * self.kv_heads * self.head_dim * es + 2 * self.hlens.len() * self.heads * self.head_dim * es) as u64
    }
}

impl Checked for DecodeInst {
    fn outputs(&self) -> Result<Vec<Vec<f32>>> {
        Ok(vec![self.out.to_f32()?])
    }
    /// fp32 softmax with the fast exp (__expf): allow 4x the storage-dtype tolerance for f32.
    fn tolerance(&self) -> Tolerance {
        let t = Tolerance::for_dtype(self.dtype);
        if self.dtype == DType::F32 {
            t.scaled(4.0)
        } else {
            t
        }
    }
    fn reference(&mut self) -> &[Vec<f64>] {
        if self.reference.is_none() {
            let s = reference::AttnShape { heads: self.heads, kv_heads: self.kv_heads, head_dim: self.head_dim, scale: self.scale() as f64 };
            let (hd, nh) = (self.head_dim, self.heads);
            let (hq, hkc, hvc, table, lens, mb, bs) = (&self.hq, &self.hkc, &self.hvc, &self.htable, &self.hlens, self.max_blocks, self.block_size);
            self.reference = Some(vec![par_rows(lens.len(), |r| {
                reference::paged_decode_attention(&hq[r.start * nh * hd..r.end * nh * hd], hkc, hvc, &table[r.start * mb..r.end * mb], mb, &lens[r.clone()], bs, &s)
            })]);
        }
        self.reference.as_deref().unwrap_or(&[])
    }
}
