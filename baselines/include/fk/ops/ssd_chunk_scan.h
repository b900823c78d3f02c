/* Op contract: ssd_chunk_scan (L1): Mamba-2's state-space-duality prefill over a packed batch
 * of sequences (Dao-AILab `mamba_chunk_scan_combined` with cu_seqlens; HF
 * `Mamba2Mixer.torch_forward`'s chunked scan), without the z gate (HF gates in the norm).
 * For each sequence s (tokens cu_seqlens[s] .. cu_seqlens[s+1]), head h (group
 * g = h / (heads / ngroups)), channel p < head_dim and state n < d_state, with S starting at
 * initial_state[s, h, :, :] (zeros when NULL):
 *   dt      = dt[t, h] + dt_bias[h];  dt = softplus(dt) when dt_softplus;  dt = clamp(dt, dt_min, dt_max)
 *   S[p, n] = exp(dt * A[h]) * S[p, n] + dt * x[t, h*head_dim + p] * B[t, g*d_state + n]
 *   y       = sum_n C[t, g*d_state + n] * S[p, n] + D[h] * x[t, h*head_dim + p]
 *   out[t, h*head_dim + p] = y (one rounding to the dtype); final_state[s, h] = S after the last token.
 * The result is that recurrence: how the kernel chunks time (and so how it rounds inside) is
 * its own business. The state is fp32; f16/bf16 products may run on tensor cores with fp32
 * accumulation (an f16/bf16-rounded copy of the state and of dt-scaled B feeds them, as
 * upstream's kernels do), so f16/bf16 results carry those roundings; f32 inputs are computed
 * in fp32 throughout.
 * x, dt, B, C and out may be strided row views (e.g. column blocks of the conv output).
 * final_state may be exactly initial_state (a state cache updated in place); other overlaps
 * are undefined.
 * Launcher: FK_OP_LAUNCHER(ssd_chunk_scan)(const fk_ssd_chunk_scan_params*, cudaStream_t)
 * dtypes: x, dt, B, C, out f32, f16 or bf16 (same); A, D, dt_bias and the states f32;
 * cu_seqlens i32. Limits: 1 <= d_state <= FK_SSD_CHUNK_SCAN_MAX_DSTATE,
 * 1 <= head_dim <= FK_SSD_CHUNK_SCAN_MAX_HEADDIM, heads % ngroups == 0. */
#pragma once
#include "fk/dtype.h"

#define FK_SSD_CHUNK_SCAN_MAX_DSTATE 256
#define FK_SSD_CHUNK_SCAN_MAX_HEADDIM 256

typedef struct fk_ssd_chunk_scan_params {
    void* out;                  /* [tokens, heads*head_dim], rows out_stride apart */
    const void* x;              /* [tokens, heads*head_dim], rows x_stride apart */
    const void* dt;             /* [tokens, heads], rows dt_stride apart */
    const float* A;             /* [heads], contiguous */
    const void* B;              /* [tokens, ngroups*d_state], rows b_stride apart */
    const void* C;              /* [tokens, ngroups*d_state], rows c_stride apart */
    const float* D;             /* [heads] or NULL */
    const float* dt_bias;       /* [heads] or NULL */
    const int32_t* cu_seqlens;  /* [batch + 1]: 0, ..., tokens, non-decreasing */
    const float* initial_state; /* [batch, heads, head_dim, d_state] contiguous, or NULL (zeros) */
    float* final_state;         /* [batch, heads, head_dim, d_state] contiguous, or NULL; may equal initial_state */
    int64_t tokens;
    int64_t x_stride;
    int64_t dt_stride;
    int64_t b_stride;
    int64_t c_stride;
    int64_t out_stride;
    float dt_min;               /* clamp of the step after softplus: 0 and +inf for none */
    float dt_max;
    int32_t batch;
    int32_t heads;
    int32_t head_dim;
    int32_t ngroups;
    int32_t d_state;
    int32_t dt_softplus;        /* 0 or 1 */
    int32_t dtype;
    int32_t pad_;
} fk_ssd_chunk_scan_params;
