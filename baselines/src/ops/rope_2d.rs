//! rope_2d: DINOv3's 2D rotary embedding, in place on query and key.

use super::{as_rows, launch, require_float, require_no_overlap, require_same_device, require_same_dtype};
use crate::ffi::Rope2dParams;
use crate::reference::dinov3_rope_cache;
use crate::table::{OpId, OpTable};
use fk_runtime::{DType, Device, Error, Result, Tensor};

const OP: &str = "rope_2d";

/// The rotary geometry of one resolution: `prefix` CLS + register tokens ahead of the
/// patches, and the per-patch cos/sin cache `[patches, head_dim]` f32 (see [`rope_2d_cache`]).
pub struct Rope2d<'a> {
    pub head_dim: usize,
    pub prefix: usize,
    pub cos_sin_cache: &'a Tensor,
}

/// The device cache of a `grid_h × grid_w` patch grid (HF `DINOv3ViTRopePositionEmbedding`
/// at inference: no coordinate augmentation), built on the host in f64 as the reference does.
pub fn rope_2d_cache(dev: &Device, grid_h: usize, grid_w: usize, head_dim: usize, theta: f64) -> Result<Tensor> {
    if head_dim == 0 || head_dim % 4 != 0 || grid_h == 0 || grid_w == 0 || !(theta.is_finite() && theta > 0.0) {
        return Err(Error::shape(OP, format!("grid {grid_h}×{grid_w}, head_dim {head_dim} (a multiple of 4: y and x halves of pairs), theta {theta}")));
    }
    let c = dinov3_rope_cache(grid_h, grid_w, head_dim, theta);
    Tensor::from_f32(dev, &c, &[grid_h * grid_w, head_dim], DType::F32)
}

/// Rotate the patch tokens of `query` `[batch·seq, heads·head_dim]` and `key`
/// `[batch·seq, kv_heads·head_dim]` (2-D; rows may be strided views of a fused qkv output),
/// where `seq = prefix + patches` tokens per image.
pub fn rope_2d(table: &OpTable, rope: &Rope2d<'_>, query: &Tensor, key: Option<&Tensor>) -> Result<()> {
    require_float(OP, "query", query)?;
    let cache = rope.cos_sin_cache;
    let hd = rope.head_dim;
    let mut on = vec![("query", query), ("cos_sin_cache", cache)];
    if cache.dtype() != DType::F32 || cache.rank() != 2 || !cache.is_contiguous() || cache.dim(1) != hd || cache.dim(0) == 0 {
        return Err(Error::dtype(OP, format!("cos_sin_cache {cache:?} must be contiguous [patches, head_dim {hd}] f32")));
    }
    if hd == 0 || hd % 2 != 0 {
        return Err(Error::shape(OP, format!("head_dim {hd} must be even")));
    }
    let seq = rope.prefix + cache.dim(0);
    if query.rank() != 2 {
        return Err(Error::shape(OP, format!("query {query:?} must be 2-D [batch·seq, heads·{hd}]")));
    }
    let (tokens, q_cols, q_stride) = as_rows(OP, "query", query)?;
    if q_cols % hd != 0 || q_cols == 0 || tokens % seq != 0 {
        return Err(Error::shape(
            OP,
            format!("query {query:?} must be [batch·{seq}, heads·{hd}] ({} prefix tokens + {} patches per image)", rope.prefix, cache.dim(0)),
        ));
    }
    let (kv_heads, k_stride, k_ptr) = match key {
        None => (0, 0, 0),
        Some(k) => {
            require_same_dtype(OP, "key", k, query.dtype())?;
            require_no_overlap(OP, ("query", query), ("key", k))?;
            let (k_rows, k_cols, ks) = as_rows(OP, "key", k)?;
            if k.rank() != 2 || k_rows != tokens || k_cols % hd != 0 || k_cols == 0 {
                return Err(Error::shape(OP, format!("key {k:?} must be [{tokens}, kv_heads·{hd}]")));
            }
            on.push(("key", k));
            (k_cols / hd, ks, k.ptr())
        }
    };
    require_same_device(OP, &on)?;
    if (tokens / seq) * cache.dim(0) > i32::MAX as usize {
        return Err(Error::shape(OP, format!("{} patch tokens: at most 2^31 - 1", (tokens / seq) * cache.dim(0))));
    }
    let p = Rope2dParams {
        query: query.ptr(),
        key: k_ptr,
        cos_sin_cache: cache.ptr(),
        tokens: tokens as i64,
        seq: seq as i64,
        prefix: rope.prefix as i64,
        query_stride: q_stride as i64,
        key_stride: k_stride as i64,
        heads: (q_cols / hd) as i32,
        kv_heads: kv_heads as i32,
        head_dim: hd as i32,
        dtype: query.dtype().code(),
    };
    launch(table, OpId::Rope2d, query.device(), &p, || format!("query {query:?}, key {key:?}, cache {cache:?}, prefix {}", rope.prefix))
}
