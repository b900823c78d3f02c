// Shared by the standalone experiment programs of experiments/ssm: the CUDA error check that
// ends the program with the failing call's location, the device-to-device copy rate (the
// roofline their kernels are measured against), and deterministic random bf16 inputs.
#pragma once
#include <cuda_bf16.h>
#include <cuda_runtime.h>
#include <stdint.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <vector>

#define CHECK(x)                                                                            \
    do {                                                                                    \
        cudaError_t e_ = (x);                                                               \
        if (e_ != cudaSuccess) {                                                            \
            std::fprintf(stderr, "%s:%d: %s\n", __FILE__, __LINE__, cudaGetErrorString(e_)); \
            std::exit(1);                                                                   \
        }                                                                                   \
    } while (0)

// Median milliseconds of `launch()` on `stream` between two CUDA events: `warm` warm-ups, then
// `reps` timed runs.
template <typename F> inline double median_event_ms(cudaStream_t stream, int reps, int warm, F&& launch) {
    cudaEvent_t e0, e1;
    CHECK(cudaEventCreate(&e0));
    CHECK(cudaEventCreate(&e1));
    std::vector<float> ms;
    for (int r = 0; r < warm + reps; ++r) {
        CHECK(cudaEventRecord(e0, stream));
        launch();
        CHECK(cudaEventRecord(e1, stream));
        CHECK(cudaEventSynchronize(e1));
        float m;
        CHECK(cudaEventElapsedTime(&m, e0, e1));
        if (r >= warm) ms.push_back(m);
    }
    CHECK(cudaEventDestroy(e0));
    CHECK(cudaEventDestroy(e1));
    std::sort(ms.begin(), ms.end());
    return ms[ms.size() / 2];
}

// Copy rate in GB/s (bytes read + written) of `bytes` device to device on `stream`: CUDA
// events around each copy, `warm` warm-ups, the median of `reps` - `warm` timed copies.
inline double copy_rate_gbps(cudaStream_t stream, size_t bytes, int reps, int warm) {
    void *a, *b;
    CHECK(cudaMalloc(&a, bytes));
    CHECK(cudaMalloc(&b, bytes));
    const double ms = median_event_ms(stream, reps - warm, warm, [&] { CHECK(cudaMemcpyAsync(b, a, bytes, cudaMemcpyDeviceToDevice, stream)); });
    CHECK(cudaFree(a));
    CHECK(cudaFree(b));
    return 2.0 * bytes / (ms * 1e-3) / 1e9;
}

// Deterministic uniform in [lo, hi) from an index and a stream id.
__host__ __device__ inline float hash_uniform(uint64_t i, uint32_t stream, float lo, float hi) {
    uint64_t x = i * 0x9E3779B97F4A7C15ull + stream * 0xD1B54A32D192ED03ull + 0x2545F4914F6CDD1Dull;
    x ^= x >> 30;
    x *= 0xBF58476D1CE4E5B9ull;
    x ^= x >> 27;
    x *= 0x94D049BB133111EBull;
    x ^= x >> 31;
    return lo + (hi - lo) * static_cast<float>(x >> 40) * (1.f / 16777216.f);
}

__global__ void fill_bf16(__nv_bfloat16* p, int64_t n, uint32_t stream, float lo, float hi) {
    for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n; i += static_cast<int64_t>(gridDim.x) * blockDim.x)
        p[i] = __float2bfloat16_rn(hash_uniform(i, stream, lo, hi));
}
