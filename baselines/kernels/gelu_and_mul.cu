// gelu_and_mul baseline (L1). Contract: include/fk/ops/gelu_and_mul.h.
// Mirrors vLLM `GeluAndMul(approximate="none"|"tanh")`. Any sm_80+ GPU.
#include "fk/activation.cuh"
#include "fk/gated.cuh"
#include "fk/ops/gelu_and_mul.h"

FK_OP_LAUNCHER(gelu_and_mul)(const fk_act_and_mul_params* p, cudaStream_t stream) {
    FK_REQUIRE(p != nullptr && (p->approximate == 0 || p->approximate == 1));
    return p->approximate ? fk::gated_launch(p, stream, fk::GeluTanh{}) : fk::gated_launch(p, stream, fk::GeluErf{});
}
