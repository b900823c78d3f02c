//! pool: one vector per sequence (masked mean or CLS, optionally L2-normalised).

use super::{as_rows, launch, require_float, require_no_overlap, require_same_device, require_same_dtype};
use crate::ffi::{PoolParams, POOL_MAX_HIDDEN};
use crate::table::{OpId, OpTable};
use fk_runtime::{DType, Error, Result, Tensor};

/// sentence-transformers `Pooling(mean)` over the real tokens, or the first (CLS) token.
/// Values are `FK_POOL_*` of include/fk/ops/pool.h.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pooling {
    Mean = 0,
    Cls = 1,
}

/// `out` `[batch, hidden]` (rows may be strided) from `input` `[batch, seq, hidden]`
/// (contiguous); `mask` `[batch, seq]` i32 or i64 (HF `attention_mask`, nonzero = real; `None`:
/// every token real; ignored for CLS); `normalize` applies `F.normalize(p=2, dim=-1)`.
pub fn pool(table: &OpTable, input: &Tensor, mask: Option<&Tensor>, mode: Pooling, normalize: bool, out: &Tensor) -> Result<()> {
    const OP: &str = "pool";
    require_float(OP, "input", input)?;
    require_same_dtype(OP, "out", out, input.dtype())?;
    if input.rank() != 3 || !input.is_contiguous() || input.dim(1) == 0 || input.dim(2) == 0 {
        return Err(Error::shape(OP, format!("input {input:?} must be contiguous [batch, seq, hidden]")));
    }
    let (batch, seq, hidden) = (input.dim(0), input.dim(1), input.dim(2));
    if hidden > POOL_MAX_HIDDEN {
        return Err(Error::shape(OP, format!("hidden {hidden} exceeds {POOL_MAX_HIDDEN}")));
    }
    if out.rank() != 2 {
        return Err(Error::shape(OP, format!("out {out:?} must be 2-D [{batch}, {hidden}]")));
    }
    let (orows, ocols, ostride) = as_rows(OP, "out", out)?;
    if (orows, ocols) != (batch, hidden) {
        return Err(Error::shape(OP, format!("out {out:?} must be [{batch}, {hidden}] for input {input:?}")));
    }
    require_no_overlap(OP, ("out", out), ("input", input))?;
    let mut on = vec![("input", input), ("out", out)];
    if let Some(m) = mask {
        if !matches!(m.dtype(), DType::I32 | DType::I64) {
            return Err(Error::dtype(OP, format!("mask is {}, expected i32 or i64 (attention_mask)", m.dtype())));
        }
        if m.shape() != [batch, seq] || !m.is_contiguous() {
            return Err(Error::shape(OP, format!("mask {m:?} must be contiguous [{batch}, {seq}]")));
        }
        on.push(("mask", m));
    }
    require_same_device(OP, &on)?;
    if batch > i32::MAX as usize {
        return Err(Error::shape(OP, format!("batch {batch} exceeds 2^31 - 1")));
    }
    let p = PoolParams {
        out: out.ptr(),
        input: input.ptr(),
        mask: mask.map_or(0, |m| m.ptr()),
        batch: batch as i64,
        seq: seq as i64,
        hidden: hidden as i64,
        out_stride: ostride as i64,
        mode: mode as i32,
        normalize: normalize as i32,
        mask_dtype: mask.map_or(DType::I32, |m| m.dtype()).code(),
        dtype: input.dtype().code(),
    };
    launch(table, OpId::Pool, input.device(), &p, || format!("input {input:?}, mask {mask:?}, {mode:?}, normalize {normalize}, out {out:?}"))
}
