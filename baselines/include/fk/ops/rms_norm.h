/* Op contract: rms_norm (L1).
 *   out[r, :] = round_T(x[r, :] * rsqrt(mean(x[r, :]^2) + eps)) * weight
 * accumulated in fp32; the intermediate rounding to T mirrors HF `LlamaRMSNorm` and vLLM
 * `RMSNorm.forward_cuda` (`torch.ops._C.rms_norm`).
 * Launcher: FK_OP_LAUNCHER(rms_norm)(const fk_rms_norm_params* p, cudaStream_t stream)
 * dtypes: f32, f16, bf16 (input, weight and out share it). Rows may be strided. */
#pragma once
#include "fk/dtype.h"

typedef struct fk_rms_norm_params {
    void* out;             /* [rows, hidden], row stride out_stride */
    const void* input;     /* [rows, hidden], row stride input_stride */
    const void* weight;    /* [hidden] */
    int64_t rows;
    int64_t hidden;
    int64_t input_stride;  /* elements between consecutive rows */
    int64_t out_stride;
    float eps;
    int32_t dtype;         /* fk_dtype */
} fk_rms_norm_params;

#define FK_RMS_NORM_MAX_HIDDEN_BYTES (512 * 8 * 16) /* 512 threads x 8 vectors x 16 B in registers: 32768 bf16 */
