/* Op contract: layer_norm (L1), `nn.LayerNorm` over the last dimension (BERT, XLM-R, ViT,
 * SigLIP, DINOv3), optionally fused with the residual add that precedes it:
 *   s[r, :]   = residual ? round_T(input[r, :] + residual[r, :]) : input[r, :]
 *   residual[r, :] = s[r, :]                                   (only when residual != NULL)
 *   out[r, :] = round_T((s - mean(s)) * rsqrt(var(s) + eps) * weight (+ bias))
 * with the biased variance, statistics and affine step in fp32, rounded once at the output
 * (as PyTorch's CUDA LayerNorm does for 16-bit inputs). bias NULL = LayerNorm(bias=False).
 * out may be input itself (each row is read completely before it is written).
 * Launcher: FK_OP_LAUNCHER(layer_norm)(const fk_layer_norm_params* p, cudaStream_t stream)
 * dtypes: f32, f16, bf16 (input, residual, weight, bias and out share it). */
#pragma once
#include "fk/dtype.h"

typedef struct fk_layer_norm_params {
    void* out;              /* [rows, hidden], row stride out_stride */
    const void* input;      /* [rows, hidden], row stride input_stride */
    void* residual;         /* NULL, or [rows, hidden] (row stride residual_stride), updated in place */
    const void* weight;     /* [hidden] */
    const void* bias;       /* [hidden] or NULL */
    int64_t rows;
    int64_t hidden;
    int64_t input_stride;   /* elements between consecutive rows */
    int64_t out_stride;
    int64_t residual_stride;
    float eps;
    int32_t dtype;          /* fk_dtype */
} fk_layer_norm_params;

#define FK_LAYER_NORM_MAX_HIDDEN_BYTES (512 * 8 * 16) /* the row lives in registers: 512 threads x 8 x 16 B */
