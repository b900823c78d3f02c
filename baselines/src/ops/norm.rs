//! rms_norm and fused_add_rms_norm (vLLM `RMSNorm.forward_cuda` without / with residual).

use super::{as_rows, launch, require_float, require_no_overlap, require_same_device, require_same_dtype};
use crate::ffi::{FusedAddRmsNormParams, RmsNormGatedParams, RmsNormParams};
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

/// Mamba-2's gated RMSNorm (HF `MambaRMSNormGated`, gate first): `out = rmsnorm_g(x·silu(z)) ·
/// weight`, normalised over groups of `group_size` channels (`hidden / ngroups` in Mamba-2).
/// x, z, out `[..., hidden]` (2-D may be row-strided), weight `[hidden]`, one float dtype;
/// `z = None` is the plain grouped RMSNorm. `out` may be `x` itself, not `z`.
pub fn rms_norm_gated(table: &OpTable, x: &Tensor, z: Option<&Tensor>, weight: &Tensor, group_size: usize, eps: f32, out: &Tensor) -> Result<()> {
    const OP: &str = "rms_norm_gated";
    require_float(OP, "x", x)?;
    require_same_dtype(OP, "out", out, x.dtype())?;
    require_same_dtype(OP, "weight", weight, x.dtype())?;
    require_same_device(OP, &[("x", x), ("weight", weight), ("out", out)])?;
    let (rows, hidden, xs) = as_rows(OP, "x", x)?;
    let (orows, ohidden, os) = as_rows(OP, "out", out)?;
    if (orows, ohidden) != (rows, hidden) {
        return Err(Error::shape(OP, format!("out {out:?} does not match x {x:?}")));
    }
    if hidden == 0 || group_size == 0 || hidden % group_size != 0 {
        return Err(Error::shape(OP, format!("hidden {hidden} (x {x:?}) is not a positive multiple of group_size {group_size}")));
    }
    if weight.shape() != [hidden] || !weight.is_contiguous() {
        return Err(Error::shape(OP, format!("weight {weight:?} must be contiguous [{hidden}]")));
    }
    if !(eps.is_finite() && eps >= 0.0) {
        return Err(Error::bad_input(OP, format!("eps {eps} must be finite and >= 0")));
    }
    if rows * (hidden / group_size) > i32::MAX as usize {
        return Err(Error::shape(OP, format!("{rows} rows x {} groups exceed 2^31-1 blocks", hidden / group_size)));
    }
    let mut zs = 0;
    if let Some(z) = z {
        require_same_dtype(OP, "z", z, x.dtype())?;
        require_same_device(OP, &[("x", x), ("z", z)])?;
        let (zr, zh, s) = as_rows(OP, "z", z)?;
        if (zr, zh) != (rows, hidden) {
            return Err(Error::shape(OP, format!("z {z:?} does not match x {x:?}")));
        }
        require_no_overlap(OP, ("out", out), ("z", z))?;
        zs = s;
    }
    // In place (out is x, same rows) is fine: each element is read before it is written, by
    // the same thread. Any other overlap with x is not.
    if !super::conv1d::same_tensor(out, x) {
        require_no_overlap(OP, ("out", out), ("x", x))?;
    }
    require_no_overlap(OP, ("out", out), ("weight", weight))?;
    let p = RmsNormGatedParams {
        out: out.ptr(),
        x: x.ptr(),
        z: z.map_or(0, |t| t.ptr()),
        weight: weight.ptr(),
        rows: rows as i64,
        hidden: hidden as i64,
        group_size: group_size as i64,
        x_stride: xs as i64,
        z_stride: zs as i64,
        out_stride: os as i64,
        eps,
        dtype: x.dtype().code(),
    };
    launch(table, OpId::RmsNormGated, x.device(), &p, || format!("x {x:?}, z {z:?}, weight {weight:?}, group_size {group_size}, out {out:?}"))
}
