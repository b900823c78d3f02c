/* Op contract: selective_state_update (L1): the decode step of the selective scan, one token
 * per sequence, advancing the SSM state in place (Dao-AILab / vLLM `selective_state_update`).
 * One contract covers both Mamba generations; a state row is (b, h, p) with p < head_dim:
 *   dt      = dt[b, h] + dt_bias[h];  dt = softplus(dt) when dt_softplus
 *   a[n]    = A[h, n] (a_per_state = 1: Mamba-1, A [heads, d_state]) or A[h] (Mamba-2)
 *   g       = h / (heads / ngroups)
 *   state[b, h, p, n] = exp(dt * a[n]) * state[b, h, p, n] + dt * B[b, g, n] * x[b, h, p]
 *   y       = sum_n C[b, g, n] * state[b, h, p, n] + D[h] * x[b, h, p];  y *= silu(z[b, h, p])
 * Mamba-1 is heads = d_inner, head_dim = 1, ngroups = 1, a_per_state = 1 (dt per channel);
 * Mamba-2 is a_per_state = 0 with per-head dt, A, D, dt_bias.
 * fp32 state and math; out rounded once to the dtype.
 * With state_indices, sequence b's state is [state_indices[b], h, p, :] of a cache of
 * state_rows rows (vLLM's `state_batch_indices`); a negative index marks a padding row: nothing
 * is read or written for it. Indices must be distinct and < state_rows (checked on the host
 * by the Rust wrapper's `StateSlots`).
 * Launcher: FK_OP_LAUNCHER(selective_state_update)(const fk_selective_state_update_params*, cudaStream_t)
 * dtypes: x, dt, B, C, z, out f32, f16 or bf16 (same); state, A, D, dt_bias f32.
 * dt_proj (optional, Mamba-1's low-rank dt projection folded into the step): dt is then
 * dt_in [batch, dt_rank] (rows dt_stride apart) and, before dt_bias and softplus,
 *   dt[b, h] = round_to_dtype(sum_r dt_proj[h, r] * dt_in[b, r])    (dt_proj [heads, dt_rank])
 * exactly what a bias-free linear layer would have written as dt. 1 <= dt_rank <= 4096.
 * flags: FK_SELECTIVE_STATE_UPDATE_STATE_SETTLED promises that the launch right before this one
 * on the stream wrote none of state, state_indices, dt_proj, A, D and dt_bias (true in a decode
 * step, where in_proj or x_proj precedes this op): the kernel may then read them before waiting
 * for that launch (programmatic dependent launch). Without it, nothing is read before the wait.
 * Limits: 1 <= d_state <= FK_SELECTIVE_STATE_UPDATE_MAX_DSTATE; heads % ngroups == 0. */
#pragma once
#include "fk/dtype.h"

#define FK_SELECTIVE_STATE_UPDATE_MAX_DSTATE 256
#define FK_SELECTIVE_STATE_UPDATE_STATE_SETTLED 1

typedef struct fk_selective_state_update_params {
    void* out;                 /* [batch, heads * head_dim], rows out_stride apart */
    float* state;              /* [batch or state_rows, heads, head_dim, d_state], contiguous; in place */
    const int32_t* state_indices; /* [batch] or NULL (row b is sequence b's) */
    int64_t state_rows;        /* rows of state (== batch without state_indices) */
    const void* x;             /* [batch, heads * head_dim], rows x_stride apart */
    const void* dt;            /* [batch, heads], rows dt_stride apart */
    const float* A;            /* [heads, d_state] (a_per_state) or [heads] */
    const void* B;             /* [batch, ngroups * d_state], rows b_stride apart */
    const void* C;             /* [batch, ngroups * d_state], rows c_stride apart */
    const float* D;            /* [heads] or NULL */
    const void* z;             /* [batch, heads * head_dim], rows z_stride apart, or NULL */
    const float* dt_bias;      /* [heads] or NULL */
    int64_t batch;
    int64_t x_stride;
    int64_t dt_stride;
    int64_t z_stride;
    int64_t out_stride;
    int64_t b_stride;
    int64_t c_stride;
    int32_t heads;
    int32_t head_dim;
    int32_t ngroups;
    int32_t d_state;
    int32_t dt_softplus;       /* 0 or 1 */
    int32_t a_per_state;       /* 1: A is [heads, d_state] (Mamba-1); 0: [heads] (Mamba-2) */
    int32_t dtype;
    int32_t flags;             /* 0 or FK_SELECTIVE_STATE_UPDATE_STATE_SETTLED */
    const void* dt_proj;       /* [heads, dt_rank] or NULL (dt is then [batch, heads]) */
    int64_t dt_rank;           /* dt_proj's columns; 0 without it */
} fk_selective_state_update_params;
