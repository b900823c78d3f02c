//! The device instance of a prefill_attention case: random q/k/v (separate tensors, strided
//! views of one fused qkv buffer, or a paged cache with shuffled blocks), the poisoned output,
//! and the f64 reference. Shapes whose full reference would take minutes (benchmarks) are
//! checked on a random sample of query rows (plus every sequence's last row), and every
//! output element is still checked for NaN (the poison an unwritten element leaves).

use super::cases::PrefillSource;
use super::instances::{par_rows, random, Checked};
use super::Workload;
use crate::ops::{self, DeviceStatus, PagedKv, PrefillKernel, PrefillKv, PrefillParams};
use crate::reference::{self, AttnMask, AttnShape};
use crate::table::OpTable;
use fk_runtime::compare::{compare, Tolerance};
use fk_runtime::rng::Rng;
use fk_runtime::{DType, Device, Result, Tensor};

/// Above this many multiply-adds (heads x head_dim x visible (query, key) pairs x 2) the
/// reference covers sampled rows only.
const FULL_REFERENCE_MACS: f64 = 4e9;
const SAMPLED_ROWS: usize = 96;

enum Source {
    Contiguous { key: Tensor, value: Tensor, cu_k: Tensor },
    Paged { key_cache: Tensor, value_cache: Tensor, block_table: Tensor, seq_lens_k: Tensor },
}

pub(crate) struct PrefillInst {
    dtype: DType,
    shape: AttnShape,
    mask: AttnMask,
    kernel: PrefillKernel,
    max_seqlen_q: usize,
    _qkv: Option<Tensor>,
    query: Tensor,
    source: Source,
    cu_q: Tensor,
    out: Tensor,
    status: DeviceStatus,
    /// Host copies in logical layout: q [total_q, heads*hd], k/v [total_k, kv_heads*hd].
    hq: Vec<f32>,
    hk: Vec<f32>,
    hv: Vec<f32>,
    cu_q_host: Vec<usize>,
    cu_k_host: Vec<usize>,
    /// Rows the reference covers (None: all).
    rows: Option<Vec<usize>>,
    pairs: u64,
    reference: Option<Vec<Vec<f64>>>,
}

fn prefix(lens: &[usize]) -> Vec<usize> {
    std::iter::once(0).chain(lens.iter().scan(0, |a, &l| {
        *a += l;
        Some(*a)
    })).collect()
}

