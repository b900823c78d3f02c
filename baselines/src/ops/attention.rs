//! prefill_attention: variable-length attention for prefill and chunked prefill, as
//! FlashAttention's `flash_attn_varlen_func` (vLLM's FlashAttention backend) computes it.
//! Queries are packed along tokens; keys/values are packed the same way or live in the NHD
//! paged cache (`[num_blocks, block_size, kv_heads, head_dim]`, as `reshape_and_cache` writes it).

use super::{as_rows, launch, require_no_overlap, require_same_device, require_same_dtype, DeviceStatus, PagedKv};
use crate::ffi::PrefillAttentionParams;
use crate::table::{OpId, OpTable};
use fk_runtime::{DType, Error, Result, Tensor};

const OP: &str = "prefill_attention";
/// Lengths, token counts and windows stay below 2^30 (the kernels index with 32-bit ints).
const MAX_LEN: usize = 1 << 30;

/// Where sequence b's keys and values come from.
pub enum PrefillKv<'a> {
    /// `key`/`value` `[total_k, kv_heads*head_dim]` (rows may be strided views, e.g. column
    /// blocks of a fused qkv output); sequence b's keys are rows
    /// `cu_seqlens_k[b]..cu_seqlens_k[b+1]` (`cu_seqlens_k`: i32 `[batch+1]`).
    Contiguous { key: &'a Tensor, value: &'a Tensor, cu_seqlens_k: &'a Tensor },
    /// The paged cache: sequence b has `seq_lens_k[b]` keys (i32 `[batch]`); key j lives in
    /// block `block_table[b, j / block_size]` (i32 `[batch, max_blocks]`) at offset `j % block_size`.
    Paged { kv: PagedKv<'a>, block_table: &'a Tensor /* i32 [batch, max_blocks] */, seq_lens_k: &'a Tensor /* i32 [batch] */ },
}

/// Geometry and masking. `max_seqlen_q` is a host-side upper bound on the query lengths (it
/// sizes the grid, as FlashAttention's `max_seqlen_q`); a longer sequence on the device is
/// reported through the status (see [`prefill_attention_checked`]) and its rows past the bound
/// are not computed. `causal` is bottom-right aligned: query i sees key j iff
/// `j <= i + len_k - len_q`; `window_left` w also requires `j >= i + len_k - len_q - w`.
#[derive(Clone, Copy, Debug)]
pub struct PrefillParams {
    pub head_dim: usize,
    pub causal: bool,
    pub scale: f32,
    pub window_left: Option<usize>,
    pub max_seqlen_q: usize,
}

/// Which kernel the launcher runs: the best one for the build and GPU, or the portable
/// mma.sync kernel (tests use it to cover the fallback on Hopper too).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum PrefillKernel {
    Auto,
    Portable,
}

/// The head dims the prefill kernels take (32, 72 and 80, MiniLM/BERT-small, SigLIP so400m
/// and ViT-H, run on the portable kernel in zero-padded 128-wide tiles).
pub const PREFILL_HEAD_DIMS: [usize; 6] = [32, 64, 72, 80, 128, 256];

/// `out` `[total_q, heads*head_dim]` (contiguous; `[total_q, heads, head_dim]` is accepted too)
/// = attention of `query` `[total_q, heads*head_dim]` (rows may be strided) over `kv`, for
/// sequences delimited by `cu_seqlens_q` (i32 `[batch+1]`). f16 or bf16; head_dim 64, 128 or
/// 256; GQA/MQA through `heads / kv_heads`. Enqueued on the device's stream without a sync.
pub fn prefill_attention(table: &OpTable, query: &Tensor, kv: PrefillKv<'_>, cu_seqlens_q: &Tensor, p: &PrefillParams, out: &Tensor) -> Result<()> {
    prefill_attention_impl(table, query, &kv, cu_seqlens_q, p, out, None, PrefillKernel::Auto)
}

/// [`prefill_attention`] that records sequences with bad device data (cu_seqlens outside the
/// tensors or decreasing, `seq_lens_k` past the block table, a length above `max_seqlen_q`, a
/// block id outside the cache) in `status`. Such data never causes an out-of-bounds access:
/// it is clamped, or read as zeros.
pub fn prefill_attention_with_status(
    table: &OpTable,
    query: &Tensor,
    kv: PrefillKv<'_>,
    cu_seqlens_q: &Tensor,
    p: &PrefillParams,
    out: &Tensor,
    status: &DeviceStatus,
) -> Result<()> {
    prefill_attention_impl(table, query, &kv, cu_seqlens_q, p, out, Some(status), PrefillKernel::Auto)
}

