/* Op contract: gelu (L1), elementwise over n contiguous elements, fp32 math, rounded once:
 *   mode 0 (erf):   0.5 x (1 + erf(x / sqrt(2)))                  nn.GELU(), HF "gelu" (BERT, ViT, DINOv3)
 *   mode 1 (tanh):  0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))) HF "gelu_pytorch_tanh" (SigLIP)
 *   mode 2 (quick): x * sigmoid(1.702 x)                           HF "quick_gelu" (CLIP)
 * out may be input itself (in place).
 * Launcher: FK_OP_LAUNCHER(gelu)(const fk_gelu_params* p, cudaStream_t stream)
 * dtypes: f32, f16, bf16 (input and out share it). */
#pragma once
#include "fk/dtype.h"

#define FK_GELU_ERF 0
#define FK_GELU_TANH 1
#define FK_GELU_QUICK 2

typedef struct fk_gelu_params {
    void* out;          /* [n] contiguous */
    const void* input;  /* [n] contiguous */
    int64_t n;
    int32_t mode;       /* FK_GELU_ERF, FK_GELU_TANH or FK_GELU_QUICK */
    int32_t dtype;
} fk_gelu_params;
