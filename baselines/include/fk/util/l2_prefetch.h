/* Utility (not a model op): ask the L2 to fetch byte ranges of device memory, e.g. the weight
 * a decode step reads a few kernels later, launched on a side stream so that no kernel of the
 * step waits for it (fk_runtime::side_stream). sm_90 bulk prefetches, issued by `ctas` CTAs
 * of one warp (one per SM is enough: a CTA's share is issued at ~260 GB/s, run 56); before
 * sm_90 the kernel does nothing. A hint: no memory changes.
 * Launcher: fk_util_l2_prefetch(const fk_l2_prefetch_params*, cudaStream_t) -> cudaError_t. */
#pragma once
#include "fk/dtype.h"

#define FK_L2_PREFETCH_RANGES 2

typedef struct fk_l2_prefetch_params {
    const void* ptr[FK_L2_PREFETCH_RANGES];    /* 16-byte aligned; NULL with bytes 0: unused */
    int64_t bytes[FK_L2_PREFETCH_RANGES];      /* multiples of 16 */
    int32_t ctas;                              /* >= 1 */
    int32_t pad_;
} fk_l2_prefetch_params;

#ifdef __cplusplus
extern "C"
#endif
cudaError_t fk_util_l2_prefetch(const fk_l2_prefetch_params* p, cudaStream_t stream);
