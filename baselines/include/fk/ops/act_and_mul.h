/* Params shared by the gated activations silu_and_mul and gelu_and_mul (vLLM `SiluAndMul`,
 * `GeluAndMul`): input[r, 0:d] is the gate, input[r, d:2d] the up projection,
 *   out[r, i] = act(input[r, i]) * input[r, d + i], computed in fp32, rounded once. */
#pragma once
#include "fk/dtype.h"

typedef struct fk_act_and_mul_params {
    void* out;             /* [rows, d], row stride out_stride */
    const void* input;     /* [rows, 2d], row stride input_stride */
    int64_t rows;
    int64_t d;
    int64_t input_stride;
    int64_t out_stride;
    int32_t dtype;
    int32_t approximate;   /* gelu_and_mul only: 0 = exact (erf), 1 = tanh; must be 0 for silu */
} fk_act_and_mul_params;
