// Host-only ABI report: sizes and field offsets of every launcher params struct as the C++
// compiler lays them out. The Rust mirrors in src/ffi.rs are tested against these numbers
// (no GPU needed), so a field added on one side only fails `cargo test`, not a GPU run.
#include <cstddef>
#include "fk/ops/act_and_mul.h"
#include "fk/ops/embedding.h"
#include "fk/ops/fused_add_rms_norm.h"
#include "fk/ops/paged_attention_decode.h"
#include "fk/ops/prefill_attention.h"
#include "fk/ops/reshape_and_cache.h"
#include "fk/ops/rms_norm.h"
#include "fk/ops/rotary_embedding.h"
#include "fk/ops/skinny_gemm.h"
#include "fk/ops/sample.h"
#include "fk/ops/topk_softmax.h"
#include "fk/ops/moe_align_block_size.h"
#include "fk/ops/fused_moe.h"
#include "fk/ops/moe_sum.h"
#include "fk/ops/layer_norm.h"
#include "fk/ops/gelu.h"
#include "fk/ops/patch_embed_im2col.h"
#include "fk/ops/rope_2d.h"
#include "fk/ops/interpolate_pos_embed.h"
#include "fk/ops/pool.h"
#include "fk/ops/gather_rows.h"
#include "fk/ops/causal_conv1d.h"
#include "fk/ops/causal_conv1d_update.h"
#include "fk/ops/selective_scan.h"
#include "fk/ops/selective_state_update.h"
#include "fk/ops/rms_norm_gated.h"
#include "fk/ops/ssd_chunk_scan.h"
#include "fk/ops/mamba_decode_layers.h"

#define FK_FIELD(s, f) if (++i == index) return offsetof(s, f);
#define FK_STRUCT(name, s, ...)                                              \
    if (__builtin_strcmp(which, name) == 0) {                                \
        int i = 0;                                                           \
        if (index == 0) return sizeof(s);                                    \
        __VA_ARGS__                                                          \
        return (size_t)-1;                                                   \
    }