/// [`prefill_attention_with_status`], then wait and fail with `BadInput` naming the first
/// sequence with bad lengths or block ids.
pub fn prefill_attention_checked(
    table: &OpTable,
    query: &Tensor,
    kv: PrefillKv<'_>,
    cu_seqlens_q: &Tensor,
    p: &PrefillParams,
    out: &Tensor,
    status: &DeviceStatus,
) -> Result<()> {
    prefill_attention_impl(table, query, &kv, cu_seqlens_q, p, out, Some(status), PrefillKernel::Auto)?;
    status.check(OP, |b| {
        format!("sequence {b} has cu_seqlens / seq_lens_k outside the tensors or the block table, a query length above max_seqlen_q {}, or a block id outside the cache", p.max_seqlen_q)
    })
}

fn require_index(what: &str, t: &Tensor, shape: &[usize]) -> Result<()> {
    if t.dtype() != DType::I32 || !t.is_contiguous() || t.shape() != shape {
        return Err(Error::dtype(OP, format!("{what} {t:?} must be a contiguous i32 tensor of shape {shape:?}")));
    }
    Ok(())
}

fn require_aligned(what: &str, t: &Tensor, stride: usize) -> Result<()> {
    if t.ptr() % 16 != 0 || (stride * t.dtype().size()) % 16 != 0 {
        return Err(Error::shape(OP, format!("{what} {t:?}: rows must start 16-byte aligned (row stride {stride} elements)")));
    }
    Ok(())
}

