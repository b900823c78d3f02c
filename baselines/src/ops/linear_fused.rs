//! A pre-norm block's RMSNorm and residual add folded into its decode GEMVs (`skinny_gemm`'s
//! input-norm prologue and `FK_SKINNY_GEMM_ACCUMULATE`, include/fk/ops/skinny_gemm.h):
//! `rms_norm(x) · Wᵀ` and `residual += y · Wᵀ` each in one kernel, with the arithmetic of the
//! separate ops (`rms_norm` then `linear`; `linear` then `fused_add_rms_norm`'s add). They exist
//! for the batch-1 decode step, where every launch on the step's dependent chain costs a few
//! microseconds of idle HBM; they run on the `skinny_gemm` path only (see [`fusable`]), and a
//! caller outside it gets an error, never a silent fallback.

use super::linear::{skinny_params, takes_skinny_path, WeightSource};
use super::{launch, require_same_device, require_same_dtype};
use crate::context::Context;
use crate::ffi::{SkinnyGemmParams, SKINNY_GEMM_ACCUMULATE, SKINNY_GEMM_NORM_MAX_BYTES, SKINNY_GEMM_NORM_MAX_ROWS};
use crate::table::{OpId, OpTable};
use fk_runtime::linear::Linear;
use fk_runtime::{Error, Result, Tensor};

/// An RMSNorm over each input row, computed inside the GEMV: `weight` `[in_features]`, `eps`.
#[derive(Clone, Copy, Debug)]
pub struct InputNorm<'a> {
    pub weight: &'a Tensor,
    pub eps: f32,
}

/// What a `skinny_gemm` does around its product: normalise its input rows first, and/or add
/// its (rounded) product into `out` instead of overwriting it.
#[derive(Clone, Copy, Debug, Default)]
pub struct SkinnyFusion<'a> {
    pub input_norm: Option<InputNorm<'a>>,
    pub accumulate: bool,
}

/// Whether the fused forms apply to `x` (`[rows, in_features]`) and `lin`: the `skinny_gemm`
/// path, and with an input norm, rows small enough for the kernel's shared memory.
pub fn fusable(x: &Tensor, lin: &Linear, input_norm: bool) -> bool {
    let rows = x.dim(0);
    takes_skinny_path(x, lin) && (!input_norm || (rows <= SKINNY_GEMM_NORM_MAX_ROWS && rows * lin.in_features() * x.dtype().size() <= SKINNY_GEMM_NORM_MAX_BYTES))
}

/// `skinny_gemm` with `fusion` (the op table's launcher, so a candidate replaces it too).
pub fn skinny_gemm_fused(table: &OpTable, x: &Tensor, weight: &Tensor, bias: Option<&Tensor>, out: &Tensor, source: WeightSource, fusion: &SkinnyFusion) -> Result<()> {
    let mut p = skinny_params(x, weight, bias, out, source)?;
    apply_fusion(&mut p, x, fusion)?;
    launch(table, OpId::SkinnyGemm, x.device(), &p, || format!("x {x:?}, weight {weight:?}, out {out:?}, {fusion:?}"))
}

/// Check `fusion` against `x` and set its fields of `p` (filled by `skinny_params`).
pub(crate) fn apply_fusion(p: &mut SkinnyGemmParams, x: &Tensor, fusion: &SkinnyFusion) -> Result<()> {
    const OP: &str = "skinny_gemm";
    if let Some(norm) = fusion.input_norm {
        let (rows, k) = (p.rows as usize, p.k as usize);
        require_same_dtype(OP, "norm weight", norm.weight, x.dtype())?;
        require_same_device(OP, &[("x", x), ("norm weight", norm.weight)])?;
        if norm.weight.shape() != [k] || !norm.weight.is_contiguous() || norm.weight.ptr() % 16 != 0 {
            return Err(Error::shape(OP, format!("norm weight {:?} must be a contiguous, 16-byte aligned [{k}]", norm.weight)));
        }
        if !(norm.eps >= 0.0 && norm.eps.is_finite()) {
            return Err(Error::bad_input(OP, format!("norm eps {} must be finite and >= 0", norm.eps)));
        }
        let bytes = rows * k * x.dtype().size();
        if rows > SKINNY_GEMM_NORM_MAX_ROWS || bytes > SKINNY_GEMM_NORM_MAX_BYTES {
            return Err(Error::shape(OP, format!("{rows} rows of {k} to normalise ({bytes} bytes); the kernel takes at most {SKINNY_GEMM_NORM_MAX_ROWS} rows and {SKINNY_GEMM_NORM_MAX_BYTES} bytes")));
        }
        p.norm_weight = norm.weight.ptr();
        p.norm_eps = norm.eps;
    }
    if fusion.accumulate {
        p.flags |= SKINNY_GEMM_ACCUMULATE;
    }
    Ok(())
}

/// The error of a fused form called off the `skinny_gemm` path.
pub(crate) fn not_fusable(op: &str, x: &Tensor, lin: &Linear) -> Error {
    Error::bad_input(op, format!("x {x:?} with weight {:?} does not take the one-row GEMV; run the norm / add and `linear` separately", lin.weight))
}

/// `out = rms_norm(x, norm) · lin.weightᵀ (+ bias)` in one kernel, for inputs [`fusable`]
/// with a norm.
pub fn rms_norm_linear(ctx: &Context, x: &Tensor, norm: InputNorm, lin: &Linear, out: &Tensor) -> Result<()> {
    if !fusable(x, lin, true) {
        return Err(not_fusable("rms_norm_linear", x, lin));
    }
    let fusion = SkinnyFusion { input_norm: Some(norm), accumulate: false };
    skinny_gemm_fused(&ctx.ops, x, &lin.weight, lin.bias.as_ref(), out, WeightSource::Parameter, &fusion)
}

/// `out += x · lin.weightᵀ (+ bias)` (the product rounded to the dtype, then the sum), in one
/// kernel, for inputs [`fusable`]: a block's last projection and its residual add.
pub fn linear_accumulate(ctx: &Context, x: &Tensor, lin: &Linear, out: &Tensor) -> Result<()> {
    if !fusable(x, lin, false) {
        return Err(not_fusable("linear_accumulate", x, lin));
    }
    let fusion = SkinnyFusion { input_norm: None, accumulate: true };
    skinny_gemm_fused(&ctx.ops, x, &lin.weight, lin.bias.as_ref(), out, WeightSource::Parameter, &fusion)
}