#[allow(clippy::too_many_arguments)]
pub(crate) fn instantiate_prefill(
    dev: &Device,
    dtype: DType,
    rng: &mut Rng,
    lens_q: &[usize],
    lens_k: &[usize],
    heads: usize,
    kv_heads: usize,
    head_dim: usize,
    mask: AttnMask,
    kv: PrefillSource,
    portable: bool,
) -> Result<PrefillInst> {
    let (cu_q_host, cu_k_host) = (prefix(lens_q), prefix(lens_k));
    let (tq, tk) = (cu_q_host[lens_q.len()], cu_k_host[lens_k.len()]);
    let (qw, kw) = (heads * head_dim, kv_heads * head_dim);
    let cu_q = Tensor::from_i32(dev, &cu_q_host.iter().map(|&x| x as i32).collect::<Vec<_>>(), &[lens_q.len() + 1])?;
    let mut qkv = None;
    let (query, hq, hk, hv, source) = match kv {
        PrefillSource::FusedQkv => {
            assert_eq!(lens_q, lens_k, "a fused qkv case has as many keys as queries");
            let w = qw + 2 * kw;
            let h = random(rng, tq * w, 0.0, 1.0, dtype);
            let buf = Tensor::from_f32(dev, &h, &[tq, w], dtype)?;
            let col = |lo: usize, n: usize| -> Vec<f32> { (0..tq).flat_map(|t| h[t * w + lo..t * w + lo + n].to_vec()).collect() };
            let (hq, hk, hv) = (col(0, qw), col(qw, kw), col(qw + kw, kw));
            let cu_k = Tensor::from_i32(dev, &cu_k_host.iter().map(|&x| x as i32).collect::<Vec<_>>(), &[lens_k.len() + 1])?;
            let src = Source::Contiguous { key: buf.narrow(1, qw, kw)?, value: buf.narrow(1, qw + kw, kw)?, cu_k };
            let q = buf.narrow(1, 0, qw)?;
            qkv = Some(buf);
            (q, hq, hk, hv, src)
        }
        PrefillSource::Contiguous => {
            let hq = random(rng, tq * qw, 0.0, 1.0, dtype);
            let hk = random(rng, tk * kw, 0.0, 1.0, dtype);
            let hv = random(rng, tk * kw, 0.0, 1.0, dtype);
            let cu_k = Tensor::from_i32(dev, &cu_k_host.iter().map(|&x| x as i32).collect::<Vec<_>>(), &[lens_k.len() + 1])?;
            let src = Source::Contiguous {
                key: Tensor::from_f32(dev, &hk, &[tk, kw], dtype)?,
                value: Tensor::from_f32(dev, &hv, &[tk, kw], dtype)?,
                cu_k,
            };
            (Tensor::from_f32(dev, &hq, &[tq, qw], dtype)?, hq, hk, hv, src)
        }
        PrefillSource::Paged(bs) => {
            let max_blocks = lens_k.iter().map(|&l| l.div_ceil(bs)).max().unwrap_or(0).max(1) + 1; // a spare column
            let num_blocks = lens_k.len() * max_blocks + 3;
            // Every sequence gets distinct physical blocks in shuffled order.
            let mut phys: Vec<i32> = (0..num_blocks as i32).collect();
            for i in (1..phys.len()).rev() {
                let j = rng.range(0, i as i64 + 1) as usize;
                phys.swap(i, j);
            }
            let table: Vec<i32> = phys[..lens_k.len() * max_blocks].to_vec();
            let cache_shape = [num_blocks, bs, kv_heads, head_dim];
            let hkc = random(rng, num_blocks * bs * kw, 0.0, 1.0, dtype);
            let hvc = random(rng, num_blocks * bs * kw, 0.0, 1.0, dtype);
            let hk = reference::gather_paged(&hkc, &table, max_blocks, lens_k, bs, kw);
            let hv = reference::gather_paged(&hvc, &table, max_blocks, lens_k, bs, kw);
            let hq = random(rng, tq * qw, 0.0, 1.0, dtype);
            let src = Source::Paged {
                key_cache: Tensor::from_f32(dev, &hkc, &cache_shape, dtype)?,
                value_cache: Tensor::from_f32(dev, &hvc, &cache_shape, dtype)?,
                block_table: Tensor::from_i32(dev, &table, &[lens_k.len(), max_blocks])?,
                seq_lens_k: Tensor::from_i32(dev, &lens_k.iter().map(|&l| l as i32).collect::<Vec<_>>(), &[lens_k.len()])?,
            };
            (Tensor::from_f32(dev, &hq, &[tq, qw], dtype)?, hq, hk, hv, src)
        }
    };
    let pairs: u64 = lens_q
        .iter()
        .zip(lens_k)
        .map(|(&lq, &lk)| (0..lq).map(|i| { let (lo, hi) = mask.visible(i, lq, lk); (hi - lo) as u64 }).sum::<u64>())
        .sum();
    let rows = if (pairs as f64) * (qw as f64) * 2.0 > FULL_REFERENCE_MACS {
        let mut r: Vec<usize> = cu_q_host[1..].iter().filter(|&&e| e > 0).map(|&e| e - 1).collect();
        while r.len() < SAMPLED_ROWS && tq > 0 {
            r.push(rng.range(0, tq as i64) as usize);
        }
        r.sort_unstable();
        r.dedup();
        Some(r)
    } else {
        None
    };
    Ok(PrefillInst {
        dtype,
        shape: AttnShape { heads, kv_heads, head_dim, scale: 1.0 / (head_dim as f64).sqrt() },
        mask,
        kernel: if portable { PrefillKernel::Portable } else { PrefillKernel::Auto },
        max_seqlen_q: lens_q.iter().copied().max().unwrap_or(0),
        _qkv: qkv,
        query,
        source,
        cu_q,
        out: Tensor::empty(dev, &[tq, qw], dtype)?,
        status: DeviceStatus::new(dev)?,
        hq,
        hk,
        hv,
        cu_q_host,
        cu_k_host,
        rows,
        pairs,
        reference: None,
    })
}

