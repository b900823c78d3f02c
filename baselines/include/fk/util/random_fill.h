/* Utility (not a model op): fill a contiguous float tensor with seeded pseudo-random values,
 * uniform on [mean - a, mean + a] with a = std * sqrt(3) (so the requested mean and std),
 * element i drawn from a counter-based hash of (seed, i). Used to make random-weight models
 * of real sizes (an 8B model's 16 GB) in milliseconds on the GPU instead of minutes on the
 * host; the same seed gives the same tensor on any GPU and launch geometry.
 * Launcher: fk_util_random_fill(const fk_random_fill_params*, cudaStream_t) -> cudaError_t. */
#pragma once
#include "fk/dtype.h"

typedef struct fk_random_fill_params {
    void* out;        /* numel elements of dtype (f32, f16 or bf16), contiguous */
    int64_t numel;
    uint64_t seed;
    float mean;
    float std;
    int32_t dtype;
    int32_t pad_;
} fk_random_fill_params;

#ifdef __cplusplus
extern "C"
#endif
cudaError_t fk_util_random_fill(const fk_random_fill_params* p, cudaStream_t stream);
