/* Op contract: prefill_attention (L1): variable-length attention over a batch packed along
 * tokens, as FlashAttention's flash_attn_varlen_func computes it (vLLM's FlashAttention
 * backend for prefill and chunked prefill):
 *   out[q0_b + i, h, :] = softmax_j(scale * q[q0_b + i, h, :] . K_b[j, h / (heads/kv_heads), :]) V_b[j, ...]
 * Sequence b has len_q = cu_seqlens_q[b+1] - cu_seqlens_q[b] queries. Its keys/values come from
 *   - a contiguous source (block_size == 0): rows cu_seqlens_k[b] .. cu_seqlens_k[b+1] of
 *     key/value [total_k, kv_heads*head_dim] (rows key_stride / value_stride elements apart), or
 *   - the NHD paged cache (block_size > 0): key/value are the caches
 *     [num_blocks, block_size, kv_heads, head_dim]; sequence b has seq_lens_k[b] keys and key j
 *     lives in block block_table[b * max_blocks_per_seq + j / block_size] at offset j % block_size.
 * Masks (shift = len_k - len_q, bottom-right aligned): causal keeps j <= i + shift; window_left
 * w >= 0 also keeps only j >= i + shift - w. A row with no visible key is written as 0.
 * Launcher:
 *   FK_OP_LAUNCHER(prefill_attention)(const fk_prefill_attention_params*, cudaStream_t)
 * dtypes: f16 or bf16 (fp32 softmax statistics and accumulation). head_dim: 32, 64, 72, 80, 128, 256.
 * Bad device data never reads or writes out of bounds: a cu_seqlens entry outside [0, total]
 * or decreasing, a seq_lens_k past the block table, a length above max_seqlen_q, or a block id
 * outside the cache is clamped / read as zeros, and the sequence is reported in *status. */
#pragma once
#include "fk/dtype.h"

typedef struct fk_prefill_attention_params {
    void* out;                    /* [total_q, heads*head_dim], contiguous */
    const void* query;            /* [total_q, heads*head_dim], rows query_stride apart */
    const void* key;              /* contiguous: [total_k, kv_heads*head_dim]; paged: key cache */
    const void* value;            /* contiguous: [total_k, kv_heads*head_dim]; paged: value cache */
    const int32_t* cu_seqlens_q;  /* [batch + 1] */
    const int32_t* cu_seqlens_k;  /* [batch + 1], contiguous source only (else NULL) */
    const int32_t* block_table;   /* [batch, max_blocks_per_seq], paged only (else NULL) */
    const int32_t* seq_lens_k;    /* [batch], paged only (else NULL) */
    fk_status* status;            /* may be NULL: sequences with bad lengths or block ids */
    int64_t total_q;              /* rows of query and out */
    int64_t total_k;              /* contiguous: rows of key/value; paged: unused (0) */
    int64_t query_stride;         /* elements between query rows (>= heads*head_dim) */
    int64_t key_stride;           /* elements between key rows (paged: kv_heads*head_dim) */
    int64_t value_stride;
    int64_t num_blocks;           /* paged: blocks in each cache */
    int32_t batch;
    int32_t heads;
    int32_t kv_heads;
    int32_t head_dim;
    int32_t max_seqlen_q;         /* host-side bound on len_q: sizes the grid */
    int32_t block_size;           /* 0: contiguous source; > 0: paged */
    int32_t max_blocks_per_seq;   /* paged: columns of block_table */
    int32_t causal;               /* 0 or 1 */
    int32_t window_left;          /* -1: no window */
    float scale;
    int32_t dtype;                /* FK_DTYPE_F16 or FK_DTYPE_BF16 */
    int32_t variant;              /* 0: best kernel for the build; 1: force the portable sm80 kernel (tests) */
} fk_prefill_attention_params;
