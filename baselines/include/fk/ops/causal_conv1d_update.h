/* Op contract: causal_conv1d_update (L1): one decode token per sequence through Mamba's
 * depthwise causal conv, rolling the conv cache in place (Dao-AILab / vLLM
 * `causal_conv1d_update`; HF `MambaMixer` cache path):
 *   out[b, c] = act(bias[c] + sum_{k<W-1} weight[c, k] * state[b, c, k] + weight[c, W-1] * x[b, c])
 *   state[b, c, :] = (state[b, c, 1:], x[b, c])      (oldest first, shifted left by one)
 * act = SiLU when silu != 0. fp32 accumulation; state keeps the input dtype.
 * With state_indices, sequence b's state is row state_indices[b] of a cache of state_rows
 * rows (vLLM's `conv_state_indices`: the cache's slots, no gather/scatter, so a CUDA graph of a
 * decode step serves any slots); a negative index marks a padding row: nothing is read or
 * written for it (its out row is left as it was). Indices must be distinct and < state_rows
 * (the Rust wrapper's `StateSlots` checks both on the host).
 * Launcher: FK_OP_LAUNCHER(causal_conv1d_update)(const fk_causal_conv1d_update_params*, cudaStream_t)
 * dtypes: x, weight, bias, conv_state, out all f32, f16 or bf16 (same).
 * Limits: 2 <= width <= FK_CAUSAL_CONV1D_MAX_WIDTH (causal_conv1d.h). */
#pragma once
#include "fk/dtype.h"

typedef struct fk_causal_conv1d_update_params {
    void* out;              /* [batch, dim], rows out_stride apart */
    const void* x;          /* [batch, dim], rows x_stride apart */
    const void* weight;     /* [dim, width], contiguous */
    const void* bias;       /* [dim] or NULL */
    void* conv_state;       /* [batch or state_rows, dim, width - 1], contiguous; updated in place */
    const int32_t* state_indices; /* [batch] or NULL (row b is sequence b's) */
    int64_t state_rows;     /* rows of conv_state (== batch without state_indices) */
    int64_t batch;
    int64_t dim;
    int64_t x_stride;
    int64_t out_stride;
    int32_t width;
    int32_t silu;
    int32_t dtype;
    int32_t pad_;
} fk_causal_conv1d_update_params;
