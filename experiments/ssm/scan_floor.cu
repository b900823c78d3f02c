// How fast can any Mamba-1 selective scan be at mamba-2.8b's 8k-token shape on this GPU?
// Issue 7 asks `selective_scan` to move its bytes at >= 50 % of the copy rate (the bytes are
// u, delta, z in and y out: 4 x 8192 x 5120 bf16, plus B, C, A, D). The scan also needs one
// exp per (token, channel, state) — exp(delta * A) with A a learned [5120, 16] matrix, so no
// algebra removes it — and the recurrence h = dA h + delta u B, y += C h per element.
// This program measures, in one process: the device-to-device copy rate; a kernel that only
// evaluates 8192 x 5120 x 16 ex2.approx (8 independent chains per thread, nothing else); and
// one that evaluates the whole per-element recurrence from registers (no memory traffic
// besides a final store). Both are lower bounds for a scan kernel, which also has to load,
// convert and store. Times: CUDA events, 3 warm-ups, median of 21.
// Build and run (any CUDA 12+ toolkit, sm_90): nvcc -O3 -arch=sm_90 scan_floor.cu -o scan_floor && ./scan_floor
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdio>
#include <vector>

#define CHECK(x)                                                                            \
    do {                                                                                    \
        cudaError_t e_ = (x);                                                               \
        if (e_ != cudaSuccess) {                                                            \
            std::fprintf(stderr, "%s:%d: %s\n", __FILE__, __LINE__, cudaGetErrorString(e_)); \
            return 1;                                                                       \
        }                                                                                   \
    } while (0)

constexpr long long kTokens = 8192, kDim = 5120, kState = 16;
constexpr long long kElems = kTokens * kDim * kState;  // exps a scan must evaluate
constexpr int kThreads = 256, kChains = 8;

__device__ __forceinline__ float ex2(float x) {
    float y;
    asm volatile("ex2.approx.ftz.f32 %0, %1;" : "=f"(y) : "f"(x));
    return y;
}

// Each thread evaluates `per_thread` ex2 in kChains independent chains; the sum is stored so
// that nothing is dead code.
__global__ void ex2_only(float* out, int per_thread, float seed) {
    float acc[kChains];
    for (int c = 0; c < kChains; ++c) acc[c] = seed * (threadIdx.x + c) * 1e-9f;
    for (int i = 0; i < per_thread; i += kChains)
#pragma unroll
        for (int c = 0; c < kChains; ++c) acc[c] = ex2(-0.5f - acc[c] * 1e-3f);
    float s = 0.f;
    for (int c = 0; c < kChains; ++c) s += acc[c];
    out[blockIdx.x * blockDim.x + threadIdx.x] = s;
}

// One (channel, 16 states) per thread, `tokens` steps: per element one ex2 of delta * A (A in
// log2 units), one FMA for the state, one FMA for y; delta u and B, C vary per step from
// registers. Elements = threads x tokens x 16.
__global__ void recurrence_only(float* out, int tokens, float seed) {
    float a[kState], h[kState], b[kState], c[kState];
    for (int n = 0; n < kState; ++n) {
        a[n] = -(n + 1) * 0.1f;
        h[n] = 0.f;
        b[n] = seed * (n + 1);
        c[n] = seed * (kState - n);
    }
    float delta = 0.01f + threadIdx.x * 1e-6f, du = seed, y = 0.f;
    for (int t = 0; t < tokens; ++t) {
        float yt = 0.f;
#pragma unroll
        for (int n = 0; n < kState; ++n) {
            h[n] = fmaf(ex2(delta * a[n]), h[n], du * b[n]);
            yt = fmaf(c[n], h[n], yt);
        }
        y += yt;
        delta = fmaf(delta, 0.999f, 1e-4f);  // a new step each token, as the scan reads one
        du = fmaf(du, 0.998f, yt * 1e-9f);
    }
    out[blockIdx.x * blockDim.x + threadIdx.x] = y;
}

