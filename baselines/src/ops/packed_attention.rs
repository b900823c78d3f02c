//! Bidirectional self-attention over an encoder's packed tokens (`[total, heads·head_dim]`,
//! sequences back to back as [`Padding::cu_seqlens`] says): what every encoder layer runs
//! once its batch was unpadded (see padding.rs). Two existing kernels serve it:
//!
//! - f16/bf16 at the prefill kernel's head dims: varlen `prefill_attention`, `causal = false`,
//!   keys and values read where the qkv GEMM left them (column views of a fused qkv are fine).
//! - any float dtype (f32 included) at head_dim 64/128/256: the paged decode kernel with one
//!   query per token over its whole sequence, the "per-token view" the LLM prefill falls back
//!   to. The packed keys/values are copied into a cache of 1-token blocks (so every sequence
//!   starts on a block, wherever it sits in the packing) and each token's block-table row
//!   lists its sequence's tokens. It costs a copy and a `[total, max_len]` table, so it is the
//!   fallback (f32 checks against the goldens), not the fast path.
//!
//! Anything else (f32 at 72/80, a head_dim neither kernel has) is a named error at build time.
//!
//! [`PackedAttention::pooling`] is the same with one query per sequence over all of its
//! tokens: SigLIP's attention-pool probe.

use super::{paged_attention_decode, prefill_attention, reshape_and_cache, DecodeSplits, DeviceStatus, PagedKv, Padding, PrefillKv, PrefillParams, PREFILL_HEAD_DIMS};
use crate::table::OpTable;
use fk_runtime::{DType, Error, Result, Tensor};

const OP: &str = "packed_attention";

/// Head dims of the paged decode kernel (the per-token view).
pub const DECODE_VIEW_HEAD_DIMS: [usize; 3] = [64, 128, 256];

/// Which kernel [`PackedAttention`] runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PackedAttentionKernel {
    Prefill,
    PerTokenDecode,
}

impl PackedAttentionKernel {
    /// The kernel for `dtype` and `head_dim`: prefill where it exists (faster), else the
    /// per-token decode view, else an error naming both kernels' limits.
    pub fn choose(dtype: DType, head_dim: usize) -> Result<PackedAttentionKernel> {
        if matches!(dtype, DType::F16 | DType::BF16) && PREFILL_HEAD_DIMS.contains(&head_dim) {
            Ok(PackedAttentionKernel::Prefill)
        } else if DType::FLOATS.contains(&dtype) && DECODE_VIEW_HEAD_DIMS.contains(&head_dim) {
            Ok(PackedAttentionKernel::PerTokenDecode)
        } else {
            Err(Error::shape(
                OP,
                format!("no attention kernel for {dtype} head_dim {head_dim}: f16/bf16 take {PREFILL_HEAD_DIMS:?}, any float dtype {DECODE_VIEW_HEAD_DIMS:?}"),
            ))
        }
    }
}

/// The per-token view's device tables for one batch.
struct DecodeView {
    key_cache: Tensor,
    value_cache: Tensor,
    /// i64 `[total]`: identity (token t goes to block t).
    slot_mapping: Tensor,
    /// i32 `[queries, max_len]`: the blocks (= packed rows) of the query's sequence.
    block_table: Tensor,
    /// i32 `[queries]`: the length of the query's sequence.
    seq_lens: Tensor,
    splits: DecodeSplits,
    status: DeviceStatus,
}

/// Attention for one packed batch: built once per batch (it holds the per-token view's
/// tables), run by every layer.
pub struct PackedAttention {
    pub heads: usize,
    pub kv_heads: usize,
    pub head_dim: usize,
    pub scale: f32,
    pub kernel: PackedAttentionKernel,
    /// Query rows: `total` (self-attention) or `batch` (pooling).
    pub queries: usize,
    /// i32 `[batch + 1]` = 0, 1, …, batch for pooling (one query per sequence); `None` for
    /// self-attention (queries are the tokens: `Padding::cu_seqlens`).
    cu_seqlens_q: Option<Tensor>,
    view: Option<DecodeView>,
}

