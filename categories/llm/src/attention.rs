//! Attention over the paged KV cache for one layer of a [`ForwardBatch`]: what vLLM's
//! `Attention` layer does with its backend. New keys/values are written into the cache
//! first (`reshape_and_cache`), then decode rows run `paged_attention_decode` (flash-decoding
//! with split-K) and prefill rows run the prefill kernel. Shared by every LLM of the family.
//!
//! Prefill paths, fastest first:
//! * `prefill_attention` over the new rows' K/V (fresh prompts) or over the paged cache
//!   (chunks after a cached prefix), when the dtype and head_dim have a tensor-core kernel;
//! * otherwise each prefill token runs as a decode query over its own causal prefix (the
//!   per-token view of the step). Slower, but exact for any dtype the decode kernel takes
//!   (f32 included), which is what fp32 golden tests need.

use crate::step::ForwardBatch;
use fk_baselines::ops::{self, DecodeSplits, DeviceStatus, PagedKv, PrefillKv, PrefillParams};
use fk_baselines::Context;
use fk_runtime::{DType, Device, Error, Result, Tensor};

/// The attention geometry of a layer (upstream: `num_heads`, `num_key_value_heads`,
/// `head_dim`, `scaling`).
#[derive(Clone, Copy, Debug)]
pub struct AttentionSpec {
    pub heads: usize,
    pub kv_heads: usize,
    pub head_dim: usize,
    pub scale: f32,
}

/// Per-model scratch of the attention layers (shared by all layers: they run in turn).
pub struct AttentionScratch {
    sm_count: usize,
    block_size: usize,
    max_blocks: usize,
    kv_heads: usize,
    workspace: Option<Tensor>,
    pub status: DeviceStatus,
}

impl AttentionScratch {
    /// For decode batches of up to `max_seqs` sequences with block tables `max_blocks` wide.
    pub fn new(dev: &Device, spec: &AttentionSpec, max_seqs: usize, max_blocks: usize, block_size: usize) -> Result<AttentionScratch> {
        let sm_count = dev.info().sm_count.max(1) as usize;
        // The split count depends on the batch size (fewer sequences, more splits): size the
        // workspace for the largest any batch size up to max_seqs needs.
        let mut floats = 0;
        for seqs in 1..=max_seqs {
            let splits = DecodeSplits::for_device(seqs, spec.kv_heads, max_blocks, block_size, sm_count)?;
            floats = floats.max(splits.workspace_floats(seqs, spec.heads, spec.head_dim));
        }
        let workspace = if floats > 0 { Some(Tensor::empty(dev, &[floats], DType::F32)?) } else { None };
        Ok(AttentionScratch { sm_count, block_size, max_blocks, kv_heads: spec.kv_heads, workspace, status: DeviceStatus::new(dev)? })
    }

    /// Splits of the decode kernel for `seqs` sequences (fixed per batch size, so a captured
    /// graph's launch stays valid while the lengths change on the device).
    pub fn decode_splits(&self, seqs: usize) -> Result<DecodeSplits> {
        DecodeSplits::for_device(seqs, self.kv_heads, self.max_blocks, self.block_size, self.sm_count)
    }
}

