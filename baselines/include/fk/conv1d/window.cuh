// Device pieces of causal_conv1d's kernels: finding a token's sequence in cu_seqlens (every
// kernel), and reading the inputs of a conv window from x, or before the sequence's first
// token from its initial state or zeros (causal_conv1d.cu's register and final-state kernels;
// conv1d/stream_sm90.cuh reads x from shared memory instead).
#pragma once
#include "fk/common.cuh"

namespace fk {
namespace conv1d {

// The sequence holding token t: the last s with cu[s] <= t (skips empty sequences, since
// cu[s+1] > t then). cu[batch] = tokens > t, so s < batch.
__device__ __forceinline__ int find_seq(const int32_t* cu, int batch, int64_t t) {
    int lo = 0, hi = batch;
    while (lo < hi) {
        const int mid = (lo + hi + 1) / 2;
        if (cu[mid] <= t) lo = mid; else hi = mid - 1;
    }
    return lo;
}

// Input of channel c at position pos of sequence s (which starts at `start`): x itself, or
// the initial state (index pos - start + W - 1) before the start, or zero without one.
template <typename T, int W>
__device__ __forceinline__ float input_at(const T* x, int64_t x_stride, const T* init, int64_t dim, int s, int64_t c,
                                          int64_t start, int64_t pos) {
    if (pos >= start) return fk::to_float(x[pos * x_stride + c]);
    if (init == nullptr) return 0.f;
    return fk::to_float(init[(static_cast<int64_t>(s) * dim + c) * (W - 1) + (pos - start + W - 1)]);
}

}  // namespace conv1d
}  // namespace fk
