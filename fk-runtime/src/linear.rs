//! `Linear`: upstream `torch.nn.Linear` (and every HF `*_proj`), `y = x·Wᵀ + b` with the
//! weight stored `[out_features, in_features]` exactly as in the checkpoint.

use crate::device::Device;
use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::gemm::Gemm;
use crate::safetensors::Checkpoint;
use crate::tensor::Tensor;

#[derive(Clone, Debug)]
pub struct Linear {
    /// `[out_features, in_features]`, contiguous.
    pub weight: Tensor,
    /// `[out_features]`.
    pub bias: Option<Tensor>,
}

impl Linear {
    /// Check the weight/bias pair once, so `forward` only has to check `x`.
    pub fn new(weight: Tensor, bias: Option<Tensor>) -> Result<Linear> {
        let op = "Linear::new";
        if weight.rank() != 2 || !weight.is_contiguous() {
            return Err(Error::shape(
                op,
                format!("weight {weight:?} must be a contiguous [out_features, in_features]"),
            ));
        }
        if let Some(b) = &bias {
            if b.shape() != [weight.dim(0)] {
                return Err(Error::shape(
                    op,
                    format!("bias {b:?} does not match weight {weight:?}: expected [{}]", weight.dim(0)),
                ));
            }
            if b.dtype() != weight.dtype() {
                return Err(Error::dtype(op, format!("bias is {} but weight is {}", b.dtype(), weight.dtype())));
            }
            if !b.device().same_as(weight.device()) {
                return Err(Error::bad_input(
                    op,
                    format!("bias is on {:?}, weight on {:?}", b.device(), weight.device()),
                ));
            }
        }
        Ok(Linear { weight, bias })
    }

    /// Load `{prefix}.weight` (and `{prefix}.bias` when `with_bias`) with upstream names,
    /// checking the shape `[out_features, in_features]` and converting to `dtype`.
    pub fn load(
        ckpt: &Checkpoint,
        device: &Device,
        prefix: &str,
        in_features: usize,
        out_features: usize,
        dtype: DType,
        with_bias: bool,
    ) -> Result<Linear> {
        let weight = ckpt.load_as(device, &format!("{prefix}.weight"), &[out_features, in_features], dtype)?;
        let bias = if with_bias {
            Some(ckpt.load_as(device, &format!("{prefix}.bias"), &[out_features], dtype)?)
        } else {
            None
        };
        Linear::new(weight, bias)
    }

    pub fn in_features(&self) -> usize {
        self.weight.dim(1)
    }

    pub fn out_features(&self) -> usize {
        self.weight.dim(0)
    }

    pub fn dtype(&self) -> DType {
        self.weight.dtype()
    }

    /// Device bytes of the weight and bias (what one forward reads of the layer).
    pub fn nbytes(&self) -> usize {
        self.weight.nbytes() + self.bias.as_ref().map_or(0, Tensor::nbytes)
    }

    /// FLOPs one input row costs: `2 · in_features · out_features`.
    pub fn flops_per_row(&self) -> u64 {
        2 * (self.in_features() * self.out_features()) as u64
    }

    /// `x [..., in_features]` → a new `[..., out_features]` tensor.
    pub fn forward(&self, gemm: &Gemm, x: &Tensor) -> Result<Tensor> {
        let mut shape = x.shape().to_vec();
        match shape.last_mut() {
            Some(last) => *last = self.out_features(),
            None => return Err(Error::shape("Linear::forward", format!("x {x:?} is a scalar"))),
        }
        let out = Tensor::empty(x.device(), &shape, self.dtype())?;
        self.forward_into(gemm, x, &out)?;
        Ok(out)
    }

    /// Write `x·Wᵀ + b` into `out` (`[..., out_features]`, may be a row-strided view).
    pub fn forward_into(&self, gemm: &Gemm, x: &Tensor, out: &Tensor) -> Result<()> {
        gemm.linear(x, &self.weight, self.bias.as_ref(), out)
    }
}

/// CPU reference for `F.linear`: `x [m, k]`, `w [n, k]`, optional `bias [n]`, all row-major,
/// accumulated in f64. Returns `[m, n]`. Feed it the values the GPU actually sees
/// (`host::round_trip` to the dtype) so only the GEMM's own error is measured.
pub fn linear_reference(x: &[f32], m: usize, k: usize, w: &[f32], n: usize, bias: Option<&[f32]>) -> Vec<f64> {
    assert_eq!(x.len(), m * k, "linear_reference: x has {} values, expected {m}×{k}", x.len());
    assert_eq!(w.len(), n * k, "linear_reference: w has {} values, expected {n}×{k}", w.len());
    if let Some(b) = bias {
        assert_eq!(b.len(), n, "linear_reference: bias has {} values, expected {n}", b.len());
    }
    // Widen the weight once: the inner loop is then a plain f64 dot product.
    let w64: Vec<f64> = w.iter().map(|&v| v as f64).collect();
    let mut out = Vec::with_capacity(m * n);
    let mut xr = vec![0f64; k];
    for row in x.chunks_exact(k.max(1)).take(m) {
        for (d, &s) in xr.iter_mut().zip(row) {
            *d = s as f64;
        }
        for j in 0..n {
            let wr = &w64[j * k..(j + 1) * k];
            let dot: f64 = xr.iter().zip(wr).map(|(a, b)| a * b).sum();
            out.push(dot + bias.map_or(0.0, |b| b[j] as f64));
        }
    }
    // k = 0: every output is just the bias (chunks_exact above yields no rows).
    if k == 0 {
        for _ in 0..m {
            out.extend((0..n).map(|j| bias.map_or(0.0, |b| b[j] as f64)));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::linear_reference;

    #[test]
    fn reference_matches_hand_computed() {
        // x [2,3], w [2,3] (out 2, in 3), bias [2]
        let x = [1.0, 2.0, 3.0, -1.0, 0.5, 2.0];
        let w = [1.0, 0.0, -1.0, 2.0, 1.0, 0.5];
        let y = linear_reference(&x, 2, 3, &w, 2, Some(&[10.0, -10.0]));
        assert_eq!(y, vec![1.0 - 3.0 + 10.0, 2.0 + 2.0 + 1.5 - 10.0, -1.0 - 2.0 + 10.0, -2.0 + 0.5 + 1.0 - 10.0]);
        assert_eq!(linear_reference(&[], 2, 0, &[], 2, Some(&[1.0, 2.0])), vec![1.0, 2.0, 1.0, 2.0]);
        assert_eq!(linear_reference(&x, 2, 3, &w, 2, None)[0], -2.0);
    }
}
