/* Op contract: mamba_decode_layers (L1), one decode token through consecutive blocks of a
 * Mamba-1 stack (HF `MambaBlock` = RMSNorm -> `MambaMixer` -> residual add) in one persistent
 * kernel. For one sequence (batch 1) whose states are row s = *state_index of every layer's
 * state tensors, and l = 0 .. layers-1:
 *   h     = rms_norm(residual, norm_weight[l], eps)                      (rms_norm.h roundings)
 *   xz    = in_proj[l] . h                 x = xz[:inner], z = xz[inner:]  (rounded to T)
 *   xc    = causal_conv1d_update(x, conv_state[l][s], conv_weight[l], conv_bias[l], silu)
 *   dbc   = round_T(x_proj[l] . xc)        dt_in, B, C = dbc[:R], dbc[R:R+N], dbc[R+N:]
 *           (x_proj given transposed, x_proj_t = x_proj^T [inner, R + 2N]; the sum over
 *           channels is exact in 32.32 fixed point of f32 partial sums: order-independent,
 *           so deterministic; it needs |partial sums| < 2^31, far beyond 16-bit activations)
 *   dt    = round_T(dt_proj[l] . dt_in)    (dt_proj without bias: dt_bias is added in f32)
 *   y     = selective_state_update(ssm_state[l][s], xc, dt, A, B, C, D, z, dt_bias, softplus)
 *   residual = round_T(residual + round_T(out_proj[l] . y))
 * i.e. exactly the per-op decode step (rms_norm / fused_add_rms_norm, skinny_gemm with its conv
 * epilogue, skinny_gemm, selective_state_update with dt_proj, skinny_gemm), the residual add of
 * the *next* block's fused_add_rms_norm done here, after each block. Sums are taken in another
 * order than the separate GEMVs (a few ulp of T apart). On return `residual` holds the stream
 * after the last block (what the next block's or the final norm's plain rms_norm takes).
 *
 * The scratch vectors xc, dbc and y are written (the last layer's values are left there);
 * `acc` ([FK_MAMBA_DECODE_MAX_LAYERS, R + 2N] u64) and `barrier` (one u32) are device scratch
 * the launcher zeroes before the kernel.
 * Limits: T bf16 or f16; d_state 16; conv_width 2..4; hidden a multiple of 256 and inner =
 * 2 * hidden with hidden / 256 in {1, 3, 4, 6, 8, 10} (every Mamba-1 checkpoint: 768 .. 2560;
 * each lane keeps its share of a phase's input vector in registers, a compile-time count);
 * dt_rank a multiple of 8, at most 192; 1 <= layers <= FK_MAMBA_DECODE_MAX_LAYERS (a caller
 * runs deeper stacks in groups); every pointer 16-byte aligned, weights contiguous row-major.
 * A negative *state_index (a padding row) reads zero states and writes none.
 * Needs sm_90 (a build without FK_SM90A returns cudaErrorNotSupported) and one CTA per SM for
 * the whole grid (a cooperative launch; cudaErrorCooperativeLaunchTooLarge otherwise).
 * Launcher: FK_OP_LAUNCHER(mamba_decode_layers)(const fk_mamba_decode_layers_params*, cudaStream_t) */
#pragma once
#include "fk/dtype.h"

#define FK_MAMBA_DECODE_MAX_LAYERS 64
#define FK_MAMBA_DECODE_STAGE_BYTES 20480

typedef struct fk_mamba_decode_layer {
    const void* norm_weight; /* [hidden] T */
    const void* in_proj;     /* [2 * inner, hidden] T */
    const void* conv_weight; /* [inner, conv_width] T */
    const void* conv_bias;   /* [inner] T or NULL */
    const void* x_proj_t;    /* [inner, dt_rank + 2 * d_state] T: x_proj transposed */
    const void* dt_proj;     /* [inner, dt_rank] T */
    const float* dt_bias;    /* [inner] f32 */
    const float* A;          /* [inner, d_state] f32, -exp(A_log) */
    const float* D;          /* [inner] f32 */
    const void* out_proj;    /* [hidden, inner] T */
    void* conv_state;        /* [state_rows, inner, conv_width - 1] T, row *state_index advanced */
    float* ssm_state;        /* [state_rows, inner, d_state] f32, row *state_index advanced */
} fk_mamba_decode_layer;

typedef struct fk_mamba_decode_layers_params {
    void* residual;              /* [hidden] T, in and out */
    void* xc;                    /* [inner] T scratch */
    void* dbc;                   /* [dt_rank + 2 * d_state] T scratch */
    void* y;                     /* [inner] T scratch */
    unsigned long long* acc;     /* [FK_MAMBA_DECODE_MAX_LAYERS, dt_rank + 2 * d_state] scratch */
    unsigned int* barrier;       /* one u32 scratch */
    const int32_t* state_index;  /* [1] on the device */
    int64_t state_rows;
    int32_t layers;
    int32_t hidden;
    int32_t inner;
    int32_t dt_rank;
    int32_t d_state;
    int32_t conv_width;
    float eps;
    int32_t dtype;
    fk_mamba_decode_layer layer[FK_MAMBA_DECODE_MAX_LAYERS];
} fk_mamba_decode_layers_params;
