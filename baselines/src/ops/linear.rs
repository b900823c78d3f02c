//! Linear layers (`F.linear`, HF `*_proj`): a single row (batch-1 decode) runs the `skinny_gemm` op from the
//! op table, which streams the weight at the bandwidth roofline; more rows run cuBLASLt.

use super::{as_rows, launch, require_float, require_no_overlap, require_same_device, require_same_dtype};
use crate::context::Context;
use crate::ffi::{SkinnyGemmParams, SKINNY_GEMM_MAX_ROWS, SKINNY_GEMM_STREAM, SKINNY_GEMM_WEIGHT_SETTLED};
use crate::table::{OpId, OpTable};
use fk_runtime::linear::Linear;
use fk_runtime::{Error, Result, Tensor};

/// `out[m, n] = x[m, :] · weight[n, :] (+ bias[n])` for at most [`SKINNY_GEMM_MAX_ROWS`] rows.
/// `x` and `out` are 2-D (rows may be strided views); `weight` `[n, k]` contiguous.
pub fn skinny_gemm(table: &OpTable, x: &Tensor, weight: &Tensor, bias: Option<&Tensor>, out: &Tensor) -> Result<()> {
    skinny_gemm_with(table, x, weight, bias, out, WeightSource::Any)
}

/// Where a [`skinny_gemm`] weight comes from: what decides whether the kernel may read it
/// before the previous kernel on the stream has finished (`FK_SKINNY_GEMM_WEIGHT_SETTLED`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WeightSource {
    /// Possibly written by the launch just before: read only after it completes.
    Any,
    /// A model parameter, unchanged while the model runs (a [`Linear`]'s weight): the first
    /// weight loads overlap the previous kernel's tail.
    Parameter,
    /// A model parameter, run on the streaming kernel where it applies
    /// (`FK_SKINNY_GEMM_STREAM`): a call site's choice, measured per model (run 46: Mamba-2's
    /// decode step 4408 -> 4237 us; Mamba-1's unchanged; Llama's 3 % slower).
    StreamedParameter,
}

/// [`skinny_gemm`] with the weight's [`WeightSource`] stated.
pub fn skinny_gemm_with(table: &OpTable, x: &Tensor, weight: &Tensor, bias: Option<&Tensor>, out: &Tensor, source: WeightSource) -> Result<()> {
    let p = skinny_params(x, weight, bias, out, source)?;
    launch(table, OpId::SkinnyGemm, x.device(), &p, || format!("x {x:?}, weight {weight:?}, out {out:?}"))
}

/// The checked launch parameters of a [`skinny_gemm_with`] call (no epilogue).
pub(crate) fn skinny_params(x: &Tensor, weight: &Tensor, bias: Option<&Tensor>, out: &Tensor, source: WeightSource) -> Result<SkinnyGemmParams> {
    const OP: &str = "skinny_gemm";
    require_float(OP, "x", x)?;
    require_same_dtype(OP, "weight", weight, x.dtype())?;
    require_same_dtype(OP, "out", out, x.dtype())?;
    let mut on = vec![("x", x), ("weight", weight), ("out", out)];
    if let Some(b) = bias {
        require_same_dtype(OP, "bias", b, x.dtype())?;
        on.push(("bias", b));
    }
    require_same_device(OP, &on)?;
    if weight.rank() != 2 || !weight.is_contiguous() {
        return Err(Error::shape(OP, format!("weight {weight:?} must be contiguous [out_features, in_features]")));
    }
    let (n, k) = (weight.dim(0), weight.dim(1));
    if x.rank() != 2 || out.rank() != 2 {
        return Err(Error::shape(OP, format!("x {x:?} and out {out:?} must be 2-D")));
    }
    let (rows, xk, xs) = as_rows(OP, "x", x)?;
    let (orows, on_, os) = as_rows(OP, "out", out)?;
    if xk != k || orows != rows || on_ != n {
        return Err(Error::shape(OP, format!("x {x:?} · weight {weight:?}ᵀ does not give out {out:?}")));
    }
    if rows > SKINNY_GEMM_MAX_ROWS {
        return Err(Error::shape(OP, format!("{rows} rows; this op takes at most {SKINNY_GEMM_MAX_ROWS} (use a GEMM)")));
    }
    if let Some(b) = bias {
        if b.shape() != [n] || !b.is_contiguous() {
            return Err(Error::shape(OP, format!("bias {b:?} must be a contiguous [{n}]")));
        }
    }
    let v = 16 / x.dtype().size();
    if k % v != 0 || xs % v != 0 || x.ptr() % 16 != 0 || weight.ptr() % 16 != 0 {
        return Err(Error::shape(OP, format!("in_features {k}, x row stride {xs} and both base addresses must allow 16-byte loads ({v} elements)")));
    }
    for (what, t) in [("x", x), ("weight", weight)] {
        require_no_overlap(OP, ("out", out), (what, t))?;
    }
    Ok(SkinnyGemmParams {
        out: out.ptr(),
        x: x.ptr(),
        weight: weight.ptr(),
        bias: bias.map_or(0, |b| b.ptr()),
        rows: rows as i64,
        n: n as i64,
        k: k as i64,
        x_stride: xs as i64,
        out_stride: os as i64,
        dtype: x.dtype().code(),
        flags: match source {
            WeightSource::Any => 0,
            WeightSource::Parameter => SKINNY_GEMM_WEIGHT_SETTLED,
            WeightSource::StreamedParameter => SKINNY_GEMM_WEIGHT_SETTLED | SKINNY_GEMM_STREAM,
        },
        ..SkinnyGemmParams::default()
    })
}

