//! embedding (HF `nn.Embedding`, vLLM `VocabParallelEmbedding` at tp=1).

use super::{as_rows, launch, require_float, require_same_device, require_same_dtype, DeviceStatus};
use crate::ffi::EmbeddingParams;
use crate::table::{OpId, OpTable};
use fk_runtime::{DType, Error, Result, Tensor};

/// `out[t] = weight[ids[t]]`, enqueued without a sync. Out-of-range ids give zero rows and
/// are recorded in `status`; use [`embedding_checked`] to turn them into an error.
pub fn embedding(table: &OpTable, ids: &Tensor, weight: &Tensor, out: &Tensor, status: &DeviceStatus) -> Result<()> {
    const OP: &str = "embedding";
    require_float(OP, "weight", weight)?;
    require_same_dtype(OP, "out", out, weight.dtype())?;
    require_same_device(OP, &[("ids", ids), ("weight", weight), ("out", out)])?;
    if !matches!(ids.dtype(), DType::I32 | DType::I64) || !ids.is_contiguous() {
        return Err(Error::dtype(OP, format!("ids {ids:?} must be contiguous i32 or i64")));
    }
    if weight.rank() != 2 || !weight.is_contiguous() {
        return Err(Error::shape(OP, format!("weight {weight:?} must be contiguous [vocab, hidden]")));
    }
    let (vocab, hidden) = (weight.dim(0), weight.dim(1));
    let tokens = ids.numel();
    let (out_rows, out_hidden, out_stride) = as_rows(OP, "out", out)?;
    if out_rows != tokens || out_hidden != hidden {
        return Err(Error::shape(OP, format!("out {out:?} must be [{tokens}, {hidden}] for ids {ids:?}")));
    }
    let p = EmbeddingParams {
        out: out.ptr(),
        ids: ids.ptr(),
        weight: weight.ptr(),
        status: status.ptr(),
        tokens: tokens as i64,
        hidden: hidden as i64,
        vocab: vocab as i64,
        out_stride: out_stride as i64,
        ids_dtype: ids.dtype().code(),
        dtype: weight.dtype().code(),
    };
    launch(table, OpId::Embedding, weight.device(), &p, || format!("ids {ids:?}, weight {weight:?}, out {out:?}"))
}

/// [`embedding`], then wait and fail with `BadInput` naming the first out-of-range id.
pub fn embedding_checked(table: &OpTable, ids: &Tensor, weight: &Tensor, out: &Tensor, status: &DeviceStatus) -> Result<()> {
    embedding(table, ids, weight, out, status)?;
    let vocab = weight.dim(0);
    status.check("embedding", |row| {
        let id = ids.narrow(0, row as usize, 1).and_then(|t| t.to_i64()).ok().and_then(|v| v.first().copied());
        match id {
            Some(id) => format!("token {row} has id {id}, outside the vocabulary [0, {vocab})"),
            None => format!("token {row} has an id outside the vocabulary [0, {vocab})"),
        }
    })
}