/// Run attention for every row of `batch`: `q` `[T, heads*head_dim]`, `k`/`v`
/// `[T, kv_heads*head_dim]` (views into the fused qkv output, rotary already applied),
/// writing `out` `[T, heads*head_dim]` (contiguous).
#[allow(clippy::too_many_arguments)]
pub fn paged_attention(
    ctx: &Context,
    spec: &AttentionSpec,
    q: &Tensor,
    k: &Tensor,
    v: &Tensor,
    cache: &PagedKv<'_>,
    batch: &ForwardBatch,
    scratch: &AttentionScratch,
    out: &Tensor,
) -> Result<()> {
    let (t, d, nh) = (batch.num_tokens, spec.head_dim, spec.heads);
    if q.rank() != 2 || q.dim(0) != t || out.shape() != [t, nh * d] || !out.is_contiguous() {
        return Err(Error::shape("paged_attention", format!("q {q:?} / out {out:?} must be [{t}, {}] for this batch", nh * d)));
    }
    ops::reshape_and_cache(&ctx.ops, k, v, cache, &batch.slot_mapping, &scratch.status)?;
    if let Some(dec) = &batch.decode {
        let rows = 0..dec.num_seqs;
        let qd = q.narrow(0, rows.start, rows.len())?;
        let od = out.narrow(0, rows.start, rows.len())?.reshape(&[rows.len(), nh, d])?;
        if dec.block_tables.dim(1) != scratch.max_blocks || cache.key_cache.dim(1) != scratch.block_size {
            return Err(Error::shape("paged_attention", format!("block tables {:?} / cache {:?} do not match the scratch ({} blocks of {})", dec.block_tables, cache.key_cache, scratch.max_blocks, scratch.block_size)));
        }
        let splits = scratch.decode_splits(dec.num_seqs)?;
        let ws = scratch.workspace.as_ref();
        ops::paged_attention_decode(&ctx.ops, &qd, cache, &dec.block_tables, &dec.seq_lens, splits, ws, spec.scale, &od, &scratch.status)?;
    }
    if let Some(pre) = &batch.prefill {
        let qp = q.narrow(0, pre.first_row, pre.num_tokens)?;
        let op = out.narrow(0, pre.first_row, pre.num_tokens)?;
        match &pre.token_view {
            Some((tables, lens)) => {
                // One decode query per prefill token over its causal prefix; a single split
                // per query (no workspace), since these tables are only as wide as the step.
                let width = tables.dim(1) * cache.key_cache.dim(1);
                let splits = DecodeSplits::new(tables.dim(1), cache.key_cache.dim(1), width)?;
                let od = op.reshape(&[pre.num_tokens, nh, d])?;
                ops::paged_attention_decode(&ctx.ops, &qp, cache, tables, lens, splits, None, spec.scale, &od, &scratch.status)?;
            }
            None => {
                if !prefill_kernel_supports(q.dtype(), d) {
                    return Err(Error::config(format!("no prefill attention kernel for {} head_dim {d}: build the step with the per-token view", q.dtype())));
                }
                let kv = if pre.fresh {
                    // A fresh prompt's keys are exactly its new rows: read them where the qkv
                    // GEMM left them instead of gathering them back out of the pages.
                    let rows = |t: &Tensor| t.narrow(0, pre.first_row, pre.num_tokens);
                    PrefillKeys::Rows(rows(k)?, rows(v)?)
                } else {
                    PrefillKeys::Paged
                };
                let source = match &kv {
                    PrefillKeys::Rows(key, value) => PrefillKv::Contiguous { key, value, cu_seqlens_k: &pre.cu_seqlens_q },
                    PrefillKeys::Paged => PrefillKv::Paged {
                        kv: PagedKv { key_cache: cache.key_cache, value_cache: cache.value_cache },
                        block_table: &pre.block_tables,
                        seq_lens_k: &pre.seq_lens_k,
                    },
                };
                let p = PrefillParams { head_dim: d, causal: true, scale: spec.scale, window_left: None, max_seqlen_q: pre.max_seqlen_q };
                ops::prefill_attention(&ctx.ops, &qp, source, &pre.cu_seqlens_q, &p, &op)?;
            }
        }
    }
    Ok(())
}

/// Where a prefill step's keys come from.
enum PrefillKeys {
    Rows(Tensor, Tensor),
    Paged,
}

/// Whether `prefill_attention` has a kernel for this dtype and head_dim (f16/bf16 tensor
/// cores; head_dim 64, 128, 256); when not, prefill runs through the per-token view.
pub fn prefill_kernel_supports(dtype: DType, head_dim: usize) -> bool {
    matches!(dtype, DType::BF16 | DType::F16) && matches!(head_dim, 64 | 128 | 256)
}
