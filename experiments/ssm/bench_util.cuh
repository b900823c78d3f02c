// Shared by the standalone experiment programs of experiments/ssm: the CUDA error check that
// ends the program with the failing call's location, and the device-to-device copy rate (the
// roofline their kernels are measured against).
#pragma once
#include <cuda_runtime.h>

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

// Copy rate in GB/s (bytes read + written) of `bytes` device to device on `stream`: CUDA
// events around each copy, `warm` warm-ups, the median of `reps` - `warm` timed copies.
inline double copy_rate_gbps(cudaStream_t stream, size_t bytes, int reps, int warm) {
    void *a, *b;
    CHECK(cudaMalloc(&a, bytes));
    CHECK(cudaMalloc(&b, bytes));
    cudaEvent_t e0, e1;
    CHECK(cudaEventCreate(&e0));
    CHECK(cudaEventCreate(&e1));
    std::vector<float> ms;
    for (int r = 0; r < reps; ++r) {
        CHECK(cudaEventRecord(e0, stream));
        CHECK(cudaMemcpyAsync(b, a, bytes, cudaMemcpyDeviceToDevice, stream));
        CHECK(cudaEventRecord(e1, stream));
        CHECK(cudaEventSynchronize(e1));
        float m;
        CHECK(cudaEventElapsedTime(&m, e0, e1));
        if (r >= warm) ms.push_back(m);
    }
    std::sort(ms.begin(), ms.end());
    CHECK(cudaEventDestroy(e0));
    CHECK(cudaEventDestroy(e1));
    CHECK(cudaFree(a));
    CHECK(cudaFree(b));
    return 2.0 * bytes / (ms[ms.size() / 2] * 1e-3) / 1e9;
}
