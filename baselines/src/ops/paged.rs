//! The paged KV cache ops: reshape_and_cache (write new K/V into their slots) and
//! paged_attention_decode (one query token per sequence over its cached context).
//! Caches are NHD: `[num_blocks, block_size, kv_heads, head_dim]`.

use super::{as_rows, launch, require_float, require_same_device, require_same_dtype, DeviceStatus};
use crate::ffi::{PagedAttentionDecodeParams, ReshapeAndCacheParams};
use crate::table::{OpId, OpTable};
use fk_runtime::{DType, Error, Result, Tensor};

/// A key or value cache pair and its geometry.
pub struct PagedKv<'a> {
    pub key_cache: &'a Tensor,
    pub value_cache: &'a Tensor,
}

impl PagedKv<'_> {
    /// (num_blocks, block_size, kv_heads, head_dim), after checking both caches agree.
    pub(crate) fn geometry(&self, op: &str) -> Result<(usize, usize, usize, usize)> {
        let (k, v) = (self.key_cache, self.value_cache);
        if k.rank() != 4 || !k.is_contiguous() || v.shape() != k.shape() || !v.is_contiguous() {
            return Err(Error::shape(op, format!("caches {k:?} / {v:?} must be equal contiguous [num_blocks, block_size, kv_heads, head_dim]")));
        }
        require_same_dtype(op, "value_cache", v, k.dtype())?;
        if k.overlaps(v) {
            return Err(Error::shape(op, "key_cache and value_cache overlap"));
        }
        Ok((k.dim(0), k.dim(1), k.dim(2), k.dim(3)))
    }
}

fn require_contiguous_int(op: &str, what: &str, t: &Tensor, dtype: DType, rank: usize) -> Result<()> {
    if t.dtype() != dtype || t.rank() != rank || !t.is_contiguous() {
        return Err(Error::dtype(op, format!("{what} {t:?} must be contiguous rank-{rank} {dtype}")));
    }
    Ok(())
}

/// Scatter `key`/`value` (`[tokens, kv_heads*head_dim]`, rows may be strided views of a fused
/// qkv output) into the caches at `slot_mapping` (`[tokens]` i64; -1 = padding). Slots past
/// the cache are skipped and reported in `status`.
pub fn reshape_and_cache(table: &OpTable, key: &Tensor, value: &Tensor, kv: &PagedKv<'_>, slot_mapping: &Tensor, status: &DeviceStatus) -> Result<()> {
    const OP: &str = "reshape_and_cache";
    require_float(OP, "key", key)?;
    require_same_dtype(OP, "value", value, key.dtype())?;
    require_same_dtype(OP, "key_cache", kv.key_cache, key.dtype())?;
    require_same_device(OP, &[("key", key), ("value", value), ("key_cache", kv.key_cache), ("value_cache", kv.value_cache), ("slot_mapping", slot_mapping)])?;
    let (num_blocks, block_size, kv_heads, head_dim) = kv.geometry(OP)?;
    require_contiguous_int(OP, "slot_mapping", slot_mapping, DType::I64, 1)?;
    let tokens = slot_mapping.dim(0);
    let (kr, kc, ks) = as_rows(OP, "key", key)?;
    let (vr, vcols, vs) = as_rows(OP, "value", value)?;
    if (kr, kc) != (tokens, kv_heads * head_dim) || (vr, vcols) != (tokens, kv_heads * head_dim) {
        return Err(Error::shape(OP, format!("key {key:?} / value {value:?} must be [{tokens}, {}] for caches {:?}", kv_heads * head_dim, kv.key_cache)));
    }
    let p = ReshapeAndCacheParams {
        key: key.ptr(),
        value: value.ptr(),
        key_cache: kv.key_cache.ptr(),
        value_cache: kv.value_cache.ptr(),
        slot_mapping: slot_mapping.ptr(),
        status: status.ptr(),
        tokens: tokens as i64,
        key_stride: ks as i64,
        value_stride: vs as i64,
        num_blocks: num_blocks as i64,
        block_size: block_size as i32,
        kv_heads: kv_heads as i32,
        head_dim: head_dim as i32,
        dtype: key.dtype().code(),
    };
    launch(table, OpId::ReshapeAndCache, key.device(), &p, || format!("key {key:?}, caches {:?}, slots {slot_mapping:?}", kv.key_cache))
}

/// Splits and workspace for decode over block tables `max_blocks` wide.
#[derive(Clone, Copy, Debug)]
pub struct DecodeSplits {
    pub split_tokens: usize,
    pub max_splits: usize,
}

