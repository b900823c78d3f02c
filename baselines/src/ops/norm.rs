//! rms_norm and fused_add_rms_norm (vLLM `RMSNorm.forward_cuda` without / with residual).

use super::{as_rows, launch, require_float, require_no_overlap, require_same_device, require_same_dtype};
use crate::ffi::{FusedAddRmsNormParams, RmsNormParams};
use crate::table::{OpId, OpTable};
use fk_runtime::{Error, Result, Tensor};

/// The kernels hold a row in registers: 512 threads x 8 vectors x 16 bytes (32768 bf16).
/// Must equal `FK_RMS_NORM_MAX_HIDDEN_BYTES` in include/fk/ops/rms_norm.h (tested).
pub const MAX_HIDDEN_BYTES: usize = 512 * 8 * 16;

pub(super) fn check_weight_eps(op: &str, input: &Tensor, weight: &Tensor, hidden: usize, eps: f32) -> Result<()> {
    require_same_dtype(op, "weight", weight, input.dtype())?;
    if weight.shape() != [hidden] || !weight.is_contiguous() {
        return Err(Error::shape(op, format!("weight {weight:?} must be contiguous [{hidden}] (hidden of input {input:?})")));
    }
    if !(eps.is_finite() && eps >= 0.0) {
        return Err(Error::bad_input(op, format!("eps {eps} must be finite and >= 0")));
    }
    if hidden == 0 || hidden * input.dtype().size() > MAX_HIDDEN_BYTES {
        return Err(Error::shape(
            op,
            format!("hidden {hidden} of {} is outside 1..={}", input.dtype(), MAX_HIDDEN_BYTES / input.dtype().size()),
        ));
    }
    Ok(())
}

/// `out = rms_norm(input) * weight`; `input`/`out` are `[..., hidden]` (2-D may be row-strided).
/// `out` may be `input` itself (each row is read completely before it is written).
pub fn rms_norm(table: &OpTable, input: &Tensor, weight: &Tensor, eps: f32, out: &Tensor) -> Result<()> {
    const OP: &str = "rms_norm";
    require_float(OP, "input", input)?;
    require_same_dtype(OP, "out", out, input.dtype())?;
    require_same_device(OP, &[("input", input), ("weight", weight), ("out", out)])?;
    let (rows, hidden, in_stride) = as_rows(OP, "input", input)?;
    let (out_rows, out_hidden, out_stride) = as_rows(OP, "out", out)?;
    if (out_rows, out_hidden) != (rows, hidden) {
        return Err(Error::shape(OP, format!("out {out:?} does not match input {input:?}")));
    }
    check_weight_eps(OP, input, weight, hidden, eps)?;
    let p = RmsNormParams {
        out: out.ptr(),
        input: input.ptr(),
        weight: weight.ptr(),
        rows: rows as i64,
        hidden: hidden as i64,
        input_stride: in_stride as i64,
        out_stride: out_stride as i64,
        eps,
        dtype: input.dtype().code(),
    };
    launch(table, OpId::RmsNorm, input.device(), &p, || format!("input {input:?}, weight {weight:?}, out {out:?}, eps {eps}"))
}

/// In place: `residual = input + residual; input = rms_norm(residual) * weight`.
pub fn fused_add_rms_norm(table: &OpTable, input: &Tensor, residual: &Tensor, weight: &Tensor, eps: f32) -> Result<()> {
    const OP: &str = "fused_add_rms_norm";
    require_float(OP, "input", input)?;
    require_same_dtype(OP, "residual", residual, input.dtype())?;
    require_same_device(OP, &[("input", input), ("residual", residual), ("weight", weight)])?;
    require_no_overlap(OP, ("input", input), ("residual", residual))?;
    let (rows, hidden, in_stride) = as_rows(OP, "input", input)?;
    let (r_rows, r_hidden, r_stride) = as_rows(OP, "residual", residual)?;
    if (r_rows, r_hidden) != (rows, hidden) {
        return Err(Error::shape(OP, format!("residual {residual:?} does not match input {input:?}")));
    }
    check_weight_eps(OP, input, weight, hidden, eps)?;
    let p = FusedAddRmsNormParams {
        input: input.ptr(),
        residual: residual.ptr(),
        weight: weight.ptr(),
        rows: rows as i64,
        hidden: hidden as i64,
        input_stride: in_stride as i64,
        residual_stride: r_stride as i64,
        eps,
        dtype: input.dtype().code(),
    };
    launch(table, OpId::FusedAddRmsNorm, input.device(), &p, || {
        format!("input {input:?}, residual {residual:?}, weight {weight:?}, eps {eps}")
    })
}
