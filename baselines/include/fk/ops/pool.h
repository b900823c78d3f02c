/* Op contract: pool (L1): one vector per sequence of encoder output [batch, seq, hidden]:
 *   mode 0 (mean): sum_t(x[b, t] * m[b, t]) / max(sum_t m[b, t], 1e-9), m = mask != 0
 *                  (sentence-transformers `Pooling(mean)`; an all-padding row gives 0;
 *                  mask NULL = every token real)
 *   mode 1 (cls):  x[b, 0] (BGE dense vector, BertPooler's input)
 * then, if normalize, `F.normalize(p=2)`: the row over max(||row||, 1e-12). fp32
 * accumulation, rounded once.
 * Launcher: FK_OP_LAUNCHER(pool)(const fk_pool_params* p, cudaStream_t stream)
 * dtypes: input/out f32, f16, bf16; mask i32 or i64 (HF's attention_mask). */
#pragma once
#include "fk/dtype.h"

#define FK_POOL_MEAN 0
#define FK_POOL_CLS 1
#define FK_POOL_MAX_HIDDEN 12288 /* normalize stages the row in 48 KiB of shared memory (fp32) */

typedef struct fk_pool_params {
    void* out;            /* [batch, hidden], row stride out_stride */
    const void* input;    /* [batch, seq, hidden] contiguous */
    const void* mask;     /* [batch, seq] or NULL */
    int64_t batch;
    int64_t seq;
    int64_t hidden;
    int64_t out_stride;
    int32_t mode;         /* FK_POOL_MEAN or FK_POOL_CLS */
    int32_t normalize;    /* 0 or 1 */
    int32_t mask_dtype;   /* FK_DTYPE_I32 or FK_DTYPE_I64 (ignored when mask is NULL) */
    int32_t dtype;
} fk_pool_params;
