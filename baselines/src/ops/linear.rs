//! Linear layers (`F.linear`, HF `*_proj`): decode-sized inputs run the `skinny_gemm` op from the
//! op table, which streams the weight at the bandwidth roofline; more rows run cuBLASLt.

use super::{as_rows, launch, require_float, require_no_overlap, require_same_device, require_same_dtype};
use crate::context::Context;
use crate::ffi::{SkinnyGemmParams, SKINNY_GEMM_MAX_ROWS, SKINNY_GEMM_MAX_ROWS_F32, SKINNY_GEMM_WORKSPACE_BYTES};
use crate::table::{OpId, OpTable};
use fk_runtime::linear::Linear;
use fk_runtime::device::DeviceBuffer;
use fk_runtime::{DType, Device, Error, Result, Tensor};

/// Scratch that lets `skinny_gemm` split k across blocks (fp32 partials and counters), zeroed
/// once: every launch leaves it as it found it. Used in stream order by one stream.
pub struct SkinnyWorkspace {
    buf: DeviceBuffer,
}

impl SkinnyWorkspace {
    pub fn new(device: &Device) -> Result<SkinnyWorkspace> {
        let buf = device.alloc(SKINNY_GEMM_WORKSPACE_BYTES)?;
        device.memset(buf.ptr(), 0, buf.bytes())?;
        Ok(SkinnyWorkspace { buf })
    }
}

/// Most rows `skinny_gemm` takes in `dtype`.
pub fn skinny_gemm_max_rows(dtype: DType) -> usize {
    if dtype == DType::F32 {
        SKINNY_GEMM_MAX_ROWS_F32
    } else {
        SKINNY_GEMM_MAX_ROWS
    }
}

/// `out[m, n] = x[m, :] · weight[n, :] (+ bias[n])` for at most [`skinny_gemm_max_rows`] rows.
/// `x` and `out` are 2-D (rows may be strided views); `weight` `[n, k]` contiguous. With a
/// `workspace` the kernel may split k across blocks (faster for weights with few rows).
pub fn skinny_gemm(table: &OpTable, x: &Tensor, weight: &Tensor, bias: Option<&Tensor>, out: &Tensor, workspace: Option<&SkinnyWorkspace>) -> Result<()> {
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
    let max_rows = skinny_gemm_max_rows(x.dtype());
    if rows > max_rows {
        return Err(Error::shape(OP, format!("{rows} rows; this op takes at most {max_rows} in {} (use a GEMM)", x.dtype())));
    }
    if let Some(ws) = workspace {
        if !ws.buf.device().same_as(x.device()) {
            return Err(Error::shape(OP, "workspace is on another device than x".to_string()));
        }
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
    let p = SkinnyGemmParams {
        out: out.ptr(),
        x: x.ptr(),
        weight: weight.ptr(),
        bias: bias.map_or(0, |b| b.ptr()),
        rows: rows as i64,
        n: n as i64,
        k: k as i64,
        x_stride: xs as i64,
        out_stride: os as i64,
        workspace: workspace.map_or(0, |w| w.buf.ptr()),
        workspace_bytes: workspace.map_or(0, |w| w.buf.bytes() as i64),
        dtype: x.dtype().code(),
        pad_: 0,
    };
    launch(table, OpId::SkinnyGemm, x.device(), &p, || format!("x {x:?}, weight {weight:?}, out {out:?}"))
}

/// Most rows [`linear`] sends to `skinny_gemm` in `dtype` (cuBLASLt above): 1. Measured on
/// the H200 (results/h200/run7-skinny-tc): at 1 row the CUDA-core GEMV beats cuBLASLt at
/// Llama-3.1-8B's decode shapes; the tensor-core kernel for 2..64 rows does not yet beat
/// cuBLASLt (decode step at batch 32: 15.3 ms through it vs 5.95 ms through cuBLASLt).
/// `FK_SKINNY_LINEAR_ROWS=<n>` raises it for 16-bit types (A/B runs on the device).
pub fn skinny_linear_rows(dtype: DType) -> usize {
    static OVERRIDE: std::sync::OnceLock<Option<usize>> = std::sync::OnceLock::new();
    if dtype == DType::F32 {
        return 1;
    }
    OVERRIDE.get_or_init(|| std::env::var("FK_SKINNY_LINEAR_ROWS").ok().and_then(|v| v.parse().ok())).unwrap_or(1).clamp(1, SKINNY_GEMM_MAX_ROWS)
}

/// Whether [`linear`] would run `skinny_gemm` for this input.
pub fn takes_skinny_path(x: &Tensor, lin: &Linear) -> bool {
    let v = 16 / x.dtype().size().max(1);
    x.rank() == 2
        && x.dim(0) <= skinny_linear_rows(x.dtype())
        && lin.in_features() % v == 0
        && x.ptr() % 16 == 0
        && lin.weight.ptr() % 16 == 0
        && x.row_stride("linear").is_ok_and(|s| s % v == 0)
}

/// A linear layer as the modules run it: `skinny_gemm` (from `ctx`'s op table, so a candidate
/// can replace it) for decode-sized inputs, cuBLASLt otherwise.
pub fn linear(ctx: &Context, x: &Tensor, lin: &Linear, out: &Tensor) -> Result<()> {
    if takes_skinny_path(x, lin) && out.rank() == 2 {
        skinny_gemm(&ctx.ops, x, &lin.weight, lin.bias.as_ref(), out, Some(&ctx.skinny_workspace))
    } else {
        lin.forward_into(&ctx.gemm, x, out)
    }
}
