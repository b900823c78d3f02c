/* Op contract: silu_and_mul (L1). out = silu(gate) * up, silu(x) = x / (1 + exp(-x)).
 * Launcher: FK_OP_LAUNCHER(silu_and_mul)(const fk_act_and_mul_params* p, cudaStream_t stream)
 * dtypes: f32, f16, bf16. Mirrors vLLM `SiluAndMul` / HF `LlamaMLP`'s act_fn(gate) * up. */
#pragma once
#include "fk/ops/act_and_mul.h"