template <typename F> float median_ms(F&& launch) {
    cudaEvent_t a, b;
    cudaEventCreate(&a);
    cudaEventCreate(&b);
    for (int i = 0; i < 3; ++i) launch();
    std::vector<float> ms;
    for (int i = 0; i < 21; ++i) {
        cudaEventRecord(a);
        launch();
        cudaEventRecord(b);
        cudaEventSynchronize(b);
        float m = 0.f;
        cudaEventElapsedTime(&m, a, b);
        ms.push_back(m);
    }
    std::sort(ms.begin(), ms.end());
    cudaEventDestroy(a);
    cudaEventDestroy(b);
    return ms[ms.size() / 2];
}

int main() {
    cudaDeviceProp prop;
    CHECK(cudaGetDeviceProperties(&prop, 0));
    int clock_khz = 0;
    CHECK(cudaDeviceGetAttribute(&clock_khz, cudaDevAttrClockRate, 0));
    // Copy rate: 2 GiB device to device (read + write counted).
    const size_t bytes = size_t(2) << 30;
    void *src = nullptr, *dst = nullptr;
    CHECK(cudaMalloc(&src, bytes));
    CHECK(cudaMalloc(&dst, bytes));
    CHECK(cudaMemset(src, 1, bytes));
    const float copy_ms = median_ms([&] { cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice); });
    CHECK(cudaGetLastError());
    const double copy_gbs = 2.0 * bytes / (copy_ms * 1e-3) / 1e9;

    // The scan's bytes as the bench counts them (u, delta, z, y bf16; B, C bf16; A, D, state f32).
    const double scan_bytes = (4.0 * kTokens * kDim + 2.0 * kTokens * kState) * 2 + 4.0 * (kDim * kState + kDim * kState + 2 * kDim);
    const double bar_us = scan_bytes / (0.5 * copy_gbs * 1e9) * 1e6;

    float* out = nullptr;
    const int blocks = prop.multiProcessorCount * 16;
    const long long threads = static_cast<long long>(blocks) * kThreads;
    CHECK(cudaMalloc(&out, threads * sizeof(float)));
    const int per_thread = static_cast<int>((kElems + threads - 1) / threads + kChains - 1) / kChains * kChains;
    const float ex2_ms = median_ms([&] { ex2_only<<<blocks, kThreads>>>(out, per_thread, 1.f); });
    CHECK(cudaGetLastError());
    const double ex2_count = static_cast<double>(per_thread) * threads;

    // kDim channels, one per thread: 20 CTAs of 256 threads is too few for the GPU, so the
    // same work is spread as 16x the channels over 1/16 of the tokens (same element count).
    const int rec_threads = kDim * 16, rec_tokens = kTokens / 16;
    const float rec_ms = median_ms([&] { recurrence_only<<<rec_threads / kThreads, kThreads>>>(out, rec_tokens, 1.f); });
    CHECK(cudaGetLastError());
    CHECK(cudaDeviceSynchronize());

    std::printf(
        "{\"device\": \"%s\", \"sms\": %d, \"copy_GBps\": %.1f, \"scan_bytes\": %.0f, \"bar_50pct_of_copy_us\": %.1f,\n"
        " \"ex2_count\": %.0f, \"ex2_only_us\": %.1f, \"ex2_per_clk_per_sm_at_boost\": %.2f,\n"
        " \"recurrence_elements\": %lld, \"recurrence_only_us\": %.1f}\n",
        prop.name, prop.multiProcessorCount, copy_gbs, scan_bytes, bar_us, ex2_count, ex2_ms * 1e3,
        ex2_count / (ex2_ms * 1e-3) / prop.multiProcessorCount / (clock_khz * 1e3), static_cast<long long>(rec_threads) * rec_tokens * kState,
        rec_ms * 1e3);
    return 0;
}
