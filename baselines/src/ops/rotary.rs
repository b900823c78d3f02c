//! rotary_embedding (vLLM `RotaryEmbedding.forward_cuda`): in place on query and key.

use super::{as_rows, launch, require_float, require_no_overlap, require_same_device, require_same_dtype, DeviceStatus};
use crate::ffi::RotaryEmbeddingParams;
use crate::table::{OpId, OpTable};
use fk_runtime::{DType, Error, Result, Tensor};

/// The static part of a rotary embedding: geometry and the cos/sin cache.
pub struct Rotary<'a> {
    pub head_size: usize,
    /// `[max_position, rotary_dim]` f32: cos for the first half, sin for the second.
    pub cos_sin_cache: &'a Tensor,
    /// NeoX (HF `rotate_half`) pairing if true, GPT-J interleaved pairing if false.
    pub is_neox_style: bool,
}

/// Rotate `query` `[tokens, num_heads*head_size]` and `key` `[tokens, num_kv_heads*head_size]`
/// (2-D, rows may be strided views into a fused qkv output) at `positions` `[tokens]` i64.
/// Positions outside the cache are left unrotated and reported in `status`: call
/// `status.check(...)` when you can afford a sync.
pub fn rotary_embedding(
    table: &OpTable,
    rope: &Rotary<'_>,
    positions: &Tensor,
    query: &Tensor,
    key: Option<&Tensor>,
    status: &DeviceStatus,
) -> Result<()> {
    const OP: &str = "rotary_embedding";
    require_float(OP, "query", query)?;
    let mut on_device = vec![("query", query), ("positions", positions), ("cos_sin_cache", rope.cos_sin_cache)];
    if let Some(k) = key {
        require_same_dtype(OP, "key", k, query.dtype())?;
        require_no_overlap(OP, ("query", query), ("key", k))?;
        on_device.push(("key", k));
    }
    require_same_device(OP, &on_device)?;
    if !status.device().same_as(query.device()) {
        return Err(Error::shape(OP, "status is on another device"));
    }
    if positions.dtype() != DType::I64 || positions.rank() != 1 || !positions.is_contiguous() {
        return Err(Error::dtype(OP, format!("positions {positions:?} must be contiguous [tokens] i64")));
    }
    let cache = rope.cos_sin_cache;
    if cache.dtype() != DType::F32 || cache.rank() != 2 || !cache.is_contiguous() {
        return Err(Error::dtype(OP, format!("cos_sin_cache {cache:?} must be contiguous [max_position, rotary_dim] f32")));
    }
    let (max_position, rot_dim) = (cache.dim(0), cache.dim(1));
    let hs = rope.head_size;
    if rot_dim == 0 || rot_dim % 2 != 0 || rot_dim > hs {
        return Err(Error::shape(OP, format!("rotary_dim {rot_dim} must be even and in 2..=head_size {hs}")));
    }
    let tokens = positions.dim(0);
    if query.rank() != 2 {
        return Err(Error::shape(OP, format!("query {query:?} must be 2-D [tokens, heads*head_size]")));
    }
    let (q_rows, q_cols, q_stride) = as_rows(OP, "query", query)?;
    if q_rows != tokens || q_cols % hs != 0 || q_cols == 0 {
        return Err(Error::shape(OP, format!("query {query:?} must be [{tokens}, num_heads*{hs}]")));
    }
    let (num_kv_heads, k_stride, k_ptr) = match key {
        None => (0, 0, 0),
        Some(k) => {
            let (k_rows, k_cols, ks) = as_rows(OP, "key", k)?;
            if k.rank() != 2 || k_rows != tokens || k_cols % hs != 0 {
                return Err(Error::shape(OP, format!("key {k:?} must be [{tokens}, num_kv_heads*{hs}]")));
            }
            (k_cols / hs, ks, k.ptr())
        }
    };
    let p = RotaryEmbeddingParams {
        positions: positions.ptr(),
        query: query.ptr(),
        key: k_ptr,
        cos_sin_cache: cache.ptr(),
        status: status.ptr(),
        tokens: tokens as i64,
        query_stride: q_stride as i64,
        key_stride: k_stride as i64,
        max_position: max_position as i64,
        num_heads: (q_cols / hs) as i32,
        num_kv_heads: num_kv_heads as i32,
        head_size: hs as i32,
        rot_dim: rot_dim as i32,
        is_neox: rope.is_neox_style as i32,
        dtype: query.dtype().code(),
    };
    launch(table, OpId::RotaryEmbedding, query.device(), &p, || {
        format!("positions {positions:?}, query {query:?}, key {key:?}, cache {cache:?}, head_size {hs}")
    })
}
