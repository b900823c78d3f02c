// fk_util_l2_prefetch: see include/fk/util/l2_prefetch.h. Each CTA issues its share of every
// range (fk::l2_prefetch_share) and exits; nothing is read back.
#include "fk/common.cuh"
#include "fk/util/l2_prefetch.h"

namespace {

__global__ void __launch_bounds__(32) l2_prefetch_kernel(fk_l2_prefetch_params p) {
#pragma unroll
    for (int i = 0; i < FK_L2_PREFETCH_RANGES; ++i) fk::l2_prefetch_share(p.ptr[i], p.bytes[i]);
}

}  // namespace

extern "C" cudaError_t fk_util_l2_prefetch(const fk_l2_prefetch_params* p, cudaStream_t stream) {
    FK_REQUIRE(p != nullptr && stream != nullptr && p->ctas >= 1);
    bool any = false;
    for (int i = 0; i < FK_L2_PREFETCH_RANGES; ++i) {
        FK_REQUIRE(p->bytes[i] >= 0 && p->bytes[i] % 16 == 0 && reinterpret_cast<uintptr_t>(p->ptr[i]) % 16 == 0);
        FK_REQUIRE(p->ptr[i] != nullptr || p->bytes[i] == 0);
        any = any || p->bytes[i] > 0;
    }
    if (!any) return cudaSuccess;
    l2_prefetch_kernel<<<p->ctas, 32, 0, stream>>>(*p);
    return cudaGetLastError();
}
