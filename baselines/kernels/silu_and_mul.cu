// silu_and_mul baseline (L1). Contract: include/fk/ops/silu_and_mul.h.
// Mirrors vLLM `SiluAndMul`. Any sm_80+ GPU. Memory-bound: 2 reads + 1 write of d per row,
// 16-byte vectors, computed in fp32 and rounded once.
#include "fk/gated.cuh"
#include "fk/ops/silu_and_mul.h"

namespace {
struct Silu {
    __device__ __forceinline__ float operator()(float x) const { return x / (1.f + __expf(-x)); }
};
}  // namespace

FK_OP_LAUNCHER(silu_and_mul)(const fk_act_and_mul_params* p, cudaStream_t stream) {
    FK_REQUIRE(p != nullptr && p->approximate == 0);
    return fk::gated_launch(p, stream, Silu{});
}
