/* Op contract: skinny_gemm (L1): the decode-time linear layer, F.linear with few tokens:
 *   out[m, n] = sum_k x[m, k] * weight[n, k] (+ bias[n]),  m < rows <= FK_SKINNY_GEMM_MAX_ROWS
 * weight is [n, k] row-major as in the checkpoint (HF `*_proj.weight`). With a handful of
 * rows the work is reading the weight once: the roofline is the copy bandwidth, and a
 * tensor-core GEMM library tile wastes most of its rows. This op is what `ops::linear` runs
 * for rows <= FK_SKINNY_GEMM_MAX_ROWS (cuBLASLt above). vLLM serves decode with cuBLAS here.
 * Launcher: FK_OP_LAUNCHER(skinny_gemm)(const fk_skinny_gemm_params*, cudaStream_t)
 * dtypes: f32, f16, bf16 (x, weight, bias, out alike); fp32 accumulation, one rounding.
 * k must be a multiple of 16 / sizeof(dtype) and every row 16-byte aligned (vector loads);
 * rows of x and out may be strided (views).
 * flags: FK_SKINNY_GEMM_WEIGHT_SETTLED promises that the launch right before this one on the
 * stream did not write weight (true of model parameters): the kernel then issues its first
 * weight loads before waiting for that launch (programmatic dependent launch), overlapping
 * them with the previous kernel's tail. Without it, nothing is read before the wait.
 * FK_SKINNY_GEMM_STREAM asks for the streaming kernel (skinny/stream_sm90.cuh: the weight
 * bulk-copied into shared memory) where it applies: sm_90a builds, one row, a weight of at
 * least 4 MB, k * sizeof(dtype) <= 32 KB. Same result as the other kernel to rounding (the
 * sums are ordered differently); which one is faster depends on the model's step (run 46).
 * Optional epilogue (conv_state != NULL): after out is stored, causal_conv1d_update
 * (causal_conv1d_update.h) runs on out's columns [conv_begin, conv_begin + conv_dim) as its x,
 * with the conv_* fields as that op's out, weight, bias, conv_state, state_indices,
 * state_rows, out_stride, width and silu: the same result as the two ops one after the other.
 * Each column's conv step is done by the lane that stored the column, so a Mamba mixer's
 * decode in_proj and conv are one kernel instead of two (one launch and one round trip of
 * the conv input through memory fewer per layer). */
#pragma once
#include "fk/dtype.h"
#include "fk/ops/causal_conv1d.h"

#define FK_SKINNY_GEMM_MAX_ROWS 8
#define FK_SKINNY_GEMM_WEIGHT_SETTLED 1
#define FK_SKINNY_GEMM_STREAM 2

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
    int32_t dtype;
    int32_t flags;        /* FK_SKINNY_GEMM_WEIGHT_SETTLED | FK_SKINNY_GEMM_STREAM, or 0 */
    /* The conv epilogue; all zero/NULL without one. */
    void* conv_out;                    /* [rows, conv_dim], rows conv_out_stride apart */
    const void* conv_weight;           /* [conv_dim, conv_width], contiguous */
    const void* conv_bias;             /* [conv_dim] or NULL */
    void* conv_state;                  /* [rows or conv_state_rows, conv_dim, conv_width - 1]; NULL: no epilogue */
    const int32_t* conv_state_indices; /* [rows] or NULL */
    int64_t conv_state_rows;
    int64_t conv_begin;
    int64_t conv_dim;
    int64_t conv_out_stride;
    int32_t conv_width;                /* 2 ..= FK_CAUSAL_CONV1D_MAX_WIDTH */
    int32_t conv_silu;
} fk_skinny_gemm_params;
