/* Op contract: gelu_and_mul (L1). out = gelu(gate) * up with
 *   exact: gelu(x) = 0.5 x (1 + erf(x / sqrt(2)))
 *   tanh:  gelu(x) = 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
 * Launcher: FK_OP_LAUNCHER(gelu_and_mul)(const fk_act_and_mul_params* p, cudaStream_t stream)
 * dtypes: f32, f16, bf16. Mirrors vLLM `GeluAndMul(approximate="none"|"tanh")`. */
#pragma once
#include "fk/ops/act_and_mul.h"