#[allow(clippy::too_many_arguments)]
pub(crate) fn prefill_attention_impl(
    table: &OpTable,
    query: &Tensor,
    kv: &PrefillKv<'_>,
    cu_seqlens_q: &Tensor,
    p: &PrefillParams,
    out: &Tensor,
    status: Option<&DeviceStatus>,
    kernel: PrefillKernel,
) -> Result<()> {
    let dtype = query.dtype();
    if !matches!(dtype, DType::F16 | DType::BF16) {
        return Err(Error::dtype(OP, format!("query is {dtype}; prefill_attention supports f16 and bf16")));
    }
    let hd = p.head_dim;
    if !PREFILL_HEAD_DIMS.contains(&hd) {
        return Err(Error::shape(OP, format!("head_dim {hd} is not supported {PREFILL_HEAD_DIMS:?}")));
    }
    let (total_q, qcols, qs) = as_rows(OP, "query", query)?;
    if query.rank() != 2 || qcols % hd != 0 || qcols == 0 {
        return Err(Error::shape(OP, format!("query {query:?} must be [total_q, heads*{hd}]")));
    }
    let heads = qcols / hd;
    if cu_seqlens_q.rank() != 1 || cu_seqlens_q.dim(0) == 0 {
        return Err(Error::shape(OP, format!("cu_seqlens_q {cu_seqlens_q:?} must be [batch + 1]")));
    }
    let batch = cu_seqlens_q.dim(0) - 1;
    require_index("cu_seqlens_q", cu_seqlens_q, &[batch + 1])?;
    if batch > 65535 {
        return Err(Error::shape(OP, format!("batch {batch} exceeds 65535 sequences")));
    }
    require_same_dtype(OP, "out", out, dtype)?;
    let out_ok = out.is_contiguous() && (out.shape() == [total_q, heads * hd] || out.shape() == [total_q, heads, hd]);
    if !out_ok {
        return Err(Error::shape(OP, format!("out {out:?} must be contiguous [{total_q}, {}]", heads * hd)));
    }
    let mut devs: Vec<(&str, &Tensor)> = vec![("query", query), ("cu_seqlens_q", cu_seqlens_q), ("out", out)];
    let mut params = PrefillAttentionParams {
        out: out.ptr(),
        query: query.ptr(),
        key: 0,
        value: 0,
        cu_seqlens_q: cu_seqlens_q.ptr(),
        cu_seqlens_k: 0,
        block_table: 0,
        seq_lens_k: 0,
        status: status.map_or(0, DeviceStatus::ptr),
        total_q: total_q as i64,
        total_k: 0,
        query_stride: qs as i64,
        key_stride: 0,
        value_stride: 0,
        num_blocks: 0,
        batch: batch as i32,
        heads: heads as i32,
        kv_heads: 0,
        head_dim: hd as i32,
        max_seqlen_q: p.max_seqlen_q as i32,
        block_size: 0,
        max_blocks_per_seq: 0,
        causal: p.causal as i32,
        window_left: -1,
        scale: p.scale,
        dtype: dtype.code(),
        variant: if kernel == PrefillKernel::Portable { 1 } else { 0 },
    };
    require_aligned("query", query, qs)?;
    require_aligned("out", out, heads * hd)?;
    let kv_heads = match kv {
        PrefillKv::Contiguous { key, value, cu_seqlens_k } => {
            require_same_dtype(OP, "key", key, dtype)?;
            require_same_dtype(OP, "value", value, dtype)?;
            let (kr, kc, ks) = as_rows(OP, "key", key)?;
            let (vr, vc, vs) = as_rows(OP, "value", value)?;
            if key.rank() != 2 || value.rank() != 2 || kc % hd != 0 || kc == 0 || (vr, vc) != (kr, kc) {
                return Err(Error::shape(OP, format!("key {key:?} and value {value:?} must both be [total_k, kv_heads*{hd}]")));
            }
            require_index("cu_seqlens_k", cu_seqlens_k, &[batch + 1])?;
            require_aligned("key", key, ks)?;
            require_aligned("value", value, vs)?;
            require_no_overlap(OP, ("out", out), ("key", key))?;
            require_no_overlap(OP, ("out", out), ("value", value))?;
            if kr >= MAX_LEN {
                return Err(Error::shape(OP, format!("{kr} key rows: at most 2^30")));
            }
            devs.extend([("key", *key), ("value", *value), ("cu_seqlens_k", *cu_seqlens_k)]);
            params.key = key.ptr();
            params.value = value.ptr();
            params.cu_seqlens_k = cu_seqlens_k.ptr();
            params.total_k = kr as i64;
            params.key_stride = ks as i64;
            params.value_stride = vs as i64;
            kc / hd
        }
        PrefillKv::Paged { kv, block_table, seq_lens_k } => {
            let (num_blocks, block_size, kv_heads, cache_hd) = kv.geometry(OP)?;
            require_same_dtype(OP, "key_cache", kv.key_cache, dtype)?;
            if cache_hd != hd || kv_heads == 0 || block_size == 0 || num_blocks == 0 {
                return Err(Error::shape(OP, format!("caches {:?} must be non-empty [num_blocks, block_size, kv_heads, {hd}]", kv.key_cache)));
            }
            if block_table.rank() != 2 || block_table.dim(0) != batch || block_table.dim(1) == 0 {
                return Err(Error::shape(OP, format!("block_table {block_table:?} must be [{batch}, max_blocks] (i32)")));
            }
            let max_blocks = block_table.dim(1);
            require_index("block_table", block_table, &[batch, max_blocks])?;
            require_index("seq_lens_k", seq_lens_k, &[batch])?;
            if max_blocks * block_size >= MAX_LEN || num_blocks >= i32::MAX as usize {
                return Err(Error::shape(OP, format!("block_table {block_table:?} x block_size {block_size}: at most 2^30 keys per sequence")));
            }
            require_aligned("key_cache", kv.key_cache, kv_heads * hd)?;
            require_aligned("value_cache", kv.value_cache, kv_heads * hd)?;
            require_no_overlap(OP, ("out", out), ("key_cache", kv.key_cache))?;
            require_no_overlap(OP, ("out", out), ("value_cache", kv.value_cache))?;
            devs.extend([("key_cache", kv.key_cache), ("value_cache", kv.value_cache), ("block_table", *block_table), ("seq_lens_k", *seq_lens_k)]);
            params.key = kv.key_cache.ptr();
            params.value = kv.value_cache.ptr();
            params.block_table = block_table.ptr();
            params.seq_lens_k = seq_lens_k.ptr();
            params.key_stride = (kv_heads * hd) as i64;
            params.value_stride = (kv_heads * hd) as i64;
            params.num_blocks = num_blocks as i64;
            params.block_size = block_size as i32;
            params.max_blocks_per_seq = max_blocks as i32;
            kv_heads
        }
    };
    require_same_device(OP, &devs)?;
    require_no_overlap(OP, ("out", out), ("query", query))?;
    if heads % kv_heads != 0 {
        return Err(Error::shape(OP, format!("{heads} query heads is not a multiple of {kv_heads} kv heads")));
    }
    params.kv_heads = kv_heads as i32;
    if total_q >= MAX_LEN || p.max_seqlen_q >= MAX_LEN || p.max_seqlen_q > 65535 * 64 {
        return Err(Error::shape(OP, format!("total_q {total_q} / max_seqlen_q {}: at most 2^30 tokens and 4194240 per sequence", p.max_seqlen_q)));
    }
    if total_q > 0 && batch > 0 && p.max_seqlen_q == 0 {
        return Err(Error::shape(OP, format!("max_seqlen_q is 0 but there are {total_q} query rows")));
    }
    if let Some(w) = p.window_left {
        if w >= MAX_LEN {
            return Err(Error::shape(OP, format!("window_left {w}: at most 2^30")));
        }
        params.window_left = w as i32;
    }
    if !(p.scale.is_finite() && p.scale > 0.0) {
        return Err(Error::bad_input(OP, format!("scale {} must be finite and > 0", p.scale)));
    }
    launch(table, OpId::PrefillAttention, query.device(), &params, || {
        format!("query {query:?}, cu_seqlens_q {cu_seqlens_q:?}, {p:?}, kv_heads {kv_heads}, out {out:?}")
    })
}
