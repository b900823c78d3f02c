/* Op contract: rotary_embedding (L1), vLLM `RotaryEmbedding.forward_cuda` semantics,
 * in place on query and key:
 *   for every token t, head h and pair i < rot_dim/2, with c = cache[pos[t], i],
 *   s = cache[pos[t], rot_dim/2 + i] and (a, b) the pair's two elements
 *     neox  (is_neox=1): a = x[i],    b = x[i + rot_dim/2]   (HF rotate_half)
 *     gpt-j (is_neox=0): a = x[2i],   b = x[2i + 1]          (interleaved)
 *   a' = a c - b s,  b' = b c + a s.   Elements at [rot_dim, head_size) are untouched.
 * Positions outside [0, max_position) are not applied; they are reported in *status.
 * Launcher: FK_OP_LAUNCHER(rotary_embedding)(const fk_rotary_embedding_params*, cudaStream_t)
 * dtypes: query/key f32, f16, bf16; cos_sin_cache f32; positions i64. */
#pragma once
#include "fk/dtype.h"

typedef struct fk_rotary_embedding_params {
    const int64_t* positions;      /* [tokens] */
    void* query;                   /* [tokens, num_heads * head_size], row stride query_stride */
    void* key;                     /* [tokens, num_kv_heads * head_size], row stride key_stride; may be NULL */
    const float* cos_sin_cache;    /* [max_position, rot_dim]: cos (rot_dim/2), then sin (rot_dim/2) */
    fk_status* status;             /* may be NULL */
    int64_t tokens;
    int64_t query_stride;
    int64_t key_stride;
    int64_t max_position;
    int32_t num_heads;
    int32_t num_kv_heads;
    int32_t head_size;
    int32_t rot_dim;               /* even, <= head_size */
    int32_t is_neox;
    int32_t dtype;
} fk_rotary_embedding_params;
