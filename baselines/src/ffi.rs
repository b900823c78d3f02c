//! Rust mirrors of the launcher params structs in `include/fk/ops/*.h`, and the baseline
//! launchers. Layouts are checked against the C++ compiler's (`abi/abi_check.cu`) in tests.

use fk_runtime::RawStream;
use std::ffi::c_void;

/// Every launcher, baseline or candidate, has this ABI: a pointer to its op's params struct
/// and the stream. It returns a `cudaError_t` (0 = success).
pub type Launcher = unsafe extern "C" fn(params: *const c_void, stream: RawStream) -> i32;

#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct FkStatus {
    pub bad_count: u64,
    pub first_bad: u64,
}

#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct RmsNormParams {
    pub out: u64,
    pub input: u64,
    pub weight: u64,
    pub rows: i64,
    pub hidden: i64,
    pub input_stride: i64,
    pub out_stride: i64,
    pub eps: f32,
    pub dtype: i32,
}

#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct FusedAddRmsNormParams {
    pub input: u64,
    pub residual: u64,
    pub weight: u64,
    pub rows: i64,
    pub hidden: i64,
    pub input_stride: i64,
    pub residual_stride: i64,
    pub eps: f32,
    pub dtype: i32,
}

#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct ActAndMulParams {
    pub out: u64,
    pub input: u64,
    pub rows: i64,
    pub d: i64,
    pub input_stride: i64,
    pub out_stride: i64,
    pub dtype: i32,
    pub approximate: i32,
}

#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct RotaryEmbeddingParams {
    pub positions: u64,
    pub query: u64,
    pub key: u64,
    pub cos_sin_cache: u64,
    pub status: u64,
    pub tokens: i64,
    pub query_stride: i64,
    pub key_stride: i64,
    pub max_position: i64,
    pub num_heads: i32,
    pub num_kv_heads: i32,
    pub head_size: i32,
    pub rot_dim: i32,
    pub is_neox: i32,
    pub dtype: i32,
}

#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct EmbeddingParams {
    pub out: u64,
    pub ids: u64,
    pub weight: u64,
    pub status: u64,
    pub tokens: i64,
    pub hidden: i64,
    pub vocab: i64,
    pub out_stride: i64,
    pub ids_dtype: i32,
    pub dtype: i32,
}

#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct ReshapeAndCacheParams {
    pub key: u64,
    pub value: u64,
    pub key_cache: u64,
    pub value_cache: u64,
    pub slot_mapping: u64,
    pub status: u64,
    pub tokens: i64,
    pub key_stride: i64,
    pub value_stride: i64,
    pub num_blocks: i64,
    pub block_size: i32,
    pub kv_heads: i32,
    pub head_dim: i32,
    pub dtype: i32,
}

#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct PagedAttentionDecodeParams {
    pub out: u64,
    pub query: u64,
    pub key_cache: u64,
    pub value_cache: u64,
    pub block_table: u64,
    pub seq_lens: u64,
    pub workspace: u64,
    pub status: u64,
    pub seqs: i64,
    pub query_stride: i64,
    pub num_blocks: i64,
    pub heads: i32,
    pub kv_heads: i32,
    pub head_dim: i32,
    pub block_size: i32,
    pub max_blocks_per_seq: i32,
    pub max_splits: i32,
    pub split_tokens: i32,
    pub scale: f32,
    pub dtype: i32,
    pub pad_: i32,
}

#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct SkinnyGemmParams {
    pub out: u64,
    pub x: u64,
    pub weight: u64,
    pub bias: u64,
    pub rows: i64,
    pub n: i64,
    pub k: i64,
    pub x_stride: i64,
    pub out_stride: i64,
    pub dtype: i32,
    pub flags: i32,
    /// The conv epilogue (all zero without one; see the header).
    pub conv_out: u64,
    pub conv_weight: u64,
    pub conv_bias: u64,
    pub conv_state: u64,
    pub conv_state_indices: u64,
    pub conv_state_rows: i64,
    pub conv_begin: i64,
    pub conv_dim: i64,
    pub conv_out_stride: i64,
    pub conv_width: i32,
    pub conv_silu: i32,
}