/// Most rows [`linear`] sends to `skinny_gemm`. Measured on the H100 at Llama-3.1-8B's decode
/// shapes (experiments/skinny_gemm, results/h100): at 1 row the op beats cuBLASLt (qkv 26 vs
/// 36 µs, o_proj 20 vs 42 µs, lm_head 360 vs 389 µs, equal on gate_up/down); at 2+ rows
/// cuBLASLt's tensor-core kernels already stream the weight at the same rate and win.
pub const SKINNY_LINEAR_ROWS: usize = 1;

/// Whether [`linear`] would run `skinny_gemm` for this input.
pub fn takes_skinny_path(x: &Tensor, lin: &Linear) -> bool {
    let v = 16 / x.dtype().size().max(1);
    x.rank() == 2
        && x.dim(0) <= SKINNY_LINEAR_ROWS.min(SKINNY_GEMM_MAX_ROWS)
        && lin.in_features() % v == 0
        && x.ptr() % 16 == 0
        && lin.weight.ptr() % 16 == 0
        && x.row_stride("linear").is_ok_and(|s| s % v == 0)
}

/// A linear layer as the modules run it: `skinny_gemm` (from `ctx`'s op table, so a candidate
/// can replace it) for decode-sized inputs, cuBLASLt otherwise.
pub fn linear(ctx: &Context, x: &Tensor, lin: &Linear, out: &Tensor) -> Result<()> {
    linear_from(ctx, x, lin, out, WeightSource::Parameter)
}

/// [`linear`] whose decode rows ask for the streaming GEMV ([`WeightSource::StreamedParameter`]).
pub fn linear_streamed(ctx: &Context, x: &Tensor, lin: &Linear, out: &Tensor) -> Result<()> {
    linear_from(ctx, x, lin, out, WeightSource::StreamedParameter)
}

fn linear_from(ctx: &Context, x: &Tensor, lin: &Linear, out: &Tensor, source: WeightSource) -> Result<()> {
    if takes_skinny_path(x, lin) && out.rank() == 2 {
        skinny_gemm_with(&ctx.ops, x, &lin.weight, lin.bias.as_ref(), out, source)
    } else {
        lin.forward_into(&ctx.gemm, x, out)
    }
}

/// [`linear`] then `gelu(approximate="tanh")` (HF `gelu_pytorch_tanh`; SigLIP's MLP): on the
/// cuBLASLt path the GELU runs in the GEMM's epilogue, so the intermediate activation is
/// written once instead of written, read back and written again by the `gelu` op (run 21:
/// 41 µs per SigLIP-2 layer at 8192 tokens, 7.5% of a throughput batch). Decode-sized inputs
/// take `skinny_gemm` and the `gelu` op as before.
pub fn linear_gelu_tanh(ctx: &Context, x: &Tensor, lin: &Linear, out: &Tensor) -> Result<()> {
    if takes_skinny_path(x, lin) && out.rank() == 2 {
        skinny_gemm_with(&ctx.ops, x, &lin.weight, lin.bias.as_ref(), out, WeightSource::Parameter)?;
        super::gelu(&ctx.ops, out, out, super::GeluMode::Tanh)
    } else {
        ctx.gemm.linear_gelu_tanh(x, &lin.weight, lin.bias.as_ref(), out)
    }
}