impl PrefillInst {
    fn scale(&self) -> f32 {
        self.shape.scale as f32
    }
    /// The rows of `all` (a full output) that the reference covers.
    fn select(&self, all: Vec<f32>) -> Vec<f32> {
        match &self.rows {
            None => all,
            Some(rows) => {
                let w = self.shape.heads * self.shape.head_dim;
                rows.iter().flat_map(|&r| all[r * w..(r + 1) * w].to_vec()).collect()
            }
        }
    }
}

impl Workload for PrefillInst {
    fn prepare(&mut self) -> Result<()> {
        self.out.poison()
    }
    fn run(&mut self, table: &OpTable) -> Result<()> {
        let p = PrefillParams {
            head_dim: self.shape.head_dim,
            causal: self.mask.causal,
            scale: self.scale(),
            window_left: self.mask.window_left,
            max_seqlen_q: self.max_seqlen_q,
        };
        let kv = match &self.source {
            Source::Contiguous { key, value, cu_k } => PrefillKv::Contiguous { key, value, cu_seqlens_k: cu_k },
            Source::Paged { key_cache, value_cache, block_table, seq_lens_k } => {
                PrefillKv::Paged { kv: PagedKv { key_cache, value_cache }, block_table, seq_lens_k }
            }
        };
        ops::prefill_attention_impl(table, &self.query, &kv, &self.cu_q, &p, &self.out, Some(&self.status), self.kernel)
    }
    fn check(&mut self) -> std::result::Result<(), String> {
        self.status.check("prefill_attention", |b| format!("sequence {b}")).map_err(|e| e.to_string())?;
        let all = self.out.to_f32().map_err(|e| e.to_string())?;
        if let Some(i) = all.iter().position(|x| !x.is_finite()) {
            return Err(format!("output element {i} (row {}) is {} (unwritten or NaN)", i / (self.shape.heads * self.shape.head_dim), all[i]));
        }
        let out = self.select(all);
        let tol = self.tolerance();
        let r = self.reference()[0].clone();
        compare(&out, &r, tol).check(if self.rows.is_some() { "sampled rows" } else { "output" })
    }
    fn bytes(&self) -> u64 {
        let es = self.dtype.size() as u64;
        let (tq, tk) = (self.hq.len() as u64, self.hk.len() as u64);
        es * (2 * tq + 2 * tk)
    }
    /// 4 * head_dim * heads per visible (query, key) pair (QK^T and PV).
    fn flops(&self) -> u64 {
        4 * (self.shape.head_dim * self.shape.heads) as u64 * self.pairs
    }
}

impl Checked for PrefillInst {
    fn outputs(&self) -> Result<Vec<Vec<f32>>> {
        Ok(vec![self.select(self.out.to_f32()?)])
    }
    /// The storage dtype's tolerance: P is rounded to f16/bf16 before P V (as FlashAttention
    /// does), an extra rounding the f64 reference lacks; measured well inside (run 1: bf16
    /// elementwise at <= 0.26 of the bound, rel-L2 <= 2.3e-3 of 8e-3).
    fn tolerance(&self) -> Tolerance {
        Tolerance::for_dtype(self.dtype)
    }
    fn reference(&mut self) -> &[Vec<f64>] {
        if self.reference.is_none() {
            let rows: Vec<usize> = self.rows.clone().unwrap_or_else(|| (0..self.hq.len() / (self.shape.heads * self.shape.head_dim)).collect());
            let (hq, hk, hv, cq, ck, s, m) = (&self.hq, &self.hk, &self.hv, &self.cu_q_host, &self.cu_k_host, &self.shape, self.mask);
            self.reference = Some(vec![par_rows(rows.len(), |r| reference::prefill_attention_rows(hq, hk, hv, cq, ck, s, m, &rows[r]))]);
        }
        self.reference.as_deref().unwrap_or(&[])
    }
}