impl DecodeSplits {
    pub fn new(max_blocks: usize, block_size: usize, split_tokens: usize) -> Result<DecodeSplits> {
        if split_tokens == 0 || block_size == 0 || split_tokens % block_size != 0 {
            return Err(Error::shape("paged_attention_decode", format!("split_tokens {split_tokens} must be a positive multiple of block_size {block_size}")));
        }
        Ok(DecodeSplits { split_tokens, max_splits: (max_blocks * block_size).div_ceil(split_tokens).max(1) })
    }

    /// Splits for a device with `sm_count` SMs, from host-known maxima only (so a CUDA graph
    /// can replay the launch while `seq_lens` change on the device). Picks the split length
    /// (whole blocks, >= 128 tokens or the whole context) that minimises
    /// `waves × (split_tokens + SPLIT_OVERHEAD_TOKENS)`, where a wave is `sm_count ×
    /// DECODE_CTAS_PER_SM` CTAs of (kv head, split, sequence): enough CTAs to fill the GPU,
    /// whole waves (a last wave a fraction full wastes the rest of the GPU for a CTA's time),
    /// and no more splits than that pays for. On an H100 (132 SMs): batch 1 × 4k → 32 splits
    /// of 128 tokens; batch 32 × 4k → 3 splits of 1376.
    pub fn for_device(seqs: usize, kv_heads: usize, max_blocks: usize, block_size: usize, sm_count: usize) -> Result<DecodeSplits> {
        if block_size == 0 || max_blocks == 0 {
            return Err(Error::shape("paged_attention_decode", format!("block_size {block_size} and max_blocks {max_blocks} must be positive")));
        }
        let max_len = max_blocks * block_size;
        let units = (seqs * kv_heads).max(1);
        let slots = sm_count.max(1) * Self::DECODE_CTAS_PER_SM;
        let min_split = Self::MIN_SPLIT_TOKENS.div_ceil(block_size) * block_size;
        let most = max_len.div_ceil(min_split).clamp(1, 4096);
        let (mut best_cost, mut best_split) = (f64::INFINITY, max_len);
        for want in 1..=most {
            let split = max_len.div_ceil(want).div_ceil(block_size) * block_size;
            let waves = (units * max_len.div_ceil(split)).div_ceil(slots);
            let cost = waves as f64 * (split + Self::SPLIT_OVERHEAD_TOKENS) as f64;
            if cost < best_cost {
                (best_cost, best_split) = (cost, split);
            }
        }
        DecodeSplits::new(max_blocks, block_size, best_split)
    }

    /// Shortest split `for_device` chooses (shorter ones cost more in partials than they gain).
    pub const MIN_SPLIT_TOKENS: usize = 128;
    /// Resident CTAs per SM `for_device` assumes: the bf16/f16 head_dim-128 kernel (64 KB
    /// K/V ring, ~160 registers x 128 threads) fits 3.
    pub const DECODE_CTAS_PER_SM: usize = 3;
    /// A split's fixed cost (prologue, pipeline fill, partial write) in tokens of streaming.
    pub const SPLIT_OVERHEAD_TOKENS: usize = 64;

    /// f32 elements of workspace needed for `seqs` sequences of `heads` query heads.
    pub fn workspace_floats(&self, seqs: usize, heads: usize, head_dim: usize) -> usize {
        if self.max_splits == 1 {
            0
        } else {
            seqs * heads * self.max_splits * (head_dim + 2)
        }
    }
}

