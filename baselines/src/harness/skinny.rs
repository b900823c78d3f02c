//! The device instance of a `skinny_gemm` case: random x (optionally a strided view), weight
//! and bias; the reference is `F.linear` in f64 over the rounded inputs.

use super::instances::{check_all, random, upload, Checked};
use super::Workload;
use crate::ops;
use crate::table::OpTable;
use fk_runtime::compare::Tolerance;
use fk_runtime::rng::Rng;
use fk_runtime::{DType, Device, Result, Tensor};

pub(super) struct SkinnyInst {
    dtype: DType,
    rows: usize,
    n: usize,
    k: usize,
    stream: bool,
    x: Tensor,
    weight: Tensor,
    bias: Option<Tensor>,
    out: Tensor,
    hx: Vec<f32>,
    hw: Vec<f32>,
    hb: Option<Vec<f32>>,
    reference: Option<Vec<Vec<f64>>>,
}

#[allow(clippy::too_many_arguments)]
pub(super) fn instance(dev: &Device, dtype: DType, rows: usize, n: usize, k: usize, bias: bool, x_pad: usize, stream: bool, rng: &mut Rng) -> Result<Box<dyn Checked>> {
    let width = k + x_pad;
    // Inputs of unit scale and weights of std 1/sqrt(k): outputs of unit scale, as in a model.
    let hx_full = random(rng, rows * width, 0.0, 1.0, dtype);
    let hw = random(rng, n * k, 0.0, 1.0 / (k as f32).sqrt(), dtype);
    let hb = bias.then(|| random(rng, n, 0.0, 0.5, dtype));
    let x_full = upload(dev, &hx_full, &[rows, width], dtype)?;
    let hx: Vec<f32> = hx_full.chunks_exact(width).flat_map(|r| r[..k].to_vec()).collect();
    Ok(Box::new(SkinnyInst {
        dtype,
        rows,
        n,
        k,
        stream,
        x: x_full.narrow(1, 0, k)?,
        weight: upload(dev, &hw, &[n, k], dtype)?,
        bias: hb.as_ref().map(|b| upload(dev, b, &[n], dtype)).transpose()?,
        out: Tensor::empty(dev, &[rows, n], dtype)?,
        hx,
        hw,
        hb,
        reference: None,
    }))
}

impl Workload for SkinnyInst {
    fn prepare(&mut self) -> Result<()> {
        self.out.poison()
    }
    fn run(&mut self, table: &OpTable) -> Result<()> {
        // Both weight sources: rows + n odd as a model's Linear calls it (the decode rows the
        // bench reports: one row of an even n), else nothing read before the wait.
        let source = if self.stream {
            ops::WeightSource::StreamedParameter
        } else if (self.rows + self.n) % 2 == 1 {
            ops::WeightSource::Parameter
        } else {
            ops::WeightSource::Any
        };
        ops::skinny_gemm_with(table, &self.x, &self.weight, self.bias.as_ref(), &self.out, source)
    }
    fn check(&mut self) -> std::result::Result<(), String> {
        check_all(self)
    }
    fn bytes(&self) -> u64 {
        let es = self.dtype.size() as u64;
        let (m, n, k) = (self.rows as u64, self.n as u64, self.k as u64);
        (n * k + m * k + m * n + if self.bias.is_some() { n } else { 0 }) * es
    }
    fn flops(&self) -> u64 {
        2 * (self.rows * self.n * self.k) as u64
    }
}

impl Checked for SkinnyInst {
    fn outputs(&self) -> Result<Vec<Vec<f32>>> {
        Ok(vec![self.out.to_f32()?])
    }
    fn tolerance(&self) -> Tolerance {
        Tolerance::for_dtype(self.dtype)
    }
    fn reference(&mut self) -> &[Vec<f64>] {
        if self.reference.is_none() {
            // Parallel over output features: lm_head-sized weights have 0.5 G elements.
            let (m, n, k) = (self.rows, self.n, self.k);
            let (hx, hw, hb) = (&self.hx, &self.hw, &self.hb);
            let threads = std::thread::available_parallelism().map(|t| t.get()).unwrap_or(1);
            let chunk = n.div_ceil(threads).max(1);
            let cols: Vec<Vec<f64>> = std::thread::scope(|s| {
                let hs: Vec<_> = (0..n).step_by(chunk).map(|lo| {
                    s.spawn(move || {
                        let hi = (lo + chunk).min(n);
                        fk_runtime::linear::linear_reference(hx, m, k, &hw[lo * k..hi * k], hi - lo, hb.as_ref().map(|b| &b[lo..hi]))
                    })
                }).collect();
                hs.into_iter().map(|h| h.join().expect("reference thread")).collect()
            });
            // Each chunk is [m, chunk_n]; interleave back into [m, n].
            let mut out = vec![0f64; m * n];
            for (ci, c) in cols.iter().enumerate() {
                let lo = ci * chunk;
                let w = c.len() / m.max(1);
                for r in 0..m {
                    out[r * n + lo..r * n + lo + w].copy_from_slice(&c[r * w..(r + 1) * w]);
                }
            }
            self.reference = Some(vec![out]);
        }
        self.reference.as_deref().unwrap_or(&[])
    }
}
