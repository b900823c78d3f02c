/* Op contract: fused_add_rms_norm (L1), vLLM `fused_add_rms_norm` semantics, in place:
 *   residual[r, :] = round_T(input[r, :] + residual[r, :])
 *   input[r, :]    = rms_norm(residual[r, :], weight, eps)      (as in rms_norm.h)
 * This is the `RMSNorm.forward(x, residual)` of vLLM's decoder layers; HF computes the
 * same as `residual = hidden + residual; hidden = norm(residual)`.
 * Launcher: FK_OP_LAUNCHER(fused_add_rms_norm)(const fk_fused_add_rms_norm_params*, cudaStream_t)
 * dtypes: f32, f16, bf16. */
#pragma once
#include "fk/dtype.h"

typedef struct fk_fused_add_rms_norm_params {
    void* input;            /* [rows, hidden] in: x, out: normalised */
    void* residual;         /* [rows, hidden] in: residual, out: x + residual */
    const void* weight;     /* [hidden] */
    int64_t rows;
    int64_t hidden;
    int64_t input_stride;
    int64_t residual_stride;
    float eps;
    int32_t dtype;
} fk_fused_add_rms_norm_params;