/// Decode attention: `out` `[seqs, heads, head_dim]` (contiguous) for `query` `[seqs,
/// heads*head_dim]` (rows may be strided) over `seq_lens[b]` cached tokens per sequence,
/// located through `block_table` `[seqs, max_blocks]` (i32). `workspace` (f32, at least
/// `splits.workspace_floats(..)` elements) holds split partials.
#[allow(clippy::too_many_arguments)]
pub fn paged_attention_decode(
    table: &OpTable,
    query: &Tensor,
    kv: &PagedKv<'_>,
    block_table: &Tensor,
    seq_lens: &Tensor,
    splits: DecodeSplits,
    workspace: Option<&Tensor>,
    scale: f32,
    out: &Tensor,
    status: &DeviceStatus,
) -> Result<()> {
    const OP: &str = "paged_attention_decode";
    require_float(OP, "query", query)?;
    require_same_dtype(OP, "key_cache", kv.key_cache, query.dtype())?;
    require_same_dtype(OP, "out", out, query.dtype())?;
    require_same_device(OP, &[("query", query), ("key_cache", kv.key_cache), ("block_table", block_table), ("seq_lens", seq_lens), ("out", out)])?;
    let (num_blocks, block_size, kv_heads, head_dim) = kv.geometry(OP)?;
    if ![64, 128, 256].contains(&head_dim) {
        return Err(Error::shape(OP, format!("head_dim {head_dim} is not supported (64, 128, 256)")));
    }
    require_contiguous_int(OP, "block_table", block_table, DType::I32, 2)?;
    require_contiguous_int(OP, "seq_lens", seq_lens, DType::I32, 1)?;
    let (seqs, max_blocks) = (block_table.dim(0), block_table.dim(1));
    let (qr, qc, qs) = as_rows(OP, "query", query)?;
    if qr != seqs || qc % head_dim != 0 || seq_lens.dim(0) != seqs {
        return Err(Error::shape(OP, format!("query {query:?}, seq_lens {seq_lens:?} and block_table {block_table:?} disagree (head_dim {head_dim})")));
    }
    let heads = qc / head_dim;
    if heads % kv_heads != 0 {
        return Err(Error::shape(OP, format!("{heads} query heads is not a multiple of {kv_heads} kv heads")));
    }
    if out.shape() != [seqs, heads, head_dim] || !out.is_contiguous() {
        return Err(Error::shape(OP, format!("out {out:?} must be contiguous [{seqs}, {heads}, {head_dim}]")));
    }
    if splits.max_splits * splits.split_tokens < max_blocks * block_size {
        return Err(Error::shape(OP, format!("{splits:?} do not cover {max_blocks} blocks of {block_size}")));
    }
    if splits.max_splits > 65535 || (splits.max_splits + 1) * splits.split_tokens > i32::MAX as usize || seqs > 65535 {
        return Err(Error::shape(OP, format!("{splits:?} for {seqs} sequences: at most 65535 splits and sequences, and splits * split_tokens < 2^31")));
    }
    if kv.key_cache.ptr() % 16 != 0 || kv.value_cache.ptr() % 16 != 0 {
        return Err(Error::shape(OP, "key_cache and value_cache must start 16-byte aligned (rows are copied in 16-byte chunks)"));
    }
    let need = splits.workspace_floats(seqs, heads, head_dim);
    let ws = match workspace {
        Some(w) if w.dtype() == DType::F32 && w.is_contiguous() && w.numel() >= need => w.ptr(),
        None if need == 0 => 0,
        other => return Err(Error::shape(OP, format!("workspace {other:?} must be contiguous f32 with >= {need} elements"))),
    };
    if !(scale.is_finite() && scale > 0.0) {
        return Err(Error::bad_input(OP, format!("scale {scale} must be finite and > 0")));
    }
    let p = PagedAttentionDecodeParams {
        out: out.ptr(),
        query: query.ptr(),
        key_cache: kv.key_cache.ptr(),
        value_cache: kv.value_cache.ptr(),
        block_table: block_table.ptr(),
        seq_lens: seq_lens.ptr(),
        workspace: ws,
        status: status.ptr(),
        seqs: seqs as i64,
        query_stride: qs as i64,
        num_blocks: num_blocks as i64,
        heads: heads as i32,
        kv_heads: kv_heads as i32,
        head_dim: head_dim as i32,
        block_size: block_size as i32,
        max_blocks_per_seq: max_blocks as i32,
        max_splits: splits.max_splits as i32,
        split_tokens: splits.split_tokens as i32,
        scale,
        dtype: query.dtype().code(),
        pad_: 0,
    };
    launch(table, OpId::PagedAttentionDecode, query.device(), &p, || {
        format!("query {query:?}, caches {:?}, block_table {block_table:?}, {splits:?}", kv.key_cache)
    })
}

#[cfg(test)]
mod tests {
    use super::DecodeSplits;

    #[test]
    fn for_device_fills_the_gpu_in_whole_waves() {
        let s = |seqs, ctx: usize| DecodeSplits::for_device(seqs, 8, ctx.div_ceil(16), 16, 132).unwrap();
        // batch 1: as many 128-token splits as fit in one wave.
        assert_eq!((s(1, 4096).split_tokens, s(1, 4096).max_splits), (128, 32));
        let long = s(1, 32768);
        assert!(long.max_splits * 8 <= 396 && long.max_splits >= 32, "{long:?}");
        // batch 32 x 4k: 256 (seq, kv head) pairs; 3 splits = 768 CTAs = 2 whole waves of 396.
        assert_eq!(s(32, 4096).max_splits, 3);
        for (seqs, ctx) in [(1, 1), (3, 17), (7, 100_000), (64, 4096), (1024, 2048)] {
            let d = s(seqs, ctx);
            assert!(d.split_tokens % 16 == 0 && d.max_splits * d.split_tokens >= ctx && d.max_splits <= 65535, "{seqs} x {ctx}: {d:?}");
        }
        assert!(DecodeSplits::for_device(1, 8, 0, 16, 132).is_err());
    }
}
