/* Op contract: skinny_gemm (L1): the decode-time linear layer, F.linear with few tokens:
 *   out[m, n] = sum_k x[m, k] * weight[n, k] (+ bias[n]),  m < rows <= FK_SKINNY_GEMM_MAX_ROWS
 * (FK_SKINNY_GEMM_MAX_ROWS_F32 for f32). weight is [n, k] row-major as in the checkpoint (HF
 * `*_proj.weight`). With up to a few dozen rows the work is reading the weight once: the
 * roofline is the copy bandwidth, and a GEMM library tile sized for throughput wastes most of
 * its rows. This op is what `ops::linear` runs for decode-sized batches (cuBLASLt above).
 * vLLM serves decode with cuBLAS here.
 * Launcher: FK_OP_LAUNCHER(skinny_gemm)(const fk_skinny_gemm_params*, cudaStream_t)
 * dtypes: f32, f16, bf16 (x, weight, bias, out alike); fp32 accumulation, one rounding.
 * k must be a multiple of 16 / sizeof(dtype) and every row 16-byte aligned (vector loads);
 * rows of x and out may be strided (views).
 * workspace: optional (NULL: none) device scratch of workspace_bytes, all zero before the first
 * launch, used in stream order; a kernel may split k across blocks with fp32 partials there and
 * must leave it as it found it (counters back at zero). Results must not depend on whether or
 * how much workspace is given beyond rounding of the fp32 sum. */
#pragma once
#include "fk/dtype.h"

#define FK_SKINNY_GEMM_MAX_ROWS 64
#define FK_SKINNY_GEMM_MAX_ROWS_F32 8
/* What ops::linear gives: 64 KiB of split counters + fp32 partials (Llama-70B-sized layers at
 * 64 rows split 8 ways fit). */
#define FK_SKINNY_GEMM_WORKSPACE_BYTES (32 << 20)

typedef struct fk_skinny_gemm_params {
    void* out;            /* [rows, n], row stride out_stride */
    const void* x;        /* [rows, k], row stride x_stride */
    const void* weight;   /* [n, k], contiguous */
    const void* bias;     /* [n] or NULL */
    int64_t rows;
    int64_t n;
    int64_t k;
    int64_t x_stride;
    int64_t out_stride;
    void* workspace;      /* see above; NULL or workspace_bytes of zero-initialised scratch */
    int64_t workspace_bytes;
    int32_t dtype;
    int32_t pad_;
} fk_skinny_gemm_params;
