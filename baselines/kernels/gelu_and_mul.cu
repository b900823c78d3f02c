// gelu_and_mul baseline (L1). Contract: include/fk/ops/gelu_and_mul.h.
// Mirrors vLLM `GeluAndMul(approximate="none"|"tanh")`. Any sm_80+ GPU.
#include "fk/gated.cuh"
#include "fk/ops/gelu_and_mul.h"

namespace {
struct GeluErf {
    __device__ __forceinline__ float operator()(float x) const { return 0.5f * x * (1.f + erff(x * 0.70710678118654752f)); }
};
struct GeluTanh {
    __device__ __forceinline__ float operator()(float x) const {
        const float inner = 0.79788456080286536f * (x + 0.044715f * x * x * x);
        return 0.5f * x * (1.f + tanhf(inner));
    }
};
}  // namespace

FK_OP_LAUNCHER(gelu_and_mul)(const fk_act_and_mul_params* p, cudaStream_t stream) {
    FK_REQUIRE(p != nullptr && (p->approximate == 0 || p->approximate == 1));
    return p->approximate ? fk::gated_launch(p, stream, GeluTanh{}) : fk::gated_launch(p, stream, GeluErf{});
}