/// `FK_SKINNY_GEMM_MAX_ROWS` of include/fk/ops/skinny_gemm.h.
pub const SKINNY_GEMM_MAX_ROWS: usize = 8;
/// `FK_SKINNY_GEMM_WEIGHT_SETTLED` of include/fk/ops/skinny_gemm.h.
pub const SKINNY_GEMM_WEIGHT_SETTLED: i32 = 1;
/// `FK_SKINNY_GEMM_STREAM` of include/fk/ops/skinny_gemm.h.
pub const SKINNY_GEMM_STREAM: i32 = 2;

#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct SampleParams {
    pub out: u64,
    pub logits: u64,
    pub temperature: u64,
    pub top_k: u64,
    pub top_p: u64,
    pub rng: u64,
    pub status: u64,
    pub batch: i64,
    pub vocab: i64,
    pub logits_stride: i64,
    pub dtype: i32,
    pub pad_: i32,
}

#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct PrefillAttentionParams {
    pub out: u64,
    pub query: u64,
    pub key: u64,
    pub value: u64,
    pub cu_seqlens_q: u64,
    pub cu_seqlens_k: u64,
    pub block_table: u64,
    pub seq_lens_k: u64,
    pub status: u64,
    pub total_q: i64,
    pub total_k: i64,
    pub query_stride: i64,
    pub key_stride: i64,
    pub value_stride: i64,
    pub num_blocks: i64,
    pub batch: i32,
    pub heads: i32,
    pub kv_heads: i32,
    pub head_dim: i32,
    pub max_seqlen_q: i32,
    pub block_size: i32,
    pub max_blocks_per_seq: i32,
    pub causal: i32,
    pub window_left: i32,
    pub scale: f32,
    pub dtype: i32,
    pub variant: i32,
}

#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct TopkSoftmaxParams {
    pub topk_weights: u64,
    pub topk_ids: u64,
    pub logits: u64,
    pub tokens: i64,
    pub logits_stride: i64,
    pub num_experts: i32,
    pub top_k: i32,
    pub renormalize: i32,
    pub dtype: i32,
}

/// `FK_TOPK_SOFTMAX_MAX_EXPERTS` / `FK_TOPK_SOFTMAX_MAX_K` of include/fk/ops/topk_softmax.h.
pub const TOPK_SOFTMAX_MAX_EXPERTS: usize = 256;
pub const TOPK_SOFTMAX_MAX_K: usize = 8;

#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct MoeAlignBlockSizeParams {
    pub sorted_token_ids: u64,
    pub expert_ids: u64,
    pub num_tokens_post_padded: u64,
    pub topk_ids: u64,
    pub status: u64,
    pub slots: i64,
    pub num_experts: i32,
    pub block_size: i32,
}

/// `FK_MOE_ALIGN_MAX_EXPERTS` of include/fk/ops/moe_align_block_size.h.
pub const MOE_ALIGN_MAX_EXPERTS: usize = 512;

#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct FusedMoeParams {
    pub out: u64,
    pub a: u64,
    pub weight: u64,
    pub sorted_token_ids: u64,
    pub expert_ids: u64,
    pub num_tokens_post_padded: u64,
    pub topk_weights: u64,
    pub num_slots: i64,
    pub em_capacity: i64,
    pub n: i64,
    pub k: i64,
    pub a_stride: i64,
    pub out_stride: i64,
    pub num_experts: i32,
    pub a_rows_per_slot: i32,
    pub block_size: i32,
    pub activation: i32,
    pub dtype: i32,
    pub pad_: i32,
}

#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct MoeSumParams {
    pub out: u64,
    pub input: u64,
    pub topk_weights: u64,
    pub topk_ids: u64,
    pub tokens: i64,
    pub hidden: i64,
    pub out_stride: i64,
    pub top_k: i32,
    pub num_experts: i32,
    pub dtype: i32,
    pub pad_: i32,
}

// Encoder ops (issue 6): include/fk/ops/{layer_norm,gelu,patch_embed_im2col,rope_2d,
// interpolate_pos_embed,pool,gather_rows}.h.

