/* Op contract: reshape_and_cache (L1), vLLM `reshape_and_cache_flash` semantics (NHD cache):
 *   for token t with slot = slot_mapping[t] >= 0:
 *     key_cache[slot / block_size, slot % block_size, :, :]   = key[t, :, :]
 *     value_cache[slot / block_size, slot % block_size, :, :] = value[t, :, :]
 * A negative slot is padding (skipped). A slot past the cache is not written and is
 * reported in *status. Launcher:
 *   FK_OP_LAUNCHER(reshape_and_cache)(const fk_reshape_and_cache_params* p, cudaStream_t stream)
 * dtypes: f32, f16, bf16 (key, value and caches share it). */
#pragma once
#include "fk/dtype.h"

typedef struct fk_reshape_and_cache_params {
    const void* key;              /* [tokens, kv_heads, head_dim], row stride key_stride */
    const void* value;            /* [tokens, kv_heads, head_dim], row stride value_stride */
    void* key_cache;              /* [num_blocks, block_size, kv_heads, head_dim] */
    void* value_cache;            /* [num_blocks, block_size, kv_heads, head_dim] */
    const int64_t* slot_mapping;  /* [tokens] */
    fk_status* status;            /* may be NULL */
    int64_t tokens;
    int64_t key_stride;           /* elements between tokens (>= kv_heads * head_dim) */
    int64_t value_stride;
    int64_t num_blocks;
    int32_t block_size;
    int32_t kv_heads;
    int32_t head_dim;
    int32_t dtype;
} fk_reshape_and_cache_params;
