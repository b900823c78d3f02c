// Device pieces shared by skinny_gemm's kernels (skinny_gemm.cu and skinny/stream_sm90.cuh):
// activation loads and the causal-conv epilogue (the 16-byte dot product is fk::dot16_acc).
#pragma once
#include "fk/common.cuh"
#include "fk/ops/skinny_gemm.h"
#include "fk/ssm.cuh"

namespace fk {
namespace skinny {

template <typename T, int V> __device__ __forceinline__ fk::Packed<T, V> ld_act(const T* p) {
    fk::Packed<T, V> v;
    const uint4 raw = __ldg(reinterpret_cast<const uint4*>(p));
    memcpy(&v, &raw, sizeof(v));
    return v;
}

// The conv epilogue for row m, conv channel c, whose input y the GEMV just stored: one
// causal_conv1d_update step (fk::conv_update_step, that op's own, on the same rounded y).
template <typename T>
__device__ __forceinline__ void conv_step(const fk_skinny_gemm_params& p, int m, int64_t c, T y) {
    const int64_t srow = p.conv_state_indices ? p.conv_state_indices[m] : m;
    if (srow < 0) return;  // a padding row: its conv_out row is left as it was
    const int taps = p.conv_width - 1;
    const float acc = fk::conv_update_step<FK_CAUSAL_CONV1D_MAX_WIDTH - 1>(
        static_cast<const T*>(p.conv_weight) + c * p.conv_width, static_cast<T*>(p.conv_state) + (srow * p.conv_dim + c) * taps, taps, y,
        p.conv_bias ? fk::to_float(static_cast<const T*>(p.conv_bias)[c]) : 0.f);
    static_cast<T*>(p.conv_out)[m * p.conv_out_stride + c] = fk::from_float<T>(p.conv_silu ? fk::silu(acc) : acc);
}

}  // namespace skinny
}  // namespace fk
