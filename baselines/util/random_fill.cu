// fk_util_random_fill: see include/fk/util/random_fill.h. A grid-stride loop over elements;
// each value comes from splitmix64(seed, index), so the result does not depend on the grid.
#include "fk/common.cuh"
#include "fk/util/random_fill.h"

namespace {

__device__ __forceinline__ uint64_t splitmix64(uint64_t x) {
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

template <typename T> __global__ void random_fill_kernel(fk_random_fill_params p) {
    const float a = p.std * 1.7320508075688772f;
    const uint64_t key = splitmix64(p.seed);
    for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < p.numel; i += int64_t(gridDim.x) * blockDim.x) {
        const uint64_t h = splitmix64(key ^ static_cast<uint64_t>(i));
        const float u = static_cast<float>(h >> 40) * (1.0f / 16777216.0f);  // 24 bits: [0, 1)
        static_cast<T*>(p.out)[i] = fk::from_float<T>(p.mean + a * (2.f * u - 1.f));
    }
}

}  // namespace

extern "C" cudaError_t fk_util_random_fill(const fk_random_fill_params* p, cudaStream_t stream) {
    FK_REQUIRE(p != nullptr && stream != nullptr && p->numel >= 0 && p->std >= 0.f);
    if (p->numel == 0) return cudaSuccess;
    FK_REQUIRE(p->out != nullptr);
    const int64_t blocks = std::min<int64_t>(fk::ceil_div(p->numel, 256), 132 * 16);
    FK_DISPATCH_FLOAT(p->dtype, T, { random_fill_kernel<T><<<static_cast<unsigned>(blocks), 256, 0, stream>>>(*p); });
    return cudaGetLastError();
}
