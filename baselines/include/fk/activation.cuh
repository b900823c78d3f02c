// Scalar activations in fp32, shared by the elementwise `gelu` op and the gated
// `gelu_and_mul`, so the two can never disagree on a formula.
#pragma once
#include "fk/common.cuh"

namespace fk {

// nn.GELU(): 0.5 x (1 + erf(x / sqrt(2))), computed as 0.5 x erfc(-x / sqrt(2)): the same
// function, but for x << 0 the sum 1 + erf(...) cancels to a few ulps of 1 and lost ~1e-5 of
// relative accuracy in fp32 at x = -3.75 (H200 run 10: gelu/f32 erf vs the f64 reference);
// erfc computes the small tail directly.
struct GeluErf {
    __device__ __forceinline__ float operator()(float x) const { return 0.5f * x * erfcf(-x * 0.70710678118654752f); }
};

// nn.GELU(approximate="tanh"): 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))).
struct GeluTanh {
    __device__ __forceinline__ float operator()(float x) const {
        const float inner = 0.79788456080286536f * (x + 0.044715f * x * x * x);
        return 0.5f * x * (1.f + tanhf(inner));
    }
};

// HF quick_gelu (CLIP): x * sigmoid(1.702 x). For x -> -inf, expf overflows to inf and the
// quotient is -0, which is the limit.
struct QuickGelu {
    __device__ __forceinline__ float operator()(float x) const { return x / (1.f + expf(-1.702f * x)); }
};

}  // namespace fk
