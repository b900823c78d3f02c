//! silu_and_mul and gelu_and_mul: `out[..., d] = act(input[..., :d]) * input[..., d:]`.

use super::{as_rows, launch, require_float, require_no_overlap, require_same_device, require_same_dtype};
use crate::ffi::ActAndMulParams;
use crate::table::{OpId, OpTable};
use fk_runtime::{Error, Result, Tensor};

/// vLLM `GeluAndMul(approximate=...)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GeluApprox {
    /// exact: 0.5 x (1 + erf(x/√2))
    None,
    /// 0.5 x (1 + tanh(√(2/π)(x + 0.044715 x³)))
    Tanh,
}

fn gated(table: &OpTable, op: OpId, input: &Tensor, out: &Tensor, approximate: i32) -> Result<()> {
    let name = op.name();
    require_float(name, "input", input)?;
    require_same_dtype(name, "out", out, input.dtype())?;
    require_same_device(name, &[("input", input), ("out", out)])?;
    require_no_overlap(name, ("input", input), ("out", out))?;
    let (rows, two_d, in_stride) = as_rows(name, "input", input)?;
    let (out_rows, d, out_stride) = as_rows(name, "out", out)?;
    if two_d % 2 != 0 || two_d == 0 {
        return Err(Error::shape(name, format!("input {input:?}: last dim must be 2*d (gate then up), got {two_d}")));
    }
    if out_rows != rows || d * 2 != two_d {
        return Err(Error::shape(name, format!("out {out:?} must be [..., {}] for input {input:?}", two_d / 2)));
    }
    let p = ActAndMulParams {
        out: out.ptr(),
        input: input.ptr(),
        rows: rows as i64,
        d: d as i64,
        input_stride: in_stride as i64,
        out_stride: out_stride as i64,
        dtype: input.dtype().code(),
        approximate,
    };
    launch(table, op, input.device(), &p, || format!("input {input:?}, out {out:?}"))
}

pub fn silu_and_mul(table: &OpTable, input: &Tensor, out: &Tensor) -> Result<()> {
    gated(table, OpId::SiluAndMul, input, out, 0)
}

pub fn gelu_and_mul(table: &OpTable, input: &Tensor, out: &Tensor, approximate: GeluApprox) -> Result<()> {
    gated(table, OpId::GeluAndMul, input, out, (approximate == GeluApprox::Tanh) as i32)
}
