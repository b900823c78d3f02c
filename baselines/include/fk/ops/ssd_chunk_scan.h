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
 * accumulation (f16/bf16-rounded copies of the state entering each chunk and of dt-scaled x feed them, as
 * upstream's kernels do), so f16/bf16 results carry those roundings; f32 inputs are computed
 * in fp32 throughout.
 * x, dt, B, C and out may be strided row views (e.g. column blocks of the conv output).
 * final_state may be exactly initial_state (a state cache updated in place); other overlaps
 * are undefined.
 * The 16-bit path runs in two passes over chunks of FK_SSD_CHUNK_SCAN_CHUNK tokens and hands the
 * state entering each chunk (and the running dt*A sums) from the first pass to the second
 * through `workspace`: at least fk_ssd_chunk_scan_workspace_bytes(...) bytes of device memory,
 * 256-byte aligned, not shared with any other argument (NULL / 0 when that function says 0).
 * Launcher: FK_OP_LAUNCHER(ssd_chunk_scan)(const fk_ssd_chunk_scan_params*, cudaStream_t)
 * dtypes: x, dt, B, C, out f32, f16 or bf16 (same); A, D, dt_bias and the states f32;
 * cu_seqlens i32. Limits: 1 <= d_state <= FK_SSD_CHUNK_SCAN_MAX_DSTATE,
 * 1 <= head_dim <= FK_SSD_CHUNK_SCAN_MAX_HEADDIM, heads % ngroups == 0. */
#pragma once
#include "fk/dtype.h"

#define FK_SSD_CHUNK_SCAN_MAX_DSTATE 256
#define FK_SSD_CHUNK_SCAN_MAX_HEADDIM 256
#define FK_SSD_CHUNK_SCAN_CHUNK 128
/* Bytes past each [heads][tokens] f32 part that a pass may read (and ignore): the Hopper state
 * pass copies a chunk's sums in whole 16-byte units from the boundary at or before its first. */
#define FK_SSD_CHUNK_SCAN_SUM_SLACK 528

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
    void* workspace;            /* fk_ssd_chunk_scan_workspace_bytes(...) bytes, or NULL when that is 0 */
    int64_t workspace_bytes;
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

/* Workspace of the 16-bit (tensor-core) path; the f32 path and d_state > 128 run the plain
 * recurrence and need none. Layout (each part 256-byte aligned): the state entering every
 * chunk, [slots][heads][head_dim][d_state padded to 64 or 128] in the activations' dtype, with
 * slots = ceil(tokens / CHUNK) + batch (a sequence's chunks start at its first token, so
 * chunk k of sequence s is slot floor(cu_seqlens[s] / CHUNK) + s + k); then the running sum of
 * dt*A (log2 units) and the effective dt, [heads][tokens] f32 each. The launcher takes the
 * parts' offsets from the same two functions. */
#ifdef __cplusplus
#define FK_SSD_INLINE inline
#else
#define FK_SSD_INLINE static inline
#endif
/* Bytes of the chunk-state part (16-bit activations). */
FK_SSD_INLINE int64_t fk_ssd_chunk_scan_workspace_state_bytes(int64_t tokens, int32_t batch, int32_t heads, int32_t head_dim, int32_t d_state) {
    const int64_t nt = d_state <= 64 ? 64 : 128;
    const int64_t slots = (tokens + FK_SSD_CHUNK_SCAN_CHUNK - 1) / FK_SSD_CHUNK_SCAN_CHUNK + batch;
    return (slots * heads * head_dim * nt * 2 + 255) / 256 * 256;
}
/* Bytes of each of the two [heads][tokens] f32 parts (with their slack). */
FK_SSD_INLINE int64_t fk_ssd_chunk_scan_workspace_sum_bytes(int64_t tokens, int32_t heads) {
    return ((int64_t)heads * tokens * 4 + FK_SSD_CHUNK_SCAN_SUM_SLACK + 255) / 256 * 256;
}
FK_SSD_INLINE int64_t fk_ssd_chunk_scan_workspace_bytes(int64_t tokens, int32_t batch, int32_t heads, int32_t head_dim, int32_t d_state, int32_t dtype) {
    if (dtype == FK_DTYPE_F32 || d_state > 128 || tokens <= 0) return 0;
    return fk_ssd_chunk_scan_workspace_state_bytes(tokens, batch, heads, head_dim, d_state) + 2 * fk_ssd_chunk_scan_workspace_sum_bytes(tokens, heads);
}
#undef FK_SSD_INLINE
