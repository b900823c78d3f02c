//! Loading projections for the GPU ViT modules from HF checkpoints: optional biases, fused
//! (row-stacked) projections whose parts may lack a bias, and DINOv3's layer scale folded
//! into the projection before it.
//!
//! Folding: `lambda ⊙ (W x + b) = (diag(lambda) W) x + lambda ⊙ b`, so scaling the rows of
//! `o_proj`/`down_proj` once at load time removes the per-token multiply (there is no
//! elementwise-scale op). The difference to HF is rounding only: HF rounds `W x + b` to the
//! dtype, then the product; here the scaled weights are rounded once (bf16: within its
//! tolerance; f32: far below 1e-4).

use fk_baselines::reference::modules::load_tensor;
use fk_runtime::linear::Linear;
use fk_runtime::safetensors::Checkpoint;
use fk_runtime::{DType, Device, Result, Tensor};

/// `{prefix}.bias` `[len]` as host values when the checkpoint has it and `with_bias`; zeros
/// otherwise (a fused projection whose parts differ in having a bias adds zeros for them).
pub fn load_bias(ckpt: &Checkpoint, prefix: &str, len: usize, with_bias: bool) -> Result<Option<Vec<f32>>> {
    if with_bias {
        Ok(Some(load_tensor(ckpt, &format!("{prefix}.bias"), &[len])?))
    } else {
        Ok(None)
    }
}

/// `{prefix}.weight` `[out, in]` (and `.bias` when `with_bias`), each output row scaled by
/// `scale[row]` when given (a layer scale folded in, see the module doc).
#[allow(clippy::too_many_arguments)]
pub fn load_linear(ckpt: &Checkpoint, dev: &Device, prefix: &str, in_features: usize, out_features: usize, dtype: DType, with_bias: bool, scale: Option<&[f32]>) -> Result<Linear> {
    let Some(scale) = scale else {
        return Linear::load(ckpt, dev, prefix, in_features, out_features, dtype, with_bias);
    };
    let mut w = load_tensor(ckpt, &format!("{prefix}.weight"), &[out_features, in_features])?;
    for (row, &s) in w.chunks_exact_mut(in_features).zip(scale) {
        row.iter_mut().for_each(|x| *x = (*x as f64 * s as f64) as f32);
    }
    let bias = match load_bias(ckpt, prefix, out_features, with_bias)? {
        Some(mut b) => {
            b.iter_mut().zip(scale).for_each(|(x, &s)| *x = (*x as f64 * s as f64) as f32);
            Some(Tensor::from_f32(dev, &b, &[out_features], dtype)?)
        }
        None => None,
    };
    Linear::new(Tensor::from_f32(dev, &w, &[out_features, in_features], dtype)?, bias)
}

/// Projections `(prefix, out_features, has_bias)` over the same input stacked along rows into
/// one `[Σ out, in]` linear (q/k/v → qkv, gate/up → gate_up): one GEMM instead of several.
/// The bias is the parts' biases (zeros for a part without one), or none if no part has one.
pub fn load_stacked_linear(ckpt: &Checkpoint, dev: &Device, parts: &[(String, usize, bool)], in_features: usize, dtype: DType) -> Result<Linear> {
    let weights = parts.iter().map(|(p, n, _)| ckpt.load_as(dev, &format!("{p}.weight"), &[*n, in_features], dtype)).collect::<Result<Vec<_>>>()?;
    let weight = Tensor::cat_rows(&weights.iter().collect::<Vec<_>>())?;
    let bias = if parts.iter().any(|(_, _, b)| *b) {
        let mut all = Vec::with_capacity(weight.dim(0));
        for (p, n, b) in parts {
            all.extend(load_bias(ckpt, p, *n, *b)?.unwrap_or_else(|| vec![0.0; *n]));
        }
        Some(Tensor::from_f32(dev, &all, &[all.len()], dtype)?)
    } else {
        None
    };
    Linear::new(weight, bias)
}