#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct LayerNormParams {
    pub out: u64,
    pub input: u64,
    pub residual: u64,
    pub weight: u64,
    pub bias: u64,
    pub rows: i64,
    pub hidden: i64,
    pub input_stride: i64,
    pub out_stride: i64,
    pub residual_stride: i64,
    pub eps: f32,
    pub dtype: i32,
}

#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct GeluParams {
    pub out: u64,
    pub input: u64,
    pub n: i64,
    pub mode: i32,
    pub dtype: i32,
}

#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct PatchEmbedIm2colParams {
    pub out: u64,
    pub pixels: u64,
    pub batch: i64,
    pub channels: i64,
    pub height: i64,
    pub width: i64,
    pub patch: i64,
    pub out_stride: i64,
    pub dtype: i32,
    pub pixels_dtype: i32,
}

#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct Rope2dParams {
    pub query: u64,
    pub key: u64,
    pub cos_sin_cache: u64,
    pub tokens: i64,
    pub seq: i64,
    pub prefix: i64,
    pub query_stride: i64,
    pub key_stride: i64,
    pub heads: i32,
    pub kv_heads: i32,
    pub head_dim: i32,
    pub dtype: i32,
}

#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct InterpolatePosEmbedParams {
    pub out: u64,
    pub input: u64,
    pub channels: i64,
    pub in_h: i32,
    pub in_w: i32,
    pub out_h: i32,
    pub out_w: i32,
    pub mode: i32,
    pub dtype: i32,
}

#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct PoolParams {
    pub out: u64,
    pub input: u64,
    pub mask: u64,
    pub batch: i64,
    pub seq: i64,
    pub hidden: i64,
    pub out_stride: i64,
    pub mode: i32,
    pub normalize: i32,
    pub mask_dtype: i32,
    pub dtype: i32,
}

/// `FK_POOL_MAX_HIDDEN` of include/fk/ops/pool.h.
pub const POOL_MAX_HIDDEN: usize = 12288;

#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct GatherRowsParams {
    pub out: u64,
    pub input: u64,
    pub index: u64,
    pub status: u64,
    pub rows: i64,
    pub cols: i64,
    pub in_rows: i64,
    pub input_stride: i64,
    pub out_stride: i64,
    pub dtype: i32,
    pub pad_: i32,
}

/// `FK_CAUSAL_CONV1D_MAX_WIDTH` of include/fk/ops/causal_conv1d.h.
pub const CAUSAL_CONV1D_MAX_WIDTH: usize = 4;

#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct CausalConv1dParams {
    pub out: u64,
    pub x: u64,
    pub weight: u64,
    pub bias: u64,
    pub cu_seqlens: u64,
    pub initial_state: u64,
    pub final_state: u64,
    pub tokens: i64,
    pub dim: i64,
    pub x_stride: i64,
    pub out_stride: i64,
    pub batch: i32,
    pub width: i32,
    pub silu: i32,
    pub dtype: i32,
}

#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct CausalConv1dUpdateParams {
    pub out: u64,
    pub x: u64,
    pub weight: u64,
    pub bias: u64,
    pub conv_state: u64,
    pub state_indices: u64,
    pub state_rows: i64,
    pub batch: i64,
    pub dim: i64,
    pub x_stride: i64,
    pub out_stride: i64,
    pub width: i32,
    pub silu: i32,
    pub dtype: i32,
    pub pad_: i32,
}

/// `FK_SELECTIVE_SCAN_MAX_DSTATE` of include/fk/ops/selective_scan.h.
pub const SELECTIVE_SCAN_MAX_DSTATE: usize = 64;

#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct SelectiveScanParams {
    pub out: u64,
    pub u: u64,
    pub delta: u64,
    pub a: u64,
    pub b: u64,
    pub c: u64,
    pub d: u64,
    pub z: u64,
    pub delta_bias: u64,
    pub cu_seqlens: u64,
    pub initial_state: u64,
    pub final_state: u64,
    pub tokens: i64,
    pub dim: i64,
    pub u_stride: i64,
    pub delta_stride: i64,
    pub z_stride: i64,
    pub out_stride: i64,
    pub b_stride: i64,
    pub c_stride: i64,
    pub batch: i32,
    pub d_state: i32,
    pub delta_softplus: i32,
    pub dtype: i32,
}

