/* Op contract: selective_scan (L1): Mamba-1's fused selective scan over a packed batch of
 * sequences (Dao-AILab `selective_scan_fn` / vLLM `selective_scan_fwd` with query_start_loc;
 * HF `MambaMixer.slow_forward`'s loop). For each sequence s (tokens cu_seqlens[s] ..
 * cu_seqlens[s+1]), channel d and state n, with h starting at initial_state[s, d, :] (zeros
 * when NULL):
 *   dt     = delta[t, d] + delta_bias[d];  dt = softplus(dt) when delta_softplus
 *   h[n]   = exp(dt * A[d, n]) * h[n] + dt * B[t, n] * u[t, d]
 *   y      = sum_n C[t, n] * h[n] + D[d] * u[t, d];   y *= silu(z[t, d]) when z is given
 *   out[t, d] = y (one rounding to the dtype); final_state[s, d, :] = h after the last token.
 * B and C are shared by every channel (Mamba-1 has one group); they may be strided row views
 * of x_proj's output ([dt_rank | B | C]), and u, delta, z, out strided row views as well.
 * The state is fp32 and never leaves the chip inside a sequence; the math is fp32.
 * final_state may be exactly initial_state (a state cache updated in place); other overlaps
 * are undefined.
 * Launcher: FK_OP_LAUNCHER(selective_scan)(const fk_selective_scan_params*, cudaStream_t)
 * dtypes: u, delta, B, C, z, out f32, f16 or bf16 (same); A, D, delta_bias and the states f32;
 * cu_seqlens i32. Limits: 1 <= d_state <= FK_SELECTIVE_SCAN_MAX_DSTATE. */
#pragma once
#include "fk/dtype.h"

#define FK_SELECTIVE_SCAN_MAX_DSTATE 64

typedef struct fk_selective_scan_params {
    void* out;                  /* [tokens, dim], rows out_stride apart */
    const void* u;              /* [tokens, dim], rows u_stride apart */
    const void* delta;          /* [tokens, dim], rows delta_stride apart */
    const float* A;             /* [dim, d_state], contiguous */
    const void* B;              /* [tokens, d_state], rows b_stride apart */
    const void* C;              /* [tokens, d_state], rows c_stride apart */
    const float* D;             /* [dim] or NULL */
    const void* z;              /* [tokens, dim], rows z_stride apart, or NULL */
    const float* delta_bias;    /* [dim] or NULL */
    const int32_t* cu_seqlens;  /* [batch + 1]: 0, ..., tokens, non-decreasing */
    const float* initial_state; /* [batch, dim, d_state] contiguous, or NULL (zeros) */
    float* final_state;         /* [batch, dim, d_state] contiguous, or NULL; may equal initial_state */
    int64_t tokens;
    int64_t dim;
    int64_t u_stride;
    int64_t delta_stride;
    int64_t z_stride;
    int64_t out_stride;
    int64_t b_stride;
    int64_t c_stride;
    int32_t batch;
    int32_t d_state;
    int32_t delta_softplus;     /* 0 or 1 */
    int32_t dtype;
} fk_selective_scan_params;