// index 0: sizeof; index k >= 1: offset of the k-th field in declaration order.
extern "C" size_t fk_baselines_abi_layout(const char* which, int index) {
    FK_STRUCT("rms_norm", fk_rms_norm_params,
              FK_FIELD(fk_rms_norm_params, out) FK_FIELD(fk_rms_norm_params, input)
              FK_FIELD(fk_rms_norm_params, weight) FK_FIELD(fk_rms_norm_params, rows)
              FK_FIELD(fk_rms_norm_params, hidden) FK_FIELD(fk_rms_norm_params, input_stride)
              FK_FIELD(fk_rms_norm_params, out_stride) FK_FIELD(fk_rms_norm_params, eps)
              FK_FIELD(fk_rms_norm_params, dtype))
    FK_STRUCT("fused_add_rms_norm", fk_fused_add_rms_norm_params,
              FK_FIELD(fk_fused_add_rms_norm_params, input) FK_FIELD(fk_fused_add_rms_norm_params, residual)
              FK_FIELD(fk_fused_add_rms_norm_params, weight) FK_FIELD(fk_fused_add_rms_norm_params, rows)
              FK_FIELD(fk_fused_add_rms_norm_params, hidden) FK_FIELD(fk_fused_add_rms_norm_params, input_stride)
              FK_FIELD(fk_fused_add_rms_norm_params, residual_stride) FK_FIELD(fk_fused_add_rms_norm_params, eps)
              FK_FIELD(fk_fused_add_rms_norm_params, dtype))
    FK_STRUCT("act_and_mul", fk_act_and_mul_params,
              FK_FIELD(fk_act_and_mul_params, out) FK_FIELD(fk_act_and_mul_params, input)
              FK_FIELD(fk_act_and_mul_params, rows) FK_FIELD(fk_act_and_mul_params, d)
              FK_FIELD(fk_act_and_mul_params, input_stride) FK_FIELD(fk_act_and_mul_params, out_stride)
              FK_FIELD(fk_act_and_mul_params, dtype) FK_FIELD(fk_act_and_mul_params, approximate))
    FK_STRUCT("rotary_embedding", fk_rotary_embedding_params,
              FK_FIELD(fk_rotary_embedding_params, positions) FK_FIELD(fk_rotary_embedding_params, query)
              FK_FIELD(fk_rotary_embedding_params, key) FK_FIELD(fk_rotary_embedding_params, cos_sin_cache)
              FK_FIELD(fk_rotary_embedding_params, status) FK_FIELD(fk_rotary_embedding_params, tokens)
              FK_FIELD(fk_rotary_embedding_params, query_stride) FK_FIELD(fk_rotary_embedding_params, key_stride)
              FK_FIELD(fk_rotary_embedding_params, max_position) FK_FIELD(fk_rotary_embedding_params, num_heads)
              FK_FIELD(fk_rotary_embedding_params, num_kv_heads) FK_FIELD(fk_rotary_embedding_params, head_size)
              FK_FIELD(fk_rotary_embedding_params, rot_dim) FK_FIELD(fk_rotary_embedding_params, is_neox)
              FK_FIELD(fk_rotary_embedding_params, dtype))
    FK_STRUCT("embedding", fk_embedding_params,
              FK_FIELD(fk_embedding_params, out) FK_FIELD(fk_embedding_params, ids)
              FK_FIELD(fk_embedding_params, weight) FK_FIELD(fk_embedding_params, status)
              FK_FIELD(fk_embedding_params, tokens) FK_FIELD(fk_embedding_params, hidden)
              FK_FIELD(fk_embedding_params, vocab) FK_FIELD(fk_embedding_params, out_stride)
              FK_FIELD(fk_embedding_params, ids_dtype) FK_FIELD(fk_embedding_params, dtype))
    FK_STRUCT("fk_status", fk_status, FK_FIELD(fk_status, bad_count) FK_FIELD(fk_status, first_bad))
    FK_STRUCT("reshape_and_cache", fk_reshape_and_cache_params,
              FK_FIELD(fk_reshape_and_cache_params, key) FK_FIELD(fk_reshape_and_cache_params, value)
              FK_FIELD(fk_reshape_and_cache_params, key_cache) FK_FIELD(fk_reshape_and_cache_params, value_cache)
              FK_FIELD(fk_reshape_and_cache_params, slot_mapping) FK_FIELD(fk_reshape_and_cache_params, status)
              FK_FIELD(fk_reshape_and_cache_params, tokens) FK_FIELD(fk_reshape_and_cache_params, key_stride)
              FK_FIELD(fk_reshape_and_cache_params, value_stride) FK_FIELD(fk_reshape_and_cache_params, num_blocks)
              FK_FIELD(fk_reshape_and_cache_params, block_size) FK_FIELD(fk_reshape_and_cache_params, kv_heads)
              FK_FIELD(fk_reshape_and_cache_params, head_dim) FK_FIELD(fk_reshape_and_cache_params, dtype))
    FK_STRUCT("paged_attention_decode", fk_paged_attention_decode_params,
              FK_FIELD(fk_paged_attention_decode_params, out) FK_FIELD(fk_paged_attention_decode_params, query)
              FK_FIELD(fk_paged_attention_decode_params, key_cache) FK_FIELD(fk_paged_attention_decode_params, value_cache)
              FK_FIELD(fk_paged_attention_decode_params, block_table) FK_FIELD(fk_paged_attention_decode_params, seq_lens)
              FK_FIELD(fk_paged_attention_decode_params, workspace) FK_FIELD(fk_paged_attention_decode_params, status)
              FK_FIELD(fk_paged_attention_decode_params, seqs) FK_FIELD(fk_paged_attention_decode_params, query_stride)
              FK_FIELD(fk_paged_attention_decode_params, num_blocks) FK_FIELD(fk_paged_attention_decode_params, heads)
              FK_FIELD(fk_paged_attention_decode_params, kv_heads) FK_FIELD(fk_paged_attention_decode_params, head_dim)
              FK_FIELD(fk_paged_attention_decode_params, block_size) FK_FIELD(fk_paged_attention_decode_params, max_blocks_per_seq)
              FK_FIELD(fk_paged_attention_decode_params, max_splits) FK_FIELD(fk_paged_attention_decode_params, split_tokens)
              FK_FIELD(fk_paged_attention_decode_params, scale) FK_FIELD(fk_paged_attention_decode_params, dtype)
              FK_FIELD(fk_paged_attention_decode_params, pad_))
    FK_STRUCT("skinny_gemm", fk_skinny_gemm_params,
              FK_FIELD(fk_skinny_gemm_params, out) FK_FIELD(fk_skinny_gemm_params, x)
              FK_FIELD(fk_skinny_gemm_params, weight) FK_FIELD(fk_skinny_gemm_params, bias)
              FK_FIELD(fk_skinny_gemm_params, rows) FK_FIELD(fk_skinny_gemm_params, n)
              FK_FIELD(fk_skinny_gemm_params, k) FK_FIELD(fk_skinny_gemm_params, x_stride)
              FK_FIELD(fk_skinny_gemm_params, out_stride) FK_FIELD(fk_skinny_gemm_params, dtype)
              FK_FIELD(fk_skinny_gemm_params, flags)
              FK_FIELD(fk_skinny_gemm_params, conv_out) FK_FIELD(fk_skinny_gemm_params, conv_weight)
              FK_FIELD(fk_skinny_gemm_params, conv_bias) FK_FIELD(fk_skinny_gemm_params, conv_state)
              FK_FIELD(fk_skinny_gemm_params, conv_state_indices) FK_FIELD(fk_skinny_gemm_params, conv_state_rows)
              FK_FIELD(fk_skinny_gemm_params, conv_begin) FK_FIELD(fk_skinny_gemm_params, conv_dim)
              FK_FIELD(fk_skinny_gemm_params, conv_out_stride) FK_FIELD(fk_skinny_gemm_params, conv_width)
              FK_FIELD(fk_skinny_gemm_params, conv_silu))
    FK_STRUCT("prefill_attention", fk_prefill_attention_params,
              FK_FIELD(fk_prefill_attention_params, out) FK_FIELD(fk_prefill_attention_params, query)
              FK_FIELD(fk_prefill_attention_params, key) FK_FIELD(fk_prefill_attention_params, value)
              FK_FIELD(fk_prefill_attention_params, cu_seqlens_q) FK_FIELD(fk_prefill_attention_params, cu_seqlens_k)
              FK_FIELD(fk_prefill_attention_params, block_table) FK_FIELD(fk_prefill_attention_params, seq_lens_k)
              FK_FIELD(fk_prefill_attention_params, status) FK_FIELD(fk_prefill_attention_params, total_q)
              FK_FIELD(fk_prefill_attention_params, total_k) FK_FIELD(fk_prefill_attention_params, query_stride)
              FK_FIELD(fk_prefill_attention_params, key_stride) FK_FIELD(fk_prefill_attention_params, value_stride)
              FK_FIELD(fk_prefill_attention_params, num_blocks) FK_FIELD(fk_prefill_attention_params, batch)
              FK_FIELD(fk_prefill_attention_params, heads) FK_FIELD(fk_prefill_attention_params, kv_heads)
              FK_FIELD(fk_prefill_attention_params, head_dim) FK_FIELD(fk_prefill_attention_params, max_seqlen_q)
              FK_FIELD(fk_prefill_attention_params, block_size) FK_FIELD(fk_prefill_attention_params, max_blocks_per_seq)
              FK_FIELD(fk_prefill_attention_params, causal) FK_FIELD(fk_prefill_attention_params, window_left)
              FK_FIELD(fk_prefill_attention_params, scale) FK_FIELD(fk_prefill_attention_params, dtype)
              FK_FIELD(fk_prefill_attention_params, variant))
    FK_STRUCT("sample", fk_sample_params,
              FK_FIELD(fk_sample_params, out) FK_FIELD(fk_sample_params, logits)
              FK_FIELD(fk_sample_params, temperature) FK_FIELD(fk_sample_params, top_k)
              FK_FIELD(fk_sample_params, top_p) FK_FIELD(fk_sample_params, rng)
              FK_FIELD(fk_sample_params, status) FK_FIELD(fk_sample_params, batch)
              FK_FIELD(fk_sample_params, vocab) FK_FIELD(fk_sample_params, logits_stride)
              FK_FIELD(fk_sample_params, dtype) FK_FIELD(fk_sample_params, pad_))
    // MoE ops (issue 5).
    FK_STRUCT("topk_softmax", fk_topk_softmax_params, FK_FIELD(fk_topk_softmax_params, topk_weights) FK_FIELD(fk_topk_softmax_params, topk_ids) FK_FIELD(fk_topk_softmax_params, logits) FK_FIELD(fk_topk_softmax_params, tokens) FK_FIELD(fk_topk_softmax_params, logits_stride) FK_FIELD(fk_topk_softmax_params, num_experts) FK_FIELD(fk_topk_softmax_params, top_k) FK_FIELD(fk_topk_softmax_params, renormalize) FK_FIELD(fk_topk_softmax_params, dtype))
    FK_STRUCT("moe_align_block_size", fk_moe_align_block_size_params, FK_FIELD(fk_moe_align_block_size_params, sorted_token_ids) FK_FIELD(fk_moe_align_block_size_params, expert_ids) FK_FIELD(fk_moe_align_block_size_params, num_tokens_post_padded) FK_FIELD(fk_moe_align_block_size_params, topk_ids) FK_FIELD(fk_moe_align_block_size_params, status) FK_FIELD(fk_moe_align_block_size_params, slots) FK_FIELD(fk_moe_align_block_size_params, num_experts) FK_FIELD(fk_moe_align_block_size_params, block_size))
    FK_STRUCT("fused_moe", fk_fused_moe_params, FK_FIELD(fk_fused_moe_params, out) FK_FIELD(fk_fused_moe_params, a) FK_FIELD(fk_fused_moe_params, weight) FK_FIELD(fk_fused_moe_params, sorted_token_ids) FK_FIELD(fk_fused_moe_params, expert_ids) FK_FIELD(fk_fused_moe_params, num_tokens_post_padded) FK_FIELD(fk_fused_moe_params, topk_weights) FK_FIELD(fk_fused_moe_params, num_slots) FK_FIELD(fk_fused_moe_params, em_capacity) FK_FIELD(fk_fused_moe_params, n) FK_FIELD(fk_fused_moe_params, k) FK_FIELD(fk_fused_moe_params, a_stride) FK_FIELD(fk_fused_moe_params, out_stride) FK_FIELD(fk_fused_moe_params, num_experts) FK_FIELD(fk_fused_moe_params, a_rows_per_slot) FK_FIELD(fk_fused_moe_params, block_size) FK_FIELD(fk_fused_moe_params, activation) FK_FIELD(fk_fused_moe_params, dtype) FK_FIELD(fk_fused_moe_params, pad_))
    FK_STRUCT("moe_sum", fk_moe_sum_params, FK_FIELD(fk_moe_sum_params, out) FK_FIELD(fk_moe_sum_params, input) FK_FIELD(fk_moe_sum_params, topk_weights) FK_FIELD(fk_moe_sum_params, topk_ids) FK_FIELD(fk_moe_sum_params, tokens) FK_FIELD(fk_moe_sum_params, hidden) FK_FIELD(fk_moe_sum_params, out_stride) FK_FIELD(fk_moe_sum_params, top_k) FK_FIELD(fk_moe_sum_params, num_experts) FK_FIELD(fk_moe_sum_params, dtype) FK_FIELD(fk_moe_sum_params, pad_))
    // Encoder ops (issue 6).
    FK_STRUCT("layer_norm", fk_layer_norm_params, FK_FIELD(fk_layer_norm_params, out) FK_FIELD(fk_layer_norm_params, input) FK_FIELD(fk_layer_norm_params, residual) FK_FIELD(fk_layer_norm_params, weight) FK_FIELD(fk_layer_norm_params, bias) FK_FIELD(fk_layer_norm_params, rows) FK_FIELD(fk_layer_norm_params, hidden) FK_FIELD(fk_layer_norm_params, input_stride) FK_FIELD(fk_layer_norm_params, out_stride) FK_FIELD(fk_layer_norm_params, residual_stride) FK_FIELD(fk_layer_norm_params, eps) FK_FIELD(fk_layer_norm_params, dtype))
    FK_STRUCT("gelu", fk_gelu_params, FK_FIELD(fk_gelu_params, out) FK_FIELD(fk_gelu_params, input) FK_FIELD(fk_gelu_params, n) FK_FIELD(fk_gelu_params, mode) FK_FIELD(fk_gelu_params, dtype))
    FK_STRUCT("patch_embed_im2col", fk_patch_embed_im2col_params, FK_FIELD(fk_patch_embed_im2col_params, out) FK_FIELD(fk_patch_embed_im2col_params, pixels) FK_FIELD(fk_patch_embed_im2col_params, batch) FK_FIELD(fk_patch_embed_im2col_params, channels) FK_FIELD(fk_patch_embed_im2col_params, height) FK_FIELD(fk_patch_embed_im2col_params, width) FK_FIELD(fk_patch_embed_im2col_params, patch) FK_FIELD(fk_patch_embed_im2col_params, out_stride) FK_FIELD(fk_patch_embed_im2col_params, dtype) FK_FIELD(fk_patch_embed_im2col_params, pixels_dtype))
    FK_STRUCT("rope_2d", fk_rope_2d_params, FK_FIELD(fk_rope_2d_params, query) FK_FIELD(fk_rope_2d_params, key) FK_FIELD(fk_rope_2d_params, cos_sin_cache) FK_FIELD(fk_rope_2d_params, tokens) FK_FIELD(fk_rope_2d_params, seq) FK_FIELD(fk_rope_2d_params, prefix) FK_FIELD(fk_rope_2d_params, query_stride) FK_FIELD(fk_rope_2d_params, key_stride) FK_FIELD(fk_rope_2d_params, heads) FK_FIELD(fk_rope_2d_params, kv_heads) FK_FIELD(fk_rope_2d_params, head_dim) FK_FIELD(fk_rope_2d_params, dtype))
    FK_STRUCT("interpolate_pos_embed", fk_interpolate_pos_embed_params, FK_FIELD(fk_interpolate_pos_embed_params, out) FK_FIELD(fk_interpolate_pos_embed_params, input) FK_FIELD(fk_interpolate_pos_embed_params, channels) FK_FIELD(fk_interpolate_pos_embed_params, in_h) FK_FIELD(fk_interpolate_pos_embed_params, in_w) FK_FIELD(fk_interpolate_pos_embed_params, out_h) FK_FIELD(fk_interpolate_pos_embed_params, out_w) FK_FIELD(fk_interpolate_pos_embed_params, mode) FK_FIELD(fk_interpolate_pos_embed_params, dtype))
    FK_STRUCT("pool", fk_pool_params, FK_FIELD(fk_pool_params, out) FK_FIELD(fk_pool_params, input) FK_FIELD(fk_pool_params, mask) FK_FIELD(fk_pool_params, batch) FK_FIELD(fk_pool_params, seq) FK_FIELD(fk_pool_params, hidden) FK_FIELD(fk_pool_params, out_stride) FK_FIELD(fk_pool_params, mode) FK_FIELD(fk_pool_params, normalize) FK_FIELD(fk_pool_params, mask_dtype) FK_FIELD(fk_pool_params, dtype))
    FK_STRUCT("gather_rows", fk_gather_rows_params, FK_FIELD(fk_gather_rows_params, out) FK_FIELD(fk_gather_rows_params, input) FK_FIELD(fk_gather_rows_params, index) FK_FIELD(fk_gather_rows_params, status) FK_FIELD(fk_gather_rows_params, rows) FK_FIELD(fk_gather_rows_params, cols) FK_FIELD(fk_gather_rows_params, in_rows) FK_FIELD(fk_gather_rows_params, input_stride) FK_FIELD(fk_gather_rows_params, out_stride) FK_FIELD(fk_gather_rows_params, dtype) FK_FIELD(fk_gather_rows_params, pad_))
    FK_STRUCT("causal_conv1d", fk_causal_conv1d_params,
              FK_FIELD(fk_causal_conv1d_params, out) FK_FIELD(fk_causal_conv1d_params, x) FK_FIELD(fk_causal_conv1d_params, weight)
              FK_FIELD(fk_causal_conv1d_params, bias) FK_FIELD(fk_causal_conv1d_params, cu_seqlens) FK_FIELD(fk_causal_conv1d_params, initial_state)
              FK_FIELD(fk_causal_conv1d_params, final_state) FK_FIELD(fk_causal_conv1d_params, tokens) FK_FIELD(fk_causal_conv1d_params, dim)
              FK_FIELD(fk_causal_conv1d_params, x_stride) FK_FIELD(fk_causal_conv1d_params, out_stride) FK_FIELD(fk_causal_conv1d_params, batch)
              FK_FIELD(fk_causal_conv1d_params, width) FK_FIELD(fk_causal_conv1d_params, silu) FK_FIELD(fk_causal_conv1d_params, dtype))
    FK_STRUCT("causal_conv1d_update", fk_causal_conv1d_update_params,
              FK_FIELD(fk_causal_conv1d_update_params, out) FK_FIELD(fk_causal_conv1d_update_params, x) FK_FIELD(fk_causal_conv1d_update_params, weight)
              FK_FIELD(fk_causal_conv1d_update_params, bias) FK_FIELD(fk_causal_conv1d_update_params, conv_state) FK_FIELD(fk_causal_conv1d_update_params, state_indices) FK_FIELD(fk_causal_conv1d_update_params, state_rows) FK_FIELD(fk_causal_conv1d_update_params, batch)
              FK_FIELD(fk_causal_conv1d_update_params, dim) FK_FIELD(fk_causal_conv1d_update_params, x_stride) FK_FIELD(fk_causal_conv1d_update_params, out_stride)
              FK_FIELD(fk_causal_conv1d_update_params, width) FK_FIELD(fk_causal_conv1d_update_params, silu) FK_FIELD(fk_causal_conv1d_update_params, dtype)
              FK_FIELD(fk_causal_conv1d_update_params, pad_))
    FK_STRUCT("selective_scan", fk_selective_scan_params,
              FK_FIELD(fk_selective_scan_params, out) FK_FIELD(fk_selective_scan_params, u) FK_FIELD(fk_selective_scan_params, delta)
              FK_FIELD(fk_selective_scan_params, A) FK_FIELD(fk_selective_scan_params, B) FK_FIELD(fk_selective_scan_params, C)
              FK_FIELD(fk_selective_scan_params, D) FK_FIELD(fk_selective_scan_params, z) FK_FIELD(fk_selective_scan_params, delta_bias)
              FK_FIELD(fk_selective_scan_params, cu_seqlens) FK_FIELD(fk_selective_scan_params, initial_state) FK_FIELD(fk_selective_scan_params, final_state)
              FK_FIELD(fk_selective_scan_params, tokens) FK_FIELD(fk_selective_scan_params, dim) FK_FIELD(fk_selective_scan_params, u_stride)
              FK_FIELD(fk_selective_scan_params, delta_stride) FK_FIELD(fk_selective_scan_params, z_stride) FK_FIELD(fk_selective_scan_params, out_stride)
              FK_FIELD(fk_selective_scan_params, b_stride) FK_FIELD(fk_selective_scan_params, c_stride) FK_FIELD(fk_selective_scan_params, batch)
              FK_FIELD(fk_selective_scan_params, d_state) FK_FIELD(fk_selective_scan_params, delta_softplus) FK_FIELD(fk_selective_scan_params, dtype))
    FK_STRUCT("selective_state_update", fk_selective_state_update_params,
              FK_FIELD(fk_selective_state_update_params, out) FK_FIELD(fk_selective_state_update_params, state) FK_FIELD(fk_selective_state_update_params, state_indices) FK_FIELD(fk_selective_state_update_params, state_rows) FK_FIELD(fk_selective_state_update_params, x)
              FK_FIELD(fk_selective_state_update_params, dt) FK_FIELD(fk_selective_state_update_params, A) FK_FIELD(fk_selective_state_update_params, B)
              FK_FIELD(fk_selective_state_update_params, C) FK_FIELD(fk_selective_state_update_params, D) FK_FIELD(fk_selective_state_update_params, z)
              FK_FIELD(fk_selective_state_update_params, dt_bias) FK_FIELD(fk_selective_state_update_params, batch) FK_FIELD(fk_selective_state_update_params, x_stride)
              FK_FIELD(fk_selective_state_update_params, dt_stride) FK_FIELD(fk_selective_state_update_params, z_stride) FK_FIELD(fk_selective_state_update_params, out_stride)
              FK_FIELD(fk_selective_state_update_params, b_stride) FK_FIELD(fk_selective_state_update_params, c_stride) FK_FIELD(fk_selective_state_update_params, heads)
              FK_FIELD(fk_selective_state_update_params, head_dim) FK_FIELD(fk_selective_state_update_params, ngroups) FK_FIELD(fk_selective_state_update_params, d_state)
              FK_FIELD(fk_selective_state_update_params, dt_softplus) FK_FIELD(fk_selective_state_update_params, a_per_state) FK_FIELD(fk_selective_state_update_params, dtype)
              FK_FIELD(fk_selective_state_update_params, flags) FK_FIELD(fk_selective_state_update_params, dt_proj) FK_FIELD(fk_selective_state_update_params, dt_rank))
    FK_STRUCT("rms_norm_gated", fk_rms_norm_gated_params,
              FK_FIELD(fk_rms_norm_gated_params, out) FK_FIELD(fk_rms_norm_gated_params, x) FK_FIELD(fk_rms_norm_gated_params, z)
              FK_FIELD(fk_rms_norm_gated_params, weight) FK_FIELD(fk_rms_norm_gated_params, rows) FK_FIELD(fk_rms_norm_gated_params, hidden)
              FK_FIELD(fk_rms_norm_gated_params, group_size) FK_FIELD(fk_rms_norm_gated_params, x_stride) FK_FIELD(fk_rms_norm_gated_params, z_stride)
              FK_FIELD(fk_rms_norm_gated_params, out_stride) FK_FIELD(fk_rms_norm_gated_params, eps) FK_FIELD(fk_rms_norm_gated_params, dtype))
    FK_STRUCT("ssd_chunk_scan", fk_ssd_chunk_scan_params,
              FK_FIELD(fk_ssd_chunk_scan_params, out) FK_FIELD(fk_ssd_chunk_scan_params, x) FK_FIELD(fk_ssd_chunk_scan_params, dt) FK_FIELD(fk_ssd_chunk_scan_params, A)
              FK_FIELD(fk_ssd_chunk_scan_params, B) FK_FIELD(fk_ssd_chunk_scan_params, C) FK_FIELD(fk_ssd_chunk_scan_params, D) FK_FIELD(fk_ssd_chunk_scan_params, dt_bias)
              FK_FIELD(fk_ssd_chunk_scan_params, cu_seqlens) FK_FIELD(fk_ssd_chunk_scan_params, initial_state) FK_FIELD(fk_ssd_chunk_scan_params, final_state)
              FK_FIELD(fk_ssd_chunk_scan_params, workspace) FK_FIELD(fk_ssd_chunk_scan_params, workspace_bytes) FK_FIELD(fk_ssd_chunk_scan_params, tokens)
              FK_FIELD(fk_ssd_chunk_scan_params, x_stride) FK_FIELD(fk_ssd_chunk_scan_params, dt_stride) FK_FIELD(fk_ssd_chunk_scan_params, b_stride) FK_FIELD(fk_ssd_chunk_scan_params, c_stride)
              FK_FIELD(fk_ssd_chunk_scan_params, out_stride) FK_FIELD(fk_ssd_chunk_scan_params, dt_min) FK_FIELD(fk_ssd_chunk_scan_params, dt_max) FK_FIELD(fk_ssd_chunk_scan_params, batch)
              FK_FIELD(fk_ssd_chunk_scan_params, heads) FK_FIELD(fk_ssd_chunk_scan_params, head_dim) FK_FIELD(fk_ssd_chunk_scan_params, ngroups) FK_FIELD(fk_ssd_chunk_scan_params, d_state)
              FK_FIELD(fk_ssd_chunk_scan_params, dt_softplus) FK_FIELD(fk_ssd_chunk_scan_params, dtype) FK_FIELD(fk_ssd_chunk_scan_params, pad_))
    FK_STRUCT("mamba_decode_layer", fk_mamba_decode_layer,
              FK_FIELD(fk_mamba_decode_layer, norm_weight) FK_FIELD(fk_mamba_decode_layer, in_proj) FK_FIELD(fk_mamba_decode_layer, conv_weight) FK_FIELD(fk_mamba_decode_layer, conv_bias) FK_FIELD(fk_mamba_decode_layer, x_proj_t) FK_FIELD(fk_mamba_decode_layer, dt_proj) FK_FIELD(fk_mamba_decode_layer, dt_bias) FK_FIELD(fk_mamba_decode_layer, A) FK_FIELD(fk_mamba_decode_layer, D) FK_FIELD(fk_mamba_decode_layer, out_proj) FK_FIELD(fk_mamba_decode_layer, conv_state) FK_FIELD(fk_mamba_decode_layer, ssm_state))
    FK_STRUCT("mamba_decode_layers", fk_mamba_decode_layers_params,
              FK_FIELD(fk_mamba_decode_layers_params, residual) FK_FIELD(fk_mamba_decode_layers_params, xc) FK_FIELD(fk_mamba_decode_layers_params, dbc) FK_FIELD(fk_mamba_decode_layers_params, y) FK_FIELD(fk_mamba_decode_layers_params, acc) FK_FIELD(fk_mamba_decode_layers_params, barrier) FK_FIELD(fk_mamba_decode_layers_params, state_index) FK_FIELD(fk_mamba_decode_layers_params, state_rows) FK_FIELD(fk_mamba_decode_layers_params, layers) FK_FIELD(fk_mamba_decode_layers_params, hidden) FK_FIELD(fk_mamba_decode_layers_params, inner) FK_FIELD(fk_mamba_decode_layers_params, dt_rank) FK_FIELD(fk_mamba_decode_layers_params, d_state) FK_FIELD(fk_mamba_decode_layers_params, conv_width) FK_FIELD(fk_mamba_decode_layers_params, eps) FK_FIELD(fk_mamba_decode_layers_params, dtype) FK_FIELD(fk_mamba_decode_layers_params, layer))
    return (size_t)-1;
}

// The contract headers' size functions, callable from Rust's tests (their Rust mirrors must agree).
extern "C" int64_t fk_baselines_ssd_chunk_scan_workspace_bytes(int64_t tokens, int32_t batch, int32_t heads, int32_t head_dim, int32_t d_state, int32_t dtype) {
    return fk_ssd_chunk_scan_workspace_bytes(tokens, batch, heads, head_dim, d_state, dtype);
}