impl PackedAttention {
    /// Self-attention: every token queries its sequence.
    pub fn new(padding: &Padding, heads: usize, kv_heads: usize, head_dim: usize, scale: f32, dtype: DType) -> Result<PackedAttention> {
        Self::build(padding, heads, kv_heads, head_dim, scale, dtype, false)
    }

    /// Pooling: one query row per sequence attends over all of that sequence's tokens.
    pub fn pooling(padding: &Padding, heads: usize, kv_heads: usize, head_dim: usize, scale: f32, dtype: DType) -> Result<PackedAttention> {
        Self::build(padding, heads, kv_heads, head_dim, scale, dtype, true)
    }

    fn build(padding: &Padding, heads: usize, kv_heads: usize, head_dim: usize, scale: f32, dtype: DType, pooling: bool) -> Result<PackedAttention> {
        if heads == 0 || kv_heads == 0 || heads % kv_heads != 0 {
            return Err(Error::shape(OP, format!("{heads} heads is not a positive multiple of {kv_heads} kv heads")));
        }
        if !(scale.is_finite() && scale > 0.0) {
            return Err(Error::bad_input(OP, format!("scale {scale} must be finite and > 0")));
        }
        let kernel = PackedAttentionKernel::choose(dtype, head_dim)?;
        let view = match kernel {
            PackedAttentionKernel::Prefill => None,
            PackedAttentionKernel::PerTokenDecode => Some(DecodeView::new(padding, kv_heads, head_dim, dtype, pooling)?),
        };
        let (queries, cu_seqlens_q) = if pooling {
            let cu: Vec<i32> = (0..=padding.batch as i32).collect();
            (padding.batch, Some(Tensor::from_i32(padding.cu_seqlens.device(), &cu, &[padding.batch + 1])?))
        } else {
            (padding.total, None)
        };
        Ok(PackedAttention { heads, kv_heads, head_dim, scale, kernel, queries, cu_seqlens_q, view })
    }

    /// `out` `[queries, heads·head_dim]` (contiguous) from `q` `[queries, heads·head_dim]`,
    /// `k`/`v` `[total, kv_heads·head_dim]` (rows may be strided views of a fused qkv).
    pub fn forward(&self, table: &OpTable, padding: &Padding, q: &Tensor, k: &Tensor, v: &Tensor, out: &Tensor) -> Result<()> {
        let (t, n, qw, kw) = (padding.total, self.queries, self.heads * self.head_dim, self.kv_heads * self.head_dim);
        let fits = |x: &Tensor, rows: usize, w: usize| x.rank() == 2 && x.dim(0) == rows && x.dim(1) == w;
        if !fits(q, n, qw) || !fits(k, t, kw) || !fits(v, t, kw) || !fits(out, n, qw) || !out.is_contiguous() {
            return Err(Error::shape(OP, format!("q {q:?}, out {out:?} must be [{n}, {qw}] (out contiguous), k {k:?} and v {v:?} [{t}, {kw}]")));
        }
        match &self.view {
            None => {
                let cu_q = self.cu_seqlens_q.as_ref().unwrap_or(&padding.cu_seqlens);
                let max_q = if self.cu_seqlens_q.is_some() { 1 } else { padding.max_len };
                let p = PrefillParams { head_dim: self.head_dim, causal: false, scale: self.scale, window_left: None, max_seqlen_q: max_q };
                let kv = PrefillKv::Contiguous { key: k, value: v, cu_seqlens_k: &padding.cu_seqlens };
                prefill_attention(table, q, kv, cu_q, &p, out)
            }
            Some(view) => {
                if view.slot_mapping.dim(0) != t {
                    return Err(Error::shape(OP, format!("built for {} tokens, called with {t}", view.slot_mapping.dim(0))));
                }
                let cache = PagedKv { key_cache: &view.key_cache, value_cache: &view.value_cache };
                reshape_and_cache(table, k, v, &cache, &view.slot_mapping, &view.status)?;
                let o = out.reshape(&[n, self.heads, self.head_dim])?;
                paged_attention_decode(table, q, &cache, &view.block_table, &view.seq_lens, view.splits, None, self.scale, &o, &view.status)
            }
        }
    }
}

