/* Op contract: patch_embed_im2col (L1), the data movement half of a ViT patch embedding
 * (`nn.Conv2d(C, hidden, kernel_size=p, stride=p)` then `flatten(2).transpose(1, 2)`):
 *   out[(b * gh + py) * gw + px, (c * p + ky) * p + kx] = pixels[b, c, py * p + ky, px * p + kx]
 * with gh = height / p, gw = width / p. The column order is the conv weight's (c, ky, kx), so
 * `out @ weight.view(hidden, C*p*p)^T + bias` (one tensor-core GEMM) is the convolution.
 * Launcher: FK_OP_LAUNCHER(patch_embed_im2col)(const fk_patch_embed_im2col_params*, cudaStream_t)
 * dtypes: pixels and out each f32, f16 or bf16, independently: each value is rounded once to the
 * out dtype (round to nearest even), so f32 pixels straight from the host become bf16 GEMM rows
 * in this one pass instead of a host-side conversion. height and width are multiples of patch. */
#pragma once
#include "fk/dtype.h"

typedef struct fk_patch_embed_im2col_params {
    void* out;            /* [batch * gh * gw, channels * patch * patch], row stride out_stride */
    const void* pixels;   /* [batch, channels, height, width] contiguous (NCHW, as HF gives it) */
    int64_t batch;
    int64_t channels;
    int64_t height;
    int64_t width;
    int64_t patch;
    int64_t out_stride;   /* elements between out rows (>= channels * patch * patch) */
    int32_t dtype;        /* out's dtype (the GEMM's) */
    int32_t pixels_dtype; /* pixels' dtype */
} fk_patch_embed_im2col_params;