/// `FK_SELECTIVE_STATE_UPDATE_MAX_DSTATE` of include/fk/ops/selective_state_update.h.
pub const SELECTIVE_STATE_UPDATE_MAX_DSTATE: usize = 256;
/// `FK_SELECTIVE_STATE_UPDATE_STATE_SETTLED` of include/fk/ops/selective_state_update.h.
pub const SELECTIVE_STATE_UPDATE_STATE_SETTLED: i32 = 1;

#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct SelectiveStateUpdateParams {
    pub out: u64,
    pub state: u64,
    pub state_indices: u64,
    pub state_rows: i64,
    pub x: u64,
    pub dt: u64,
    pub a: u64,
    pub b: u64,
    pub c: u64,
    pub d: u64,
    pub z: u64,
    pub dt_bias: u64,
    pub batch: i64,
    pub x_stride: i64,
    pub dt_stride: i64,
    pub z_stride: i64,
    pub out_stride: i64,
    pub b_stride: i64,
    pub c_stride: i64,
    pub heads: i32,
    pub head_dim: i32,
    pub ngroups: i32,
    pub d_state: i32,
    pub dt_softplus: i32,
    pub a_per_state: i32,
    pub dtype: i32,
    pub flags: i32,
    pub dt_proj: u64,
    pub dt_rank: i64,
}

/// `FK_SSD_CHUNK_SCAN_MAX_{DSTATE,HEADDIM}` of include/fk/ops/ssd_chunk_scan.h.
pub const SSD_CHUNK_SCAN_MAX_DSTATE: usize = 256;
pub const SSD_CHUNK_SCAN_MAX_HEADDIM: usize = 256;

#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct SsdChunkScanParams {
    pub out: u64,
    pub x: u64,
    pub dt: u64,
    pub a: u64,
    pub b: u64,
    pub c: u64,
    pub d: u64,
    pub dt_bias: u64,
    pub cu_seqlens: u64,
    pub initial_state: u64,
    pub final_state: u64,
    pub workspace: u64,
    pub workspace_bytes: i64,
    pub tokens: i64,
    pub x_stride: i64,
    pub dt_stride: i64,
    pub b_stride: i64,
    pub c_stride: i64,
    pub out_stride: i64,
    pub dt_min: f32,
    pub dt_max: f32,
    pub batch: i32,
    pub heads: i32,
    pub head_dim: i32,
    pub ngroups: i32,
    pub d_state: i32,
    pub dt_softplus: i32,
    pub dtype: i32,
    pub pad_: i32,
}

#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct RmsNormGatedParams {
    pub out: u64,
    pub x: u64,
    pub z: u64,
    pub weight: u64,
    pub rows: i64,
    pub hidden: i64,
    pub group_size: i64,
    pub x_stride: i64,
    pub z_stride: i64,
    pub out_stride: i64,
    pub eps: f32,
    pub dtype: i32,
}

/// `fk_mamba_decode_layer`: one Mamba-1 block's weights and this step's state tensors.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct MambaDecodeLayer {
    pub norm_weight: u64,
    pub in_proj: u64,
    pub conv_weight: u64,
    pub conv_bias: u64,
    pub x_proj_t: u64,
    pub dt_proj: u64,
    pub dt_bias: u64,
    pub a: u64,
    pub d: u64,
    pub out_proj: u64,
    pub conv_state: u64,
    pub ssm_state: u64,
}

pub const MAMBA_DECODE_MAX_LAYERS: usize = 64;
pub const MAMBA_DECODE_STAGE_BYTES: usize = 20480;

#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct MambaDecodeLayersParams {
    pub residual: u64,
    pub xc: u64,
    pub dbc: u64,
    pub y: u64,
    pub acc: u64,
    pub barrier: u64,
    pub state_index: u64,
    pub state_rows: i64,
    pub layers: i32,
    pub hidden: i32,
    pub inner: i32,
    pub dt_rank: i32,
    pub d_state: i32,
    pub conv_width: i32,
    pub eps: f32,
    pub dtype: i32,
    pub layer: [MambaDecodeLayer; MAMBA_DECODE_MAX_LAYERS],
}

