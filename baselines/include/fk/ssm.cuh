// Device helpers shared by the state-space-model kernels (causal_conv1d*, selective_scan,
// selective_state_update, rms_norm_gated): the activations Mamba uses, in fp32.
#pragma once
#include "fk/common.cuh"

namespace fk {

// x * sigmoid(x). The fast divide is within 2 ulp for denominators below 2^126; beyond
// (x < -87) it returns 0, which is silu's value there to fp32 precision anyway.
__device__ __forceinline__ float silu(float x) { return __fdividef(x, 1.f + __expf(-x)); }

// torch.nn.functional.softplus with its default threshold 20 (Mamba's dt activation): above
// it log1p(exp(x)) == x in fp32, and returning x avoids overflowing exp.
__device__ __forceinline__ float softplus(float x) { return x > 20.f ? x : log1pf(__expf(x)); }

constexpr float kLog2e = 1.4426950408889634f;

}  // namespace fk
