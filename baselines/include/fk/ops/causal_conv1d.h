/* Op contract: causal_conv1d (L1): Mamba's depthwise causal conv over a packed batch of
 * sequences (Dao-AILab `causal_conv1d_fn` with cu_seqlens / vLLM `causal_conv1d_fn`; HF
 * `MambaMixer` / `Mamba2Mixer` `conv1d` with padding width-1 cut to the sequence):
 *   out[t, c] = act(bias[c] + sum_{k<W} weight[c, k] * xh[t - W + 1 + k, c])
 * where xh is sequence s's own inputs (t in [cu_seqlens[s], cu_seqlens[s+1])) preceded by its
 * initial state (initial_state[s, c, :], the W-1 inputs before it, oldest first; zeros when
 * initial_state is NULL). act = SiLU when silu != 0, else identity. final_state[s, c, :] (when
 * not NULL) receives the last W-1 entries of xh of the sequence (reaching into the initial
 * state for sequences shorter than W-1; an empty sequence passes its initial state through).
 * final_state may be exactly initial_state (the rolling conv cache updated in place); any
 * other overlap between tensors is undefined.
 * Channels-last: x and out are [tokens, dim] rows (row strides in elements), so Mamba-2's
 * xBC slice of the in_proj output can be passed without a copy.
 * fp32 accumulation, one rounding to the dtype. States keep the input dtype (they hold inputs).
 * Launcher: FK_OP_LAUNCHER(causal_conv1d)(const fk_causal_conv1d_params*, cudaStream_t)
 * dtypes: x, weight, bias, states, out all f32, f16 or bf16 (same); cu_seqlens i32.
 * Limits: 2 <= width <= FK_CAUSAL_CONV1D_MAX_WIDTH. */
#pragma once
#include "fk/dtype.h"

#define FK_CAUSAL_CONV1D_MAX_WIDTH 4

typedef struct fk_causal_conv1d_params {
    void* out;                 /* [tokens, dim], rows out_stride apart */
    const void* x;             /* [tokens, dim], rows x_stride apart */
    const void* weight;        /* [dim, width], contiguous */
    const void* bias;          /* [dim] or NULL */
    const int32_t* cu_seqlens; /* [batch + 1]: 0, ..., tokens, non-decreasing */
    const void* initial_state; /* [batch, dim, width - 1] contiguous, or NULL (zeros) */
    void* final_state;         /* [batch, dim, width - 1] contiguous, or NULL; may equal initial_state */
    int64_t tokens;
    int64_t dim;
    int64_t x_stride;
    int64_t out_stride;
    int32_t batch;
    int32_t width;
    int32_t silu;              /* 0 or 1 */
    int32_t dtype;
} fk_causal_conv1d_params;