impl DecodeView {
    /// `pooling`: one query per sequence instead of one per token.
    fn new(padding: &Padding, kv_heads: usize, head_dim: usize, dtype: DType, pooling: bool) -> Result<DecodeView> {
        let (t, max_len) = (padding.total, padding.max_len);
        let queries = if pooling { padding.batch } else { t };
        // The decode kernel's grid has one row per query: at most 65535.
        if queries > 65535 {
            return Err(Error::shape(OP, format!("{queries} queries: the per-token view takes at most 65535 (use f16/bf16 for the varlen prefill kernel)")));
        }
        let dev = padding.cu_seqlens.device();
        let (table, lens) = decode_view_tables(&padding.lens, max_len, pooling);
        let slots: Vec<i64> = (0..t as i64).collect();
        Ok(DecodeView {
            key_cache: Tensor::empty(dev, &[t, 1, kv_heads, head_dim], dtype)?,
            value_cache: Tensor::empty(dev, &[t, 1, kv_heads, head_dim], dtype)?,
            slot_mapping: Tensor::from_i64(dev, &slots, &[t])?,
            block_table: Tensor::from_i32(dev, &table, &[queries, max_len])?,
            seq_lens: Tensor::from_i32(dev, &lens, &[queries])?,
            // One split over the whole sequence: no workspace, and encoder sequences are short.
            splits: DecodeSplits::new(max_len, 1, max_len)?,
            status: DeviceStatus::new(dev)?,
        })
    }
}

/// The per-token view's host tables for sequences of `lens` packed back to back, one block
/// per token: for each query (every token, or one per sequence when `pooling`) the row of
/// its sequence's packed rows (padded past the length with its last row, never read) and
/// the sequence length.
fn decode_view_tables(lens: &[usize], max_len: usize, pooling: bool) -> (Vec<i32>, Vec<i32>) {
    let (mut table, mut seq_lens) = (Vec::new(), Vec::new());
    let mut start = 0usize;
    for &len in lens {
        for _ in 0..if pooling { 1 } else { len } {
            table.extend((0..max_len).map(|j| (start + j.min(len.saturating_sub(1))) as i32));
            seq_lens.push(len as i32);
        }
        start += len;
    }
    (table, seq_lens)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decode_view_rows_list_each_sequence_tokens() {
        let (t, l) = decode_view_tables(&[2, 3], 3, false);
        assert_eq!(l, [2, 2, 3, 3, 3]);
        assert_eq!(t, [0, 1, 1, 0, 1, 1, 2, 3, 4, 2, 3, 4, 2, 3, 4]);
        let (t, l) = decode_view_tables(&[2, 3], 3, true);
        assert_eq!(l, [2, 3]);
        assert_eq!(t, [0, 1, 1, 2, 3, 4]);
    }

    #[test]
    fn kernel_choice_follows_dtype_and_head_dim() {
        use PackedAttentionKernel::*;
        assert_eq!(PackedAttentionKernel::choose(DType::BF16, 64).unwrap(), Prefill);
        assert_eq!(PackedAttentionKernel::choose(DType::F16, 80).unwrap(), Prefill);
        assert_eq!(PackedAttentionKernel::choose(DType::F32, 64).unwrap(), PerTokenDecode);
        let e = PackedAttentionKernel::choose(DType::F32, 80).unwrap_err().to_string();
        assert!(e.contains("head_dim 80"), "{e}");
        assert!(PackedAttentionKernel::choose(DType::BF16, 8).is_err());
    }
}
