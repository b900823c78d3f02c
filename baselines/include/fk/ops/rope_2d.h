/* Op contract: rope_2d (L1), DINOv3's 2D rotary embedding (HF `DINOv3ViTRopePositionEmbedding`
 * + `apply_rotary_pos_emb`), in place on query and key. Rows are images of `seq` tokens each:
 * the first `prefix` tokens of an image (CLS + registers) are left alone, token `prefix + p`
 * is patch p of the grid and is rotated NeoX-style (rotate_half) over the whole head:
 *   c = cache[p, i], s = cache[p, head_dim/2 + i], (a, b) = (x[i], x[i + head_dim/2]),
 *   a' = a c - b s,  b' = b c + a s     for i < head_dim/2, every head; fp32 math, rounded once.
 * The cache holds, per patch, cos then sin of the angles [2pi y f_k..., 2pi x f_k...] (see
 * reference::dinov3_rope_cache); it is built once per resolution.
 * Launcher: FK_OP_LAUNCHER(rope_2d)(const fk_rope_2d_params* p, cudaStream_t stream)
 * dtypes: query/key f32, f16, bf16; cos_sin_cache f32. */
#pragma once
#include "fk/dtype.h"

typedef struct fk_rope_2d_params {
    void* query;                 /* [tokens, heads * head_dim], row stride query_stride */
    void* key;                   /* [tokens, kv_heads * head_dim], row stride key_stride; may be NULL */
    const float* cos_sin_cache;  /* [seq - prefix, head_dim] contiguous */
    int64_t tokens;              /* batch * seq */
    int64_t seq;                 /* tokens per image: prefix + patches */
    int64_t prefix;              /* CLS + register tokens, not rotated */
    int64_t query_stride;
    int64_t key_stride;
    int32_t heads;
    int32_t kv_heads;            /* 0 when key is NULL */
    int32_t head_dim;            /* even */
    int32_t dtype;
} fk_rope_2d_params;