extern "C" {
    pub fn fk_baseline_rms_norm(params: *const c_void, stream: RawStream) -> i32;
    pub fn fk_baseline_fused_add_rms_norm(params: *const c_void, stream: RawStream) -> i32;
    pub fn fk_baseline_silu_and_mul(params: *const c_void, stream: RawStream) -> i32;
    pub fn fk_baseline_gelu_and_mul(params: *const c_void, stream: RawStream) -> i32;
    pub fn fk_baseline_rotary_embedding(params: *const c_void, stream: RawStream) -> i32;
    pub fn fk_baseline_embedding(params: *const c_void, stream: RawStream) -> i32;
    pub fn fk_baseline_reshape_and_cache(params: *const c_void, stream: RawStream) -> i32;
    pub fn fk_baseline_paged_attention_decode(params: *const c_void, stream: RawStream) -> i32;
    pub fn fk_baseline_skinny_gemm(params: *const c_void, stream: RawStream) -> i32;
    pub fn fk_baseline_prefill_attention(params: *const c_void, stream: RawStream) -> i32;
    pub fn fk_baseline_sample(params: *const c_void, stream: RawStream) -> i32;
    pub fn fk_baseline_topk_softmax(params: *const c_void, stream: RawStream) -> i32;
    pub fn fk_baseline_moe_align_block_size(params: *const c_void, stream: RawStream) -> i32;
    pub fn fk_baseline_fused_moe(params: *const c_void, stream: RawStream) -> i32;
    pub fn fk_baseline_moe_sum(params: *const c_void, stream: RawStream) -> i32;
    pub fn fk_baseline_layer_norm(params: *const c_void, stream: RawStream) -> i32;
    pub fn fk_baseline_gelu(params: *const c_void, stream: RawStream) -> i32;
    pub fn fk_baseline_patch_embed_im2col(params: *const c_void, stream: RawStream) -> i32;
    pub fn fk_baseline_rope_2d(params: *const c_void, stream: RawStream) -> i32;
    pub fn fk_baseline_interpolate_pos_embed(params: *const c_void, stream: RawStream) -> i32;
    pub fn fk_baseline_pool(params: *const c_void, stream: RawStream) -> i32;
    pub fn fk_baseline_gather_rows(params: *const c_void, stream: RawStream) -> i32;
    pub fn fk_baseline_causal_conv1d(params: *const c_void, stream: RawStream) -> i32;
    pub fn fk_baseline_causal_conv1d_update(params: *const c_void, stream: RawStream) -> i32;
    pub fn fk_baseline_selective_scan(params: *const c_void, stream: RawStream) -> i32;
    pub fn fk_baseline_selective_state_update(params: *const c_void, stream: RawStream) -> i32;
    pub fn fk_baseline_rms_norm_gated(params: *const c_void, stream: RawStream) -> i32;
    pub fn fk_baseline_ssd_chunk_scan(params: *const c_void, stream: RawStream) -> i32;
    pub fn fk_baseline_mamba_decode_layers(params: *const c_void, stream: RawStream) -> i32;
    fn fk_baselines_abi_layout(which: *const std::ffi::c_char, index: i32) -> usize;
    fn fk_baselines_ssd_chunk_scan_workspace_bytes(tokens: i64, batch: i32, heads: i32, head_dim: i32, d_state: i32, dtype: i32) -> i64;
}

/// Device workspace bytes `ssd_chunk_scan` needs (`fk_ssd_chunk_scan_workspace_bytes` of its
/// contract header, called rather than mirrored so the two cannot disagree).
pub fn ssd_chunk_scan_workspace_bytes(tokens: usize, batch: usize, heads: usize, head_dim: usize, d_state: usize, dtype: i32) -> usize {
    // SAFETY: host-only arithmetic on plain integers.
    let b = unsafe { fk_baselines_ssd_chunk_scan_workspace_bytes(tokens as i64, batch as i32, heads as i32, head_dim as i32, d_state as i32, dtype) };
    b.max(0) as usize
}

