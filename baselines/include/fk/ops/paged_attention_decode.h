/* Op contract: paged_attention_decode (L1): one query token per sequence attends to its
 * seq_lens[b] cached tokens, found through block_table (NHD caches as reshape_and_cache.h):
 *   out[b, h, :] = softmax_j(scale * q[b, h, :] . K[b, j, h / (heads / kv_heads), :]) V[...]
 * Flash-decoding: the context is cut into splits of split_tokens; each split's partial
 * (max, sum, unnormalised output) goes to `workspace`, a second pass combines them. Each
 * CTA owns one kv head and up to 8 of its query heads, so a KV page is read once per group.
 * Launcher:
 *   FK_OP_LAUNCHER(paged_attention_decode)(const fk_paged_attention_decode_params*, cudaStream_t)
 * dtypes: q/out/caches f16 or bf16 (f32 too, for tests); fp32 softmax and accumulation.
 * head_dim: 64, 128 or 256. workspace: fk_paged_attention_workspace_floats() floats.
 * A seq_len past the block table or a block id past the cache never reads out of bounds:
 * such tokens are skipped and the sequence is reported in *status. */
#pragma once
#include "fk/dtype.h"

typedef struct fk_paged_attention_decode_params {
    void* out;                    /* [seqs, heads, head_dim], contiguous */
    const void* query;            /* [seqs, heads, head_dim], row stride query_stride between seqs */
    const void* key_cache;        /* [num_blocks, block_size, kv_heads, head_dim] */
    const void* value_cache;
    const int32_t* block_table;   /* [seqs, max_blocks_per_seq] */
    const int32_t* seq_lens;      /* [seqs], each in [0, max_blocks_per_seq * block_size] */
    float* workspace;             /* [seqs, heads, max_splits, head_dim + 2] */
    fk_status* status;            /* may be NULL: sequences with a bad length or block id */
    int64_t seqs;
    int64_t query_stride;
    int64_t num_blocks;
    int32_t heads;
    int32_t kv_heads;
    int32_t head_dim;
    int32_t block_size;
    int32_t max_blocks_per_seq;
    int32_t max_splits;           /* ceil(max_blocks_per_seq * block_size / split_tokens) */
    int32_t split_tokens;         /* tokens per split, a multiple of block_size */
    float scale;
    int32_t dtype;
    int32_t pad_;
} fk_paged_attention_decode_params;

#ifdef __cplusplus
inline
#else
static inline
#endif
int64_t fk_paged_attention_workspace_floats(int64_t seqs, int32_t heads, int32_t max_splits, int32_t head_dim) {
    return seqs * heads * (int64_t)max_splits * (head_dim + 2);
}
