/* Op contract: interpolate_pos_embed (L1): resize a learned position-embedding grid to a new
 * patch grid, as `F.interpolate(..., size=(out_h, out_w), align_corners=False)` on the
 * [1, channels, in_h, in_w] view that HF builds (ViT/SigLIP `interpolate_pos_encoding`,
 * SigLIP-2 `resize_positional_embeddings`), but in the token-major layout the model keeps:
 *   out[oy * out_w + ox, c] = sum_y sum_x wy(oy, y) wx(ox, x) input[y * in_w + x, c]
 *   mode 0: bicubic (A = -0.75, taps clamped to the border, antialias=False)
 *   mode 1: bilinear with antialias=True (triangle filter widened by the scale when shrinking)
 * Tap positions and weights follow PyTorch's CPU kernels; weights and sums are computed in
 * fp64 (the op runs once per resolution: exactness matters, speed does not), rounded once.
 * Launcher: FK_OP_LAUNCHER(interpolate_pos_embed)(const fk_interpolate_pos_embed_params*, cudaStream_t)
 * dtypes: f32, f16, bf16 (input and out share it). */
#pragma once
#include "fk/dtype.h"

#define FK_INTERP_BICUBIC 0
#define FK_INTERP_BILINEAR_AA 1

typedef struct fk_interpolate_pos_embed_params {
    void* out;            /* [out_h * out_w, channels] contiguous */
    const void* input;    /* [in_h * in_w, channels] contiguous */
    int64_t channels;
    int32_t in_h;
    int32_t in_w;
    int32_t out_h;
    int32_t out_w;
    int32_t mode;         /* FK_INTERP_BICUBIC or FK_INTERP_BILINEAR_AA */
    int32_t dtype;
} fk_interpolate_pos_embed_params;
