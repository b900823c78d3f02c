/* Op contract: rms_norm_gated (L1): Mamba-2's gated RMSNorm (HF `MambaRMSNormGated`,
 * norm_before_gate = False as HF and vLLM's Mamba-2 use; Dao-AILab `RMSNormGated`):
 *   g        = x * silu(z)                      (g = x when z is NULL)
 *   out[r, i] = round_T(g[r, i] * rsqrt(mean_{j in group(i)} g[r, j]^2 + eps)) * weight[i]
 * with the mean over the group_size channels of i's group (Mamba-2 normalises each of its
 * ngroups = hidden / group_size groups alone, so tensor-parallel shards stay independent).
 * fp32 math; the rounding to T before the weight mirrors HF's `.to(input_dtype)`.
 * Launcher: FK_OP_LAUNCHER(rms_norm_gated)(const fk_rms_norm_gated_params*, cudaStream_t)
 * dtypes: x, z, weight, out f32, f16 or bf16 (same). Rows may be strided. out may be x. */
#pragma once
#include "fk/dtype.h"

typedef struct fk_rms_norm_gated_params {
    void* out;            /* [rows, hidden], rows out_stride apart */
    const void* x;        /* [rows, hidden], rows x_stride apart */
    const void* z;        /* [rows, hidden], rows z_stride apart, or NULL */
    const void* weight;   /* [hidden] */
    int64_t rows;
    int64_t hidden;
    int64_t group_size;   /* divides hidden */
    int64_t x_stride;
    int64_t z_stride;
    int64_t out_stride;
    float eps;
    int32_t dtype;
} fk_rms_norm_gated_params;
