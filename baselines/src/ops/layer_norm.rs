//! layer_norm (`nn.LayerNorm`), alone or fused with the residual add before it.

use super::norm::check_weight_eps;
use super::{as_rows, launch, require_float, require_no_overlap, require_same_device, require_same_dtype};
use crate::ffi::LayerNormParams;
use crate::table::{OpId, OpTable};
use fk_runtime::{Error, Result, Tensor};

const OP: &str = "layer_norm";

/// `out = layer_norm(input) * weight (+ bias)`; `input`/`out` are `[..., hidden]` (2-D may be
/// row-strided). `out` may be `input` itself. `bias = None` is `LayerNorm(bias=False)`.
pub fn layer_norm(table: &OpTable, input: &Tensor, weight: &Tensor, bias: Option<&Tensor>, eps: f32, out: &Tensor) -> Result<()> {
    run(table, input, None, weight, bias, eps, out)
}

/// `residual = input + residual` (rounded to the dtype, in place), then
/// `out = layer_norm(residual) * weight (+ bias)`: a pre-LN block's `h = h + x; ln(h)` in one pass.
/// `out` may be `input`; `residual` must overlap neither.
pub fn fused_add_layer_norm(table: &OpTable, input: &Tensor, residual: &Tensor, weight: &Tensor, bias: Option<&Tensor>, eps: f32, out: &Tensor) -> Result<()> {
    run(table, input, Some(residual), weight, bias, eps, out)
}

fn run(table: &OpTable, input: &Tensor, residual: Option<&Tensor>, weight: &Tensor, bias: Option<&Tensor>, eps: f32, out: &Tensor) -> Result<()> {
    require_float(OP, "input", input)?;
    require_same_dtype(OP, "out", out, input.dtype())?;
    let mut on = vec![("input", input), ("weight", weight), ("out", out)];
    let (rows, hidden, in_stride) = as_rows(OP, "input", input)?;
    let (out_rows, out_hidden, out_stride) = as_rows(OP, "out", out)?;
    if (out_rows, out_hidden) != (rows, hidden) {
        return Err(Error::shape(OP, format!("out {out:?} does not match input {input:?}")));
    }
    // Exactly in place is fine (a row is in registers before it is stored); a shifted overlap is not.
    if out.ptr() != input.ptr() || out_stride != in_stride {
        require_no_overlap(OP, ("out", out), ("input", input))?;
    }
    check_weight_eps(OP, input, weight, hidden, eps)?;
    if let Some(b) = bias {
        require_same_dtype(OP, "bias", b, input.dtype())?;
        if b.shape() != [hidden] || !b.is_contiguous() {
            return Err(Error::shape(OP, format!("bias {b:?} must be contiguous [{hidden}] (hidden of input {input:?})")));
        }
        on.push(("bias", b));
    }
    let mut res_stride = 0;
    if let Some(r) = residual {
        require_same_dtype(OP, "residual", r, input.dtype())?;
        let (r_rows, r_hidden, rs) = as_rows(OP, "residual", r)?;
        if (r_rows, r_hidden) != (rows, hidden) {
            return Err(Error::shape(OP, format!("residual {r:?} does not match input {input:?}")));
        }
        require_no_overlap(OP, ("residual", r), ("input", input))?;
        require_no_overlap(OP, ("residual", r), ("out", out))?;
        on.push(("residual", r));
        res_stride = rs;
    }
    require_same_device(OP, &on)?;
    let p = LayerNormParams {
        out: out.ptr(),
        input: input.ptr(),
        residual: residual.map_or(0, |r| r.ptr()),
        weight: weight.ptr(),
        bias: bias.map_or(0, |b| b.ptr()),
        rows: rows as i64,
        hidden: hidden as i64,
        input_stride: in_stride as i64,
        out_stride: out_stride as i64,
        residual_stride: res_stride as i64,
        eps,
        dtype: input.dtype().code(),
    };
    launch(table, OpId::LayerNorm, input.device(), &p, || {
        format!("input {input:?}, residual {residual:?}, weight {weight:?}, bias {bias:?}, out {out:?}, eps {eps}")
    })
}