/// Size (index 0) or offset of field `index` (1-based) of the C struct `which`.
pub fn c_layout(which: &str, index: i32) -> usize {
    let name = std::ffi::CString::new(which).expect("no NUL in struct names");
    // SAFETY: host-only function over static data; the string outlives the call.
    unsafe { fk_baselines_abi_layout(name.as_ptr(), index) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::mem::{offset_of, size_of};

    macro_rules! check_layout {
        ($c:literal, $t:ty, [$($f:ident),*]) => {{
            assert_eq!(c_layout($c, 0), size_of::<$t>(), "sizeof {}", $c);
            let rust = [$(offset_of!($t, $f)),*];
            for (i, off) in rust.iter().enumerate() {
                assert_eq!(c_layout($c, i as i32 + 1), *off, "{} field #{}", $c, i + 1);
            }
            assert_eq!(c_layout($c, rust.len() as i32 + 1), usize::MAX, "{}: C has more fields than Rust", $c);
        }};
    }

    #[test]
    fn params_match_the_c_layout() {
        check_layout!("rms_norm", RmsNormParams, [out, input, weight, rows, hidden, input_stride, out_stride, eps, dtype]);
        check_layout!(
            "fused_add_rms_norm",
            FusedAddRmsNormParams,
            [input, residual, weight, rows, hidden, input_stride, residual_stride, eps, dtype]
        );
        check_layout!("act_and_mul", ActAndMulParams, [out, input, rows, d, input_stride, out_stride, dtype, approximate]);
        check_layout!(
            "rotary_embedding",
            RotaryEmbeddingParams,
            [positions, query, key, cos_sin_cache, status, tokens, query_stride, key_stride, max_position, num_heads,
             num_kv_heads, head_size, rot_dim, is_neox, dtype]
        );
        check_layout!(
            "embedding",
            EmbeddingParams,
            [out, ids, weight, status, tokens, hidden, vocab, out_stride, ids_dtype, dtype]
        );
        check_layout!("fk_status", FkStatus, [bad_count, first_bad]);
        check_layout!(
            "reshape_and_cache",
            ReshapeAndCacheParams,
            [key, value, key_cache, value_cache, slot_mapping, status, tokens, key_stride, value_stride, num_blocks,
             block_size, kv_heads, head_dim, dtype]
        );
        check_layout!(
            "paged_attention_decode",
            PagedAttentionDecodeParams,
            [out, query, key_cache, value_cache, block_table, seq_lens, workspace, status, seqs, query_stride, num_blocks,
             heads, kv_heads, head_dim, block_size, max_blocks_per_seq, max_splits, split_tokens, scale, dtype, pad_]
        );
        check_layout!(
            "prefill_attention",
            PrefillAttentionParams,
            [out, query, key, value, cu_seqlens_q, cu_seqlens_k, block_table, seq_lens_k, status, total_q, total_k,
             query_stride, key_stride, value_stride, num_blocks, batch, heads, kv_heads, head_dim, max_seqlen_q,
             block_size, max_blocks_per_seq, causal, window_left, scale, dtype, variant]
        );
        check_layout!(
            "sample",
            SampleParams,
            [out, logits, temperature, top_k, top_p, rng, status, batch, vocab, logits_stride, dtype, pad_]
        );
    }

    #[test]
    fn skinny_gemm_layout_and_max_rows() {
        check_layout!("skinny_gemm", SkinnyGemmParams, [out, x, weight, bias, rows, n, k, x_stride, out_stride, dtype, flags, conv_out, conv_weight, conv_bias, conv_state, conv_state_indices, conv_state_rows, conv_begin, conv_dim, conv_out_stride, conv_width, conv_silu]);
        assert!(include_str!("../include/fk/ops/skinny_gemm.h").contains(&format!("FK_SKINNY_GEMM_MAX_ROWS {SKINNY_GEMM_MAX_ROWS}")));
        assert!(include_str!("../include/fk/ops/skinny_gemm.h").contains(&format!("FK_SKINNY_GEMM_WEIGHT_SETTLED {SKINNY_GEMM_WEIGHT_SETTLED}")));
        assert!(include_str!("../include/fk/ops/skinny_gemm.h").contains(&format!("FK_SKINNY_GEMM_STREAM {SKINNY_GEMM_STREAM}")));
    }

    #[test]
    fn moe_layouts_and_limits() {
        check_layout!("topk_softmax", TopkSoftmaxParams, [topk_weights, topk_ids, logits, tokens, logits_stride, num_experts, top_k, renormalize, dtype]);
        check_layout!(
            "moe_align_block_size",
            MoeAlignBlockSizeParams,
            [sorted_token_ids, expert_ids, num_tokens_post_padded, topk_ids, status, slots, num_experts, block_size]
        );
        check_layout!(
            "fused_moe",
            FusedMoeParams,
            [out, a, weight, sorted_token_ids, expert_ids, num_tokens_post_padded, topk_weights, num_slots, em_capacity, n, k,
             a_stride, out_stride, num_experts, a_rows_per_slot, block_size, activation, dtype, pad_]
        );
        check_layout!("moe_sum", MoeSumParams, [out, input, topk_weights, topk_ids, tokens, hidden, out_stride, top_k, num_experts, dtype, pad_]);
        let topk = include_str!("../include/fk/ops/topk_softmax.h");
        assert!(topk.contains(&format!("FK_TOPK_SOFTMAX_MAX_EXPERTS {TOPK_SOFTMAX_MAX_EXPERTS}")));
        assert!(topk.contains(&format!("FK_TOPK_SOFTMAX_MAX_K {TOPK_SOFTMAX_MAX_K}")));
        assert!(include_str!("../include/fk/ops/moe_align_block_size.h").contains(&format!("FK_MOE_ALIGN_MAX_EXPERTS {MOE_ALIGN_MAX_EXPERTS}")));
    }

    #[test]
    fn encoder_layouts_and_limits() {
        check_layout!("layer_norm", LayerNormParams, [out, input, residual, weight, bias, rows, hidden, input_stride, out_stride, residual_stride, eps, dtype]);
        check_layout!("gelu", GeluParams, [out, input, n, mode, dtype]);
        check_layout!("patch_embed_im2col", PatchEmbedIm2colParams, [out, pixels, batch, channels, height, width, patch, out_stride, dtype, pixels_dtype]);
        check_layout!("rope_2d", Rope2dParams, [query, key, cos_sin_cache, tokens, seq, prefix, query_stride, key_stride, heads, kv_heads, head_dim, dtype]);
        check_layout!("interpolate_pos_embed", InterpolatePosEmbedParams, [out, input, channels, in_h, in_w, out_h, out_w, mode, dtype]);
        check_layout!("pool", PoolParams, [out, input, mask, batch, seq, hidden, out_stride, mode, normalize, mask_dtype, dtype]);
        check_layout!("gather_rows", GatherRowsParams, [out, input, index, status, rows, cols, in_rows, input_stride, out_stride, dtype, pad_]);
        assert!(include_str!("../include/fk/ops/pool.h").contains(&format!("FK_POOL_MAX_HIDDEN {POOL_MAX_HIDDEN}")));
        assert!(include_str!("../include/fk/ops/layer_norm.h").contains("FK_LAYER_NORM_MAX_HIDDEN_BYTES (512 * 8 * 16)"));
    }

    #[test]
    fn ssm_layouts_and_limits() {
        check_layout!(
            "causal_conv1d",
            CausalConv1dParams,
            [out, x, weight, bias, cu_seqlens, initial_state, final_state, tokens, dim, x_stride, out_stride, batch, width, silu, dtype]
        );
        check_layout!("causal_conv1d_update", CausalConv1dUpdateParams, [out, x, weight, bias, conv_state, state_indices, state_rows, batch, dim, x_stride, out_stride, width, silu, dtype, pad_]);
        check_layout!(
            "selective_scan",
            SelectiveScanParams,
            [out, u, delta, a, b, c, d, z, delta_bias, cu_seqlens, initial_state, final_state, tokens, dim, u_stride, delta_stride,
             z_stride, out_stride, b_stride, c_stride, batch, d_state, delta_softplus, dtype]
        );
        check_layout!(
            "selective_state_update",
            SelectiveStateUpdateParams,
            [out, state, state_indices, state_rows, x, dt, a, b, c, d, z, dt_bias, batch, x_stride, dt_stride, z_stride, out_stride, b_stride, c_stride, heads,
             head_dim, ngroups, d_state, dt_softplus, a_per_state, dtype, flags, dt_proj, dt_rank]
        );
        check_layout!("rms_norm_gated", RmsNormGatedParams, [out, x, z, weight, rows, hidden, group_size, x_stride, z_stride, out_stride, eps, dtype]);
        check_layout!(
            "mamba_decode_layer",
            MambaDecodeLayer,
            [norm_weight, in_proj, conv_weight, conv_bias, x_proj_t, dt_proj, dt_bias, a, d, out_proj, conv_state, ssm_state]
        );
        check_layout!(
            "mamba_decode_layers",
            MambaDecodeLayersParams,
            [residual, xc, dbc, y, acc, barrier, state_index, state_rows, layers, hidden, inner, dt_rank, d_state, conv_width, eps, dtype, layer]
        );
        let mdl = include_str!("../include/fk/ops/mamba_decode_layers.h");
        assert!(mdl.contains(&format!("FK_MAMBA_DECODE_MAX_LAYERS {MAMBA_DECODE_MAX_LAYERS}")));
        assert!(mdl.contains(&format!("FK_MAMBA_DECODE_STAGE_BYTES {MAMBA_DECODE_STAGE_BYTES}")));
        check_layout!(
            "ssd_chunk_scan",
            SsdChunkScanParams,
            [out, x, dt, a, b, c, d, dt_bias, cu_seqlens, initial_state, final_state, workspace, workspace_bytes, tokens, x_stride, dt_stride, b_stride, c_stride,
             out_stride, dt_min, dt_max, batch, heads, head_dim, ngroups, d_state, dt_softplus, dtype, pad_]
        );
        // 8k tokens of mamba2-2.7b in bf16: 65 chunk slots of 80 x 64 x 128 states, two sums.
        assert_eq!(ssd_chunk_scan_workspace_bytes(8192, 1, 80, 64, 128, 2), 65 * 80 * 64 * 128 * 2 + 2 * (80 * 8192 * 4 + 768), "states; sums with the 528-byte slack of each, rounded to 256");
        assert_eq!(ssd_chunk_scan_workspace_bytes(8192, 1, 80, 64, 128, 0), 0, "f32 runs the plain recurrence");
        assert_eq!(ssd_chunk_scan_workspace_bytes(100, 2, 4, 64, 200, 2), 0, "so does d_state > 128");
        assert_eq!(ssd_chunk_scan_workspace_bytes(0, 3, 4, 64, 128, 2), 0);
        let ssd = include_str!("../include/fk/ops/ssd_chunk_scan.h");
        assert!(ssd.contains(&format!("FK_SSD_CHUNK_SCAN_MAX_DSTATE {SSD_CHUNK_SCAN_MAX_DSTATE}")));
        assert!(ssd.contains(&format!("FK_SSD_CHUNK_SCAN_MAX_HEADDIM {SSD_CHUNK_SCAN_MAX_HEADDIM}")));
        assert!(include_str!("../include/fk/ops/causal_conv1d.h").contains(&format!("FK_CAUSAL_CONV1D_MAX_WIDTH {CAUSAL_CONV1D_MAX_WIDTH}")));
        assert!(include_str!("../include/fk/ops/selective_scan.h").contains(&format!("FK_SELECTIVE_SCAN_MAX_DSTATE {SELECTIVE_SCAN_MAX_DSTATE}")));
        assert!(include_str!("../include/fk/ops/selective_state_update.h")
            .contains(&format!("FK_SELECTIVE_STATE_UPDATE_MAX_DSTATE {SELECTIVE_STATE_UPDATE_MAX_DSTATE}")));
        assert!(include_str!("../include/fk/ops/selective_state_update.h")
            .contains(&format!("FK_SELECTIVE_STATE_UPDATE_STATE_SETTLED {SELECTIVE_STATE_UPDATE_STATE_SETTLED}")));
    }

    /// The dtype codes in the C header are the other half of `DType::code`.
    #[test]
    fn dtype_codes_match_the_c_header() {
        let header = include_str!("../include/fk/dtype.h");
        for d in fk_runtime::DType::ALL {
            let line = format!("FK_DTYPE_{} = {}", d.name().to_uppercase(), d.code());
            assert!(header.contains(&line), "dtype.h lacks `{line}`");
        }
    }
}
