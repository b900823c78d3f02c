// Experiment 2: does cutting long weight rows into ~8 KB units (split-K with an in-kernel,
// order-fixed reduction by the last-arriving warp) help the down_proj shape (K = 14336)?
// Same timing method as variants.cu. Build like variants.cu.
#include "fk/common.cuh"
#include <cstdio>
#include <vector>
#include <algorithm>

using T = __nv_bfloat16;
constexpr int V = 8, U = 4, W = 4;

__global__ void __launch_bounds__(W * 32) gemv_split(const T* __restrict__ x, const T* __restrict__ w, T* __restrict__ out, float* part, int* count, int n, int k, int segs, int seg_len) {
    const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
    const int unit = blockIdx.x * W + warp;
    if (unit >= n * segs) return;
    const int row = unit / segs, seg = unit % segs;
    const int kb = seg * seg_len, ke = min(k, kb + seg_len);
    const T* wr = w + (size_t)row * k;
    float acc = 0.f;
    constexpr int step = 32 * V;
    for (int k0 = kb + lane * V; k0 < ke; k0 += U * step) {
        uint4 wv[U];
#pragma unroll
        for (int u = 0; u < U; ++u) {
            const int kk = k0 + u * step;
            wv[u] = kk < ke ? __ldcs(reinterpret_cast<const uint4*>(wr + kk)) : make_uint4(0, 0, 0, 0);
        }
#pragma unroll
        for (int u = 0; u < U; ++u) {
            const int kk = k0 + u * step;
            if (kk >= ke) break;
            const uint4 xr = __ldg(reinterpret_cast<const uint4*>(x + kk));
            const __nv_bfloat162* xv = reinterpret_cast<const __nv_bfloat162*>(&xr);
            const __nv_bfloat162* wv2 = reinterpret_cast<const __nv_bfloat162*>(&wv[u]);
#pragma unroll
            for (int e = 0; e < 4; ++e) {
                const float2 a = __bfloat1622float2(wv2[e]), b = __bfloat1622float2(xv[e]);
                acc = fmaf(a.x, b.x, fmaf(a.y, b.y, acc));
            }
        }
    }
    acc = fk::warp_sum(acc);
    if (lane != 0) return;
    if (segs == 1) {
        out[row] = __float2bfloat16_rn(acc);
        return;
    }
    part[(size_t)seg * n + row] = acc;
    __threadfence();
    if (atomicAdd(&count[row], 1) == segs - 1) {
        __threadfence();
        float s = 0.f;
        for (int i = 0; i < segs; ++i) s += __ldcg(&part[(size_t)i * n + row]);
        out[row] = __float2bfloat16_rn(s);
        count[row] = 0;
    }
}

int main() {
    struct Shape { int n, k; const char* name; } shapes[] = {{4096, 14336, "down"}, {28672, 4096, "gate_up"}, {6144, 4096, "qkv"}, {4096, 4096, "o"}};
    T *x, *w, *out;
    float* part;
    int* count;
    char* flush;
    const size_t flush_bytes = 200u << 20, maxw = (size_t)28672 * 4096;
    cudaMalloc(&x, 14336 * sizeof(T));
    cudaMalloc(&w, maxw * sizeof(T));
    cudaMalloc(&out, 28672 * sizeof(T));
    cudaMalloc(&part, 16 * 28672 * sizeof(float));
    cudaMalloc(&count, 28672 * sizeof(int));
    cudaMemset(count, 0, 28672 * sizeof(int));
    cudaMalloc(&flush, flush_bytes);
    cudaMemset(w, 0x3c, maxw * sizeof(T));
    cudaMemset(x, 0x3c, 14336 * sizeof(T));
    cudaEvent_t a, b;
    cudaEventCreate(&a);
    cudaEventCreate(&b);
    for (const Shape& s : shapes) {
        for (int seg_len : {1 << 30, 8192, 4096, 2048, 1024}) {
            const int segs = (s.k + std::min(seg_len, s.k) - 1) / std::min(seg_len, s.k);
            const int sl = (s.k + segs - 1) / segs;
            const int units = s.n * segs, blocks = (units + W - 1) / W;
            std::vector<float> t;
            for (int i = 0; i < 60; ++i) {
                cudaMemsetAsync(flush, i, flush_bytes);
                cudaEventRecord(a);
                gemv_split<<<blocks, W * 32>>>(x, w, out, part, count, s.n, s.k, segs, sl);
                cudaEventRecord(b);
                cudaEventSynchronize(b);
                float ms;
                cudaEventElapsedTime(&ms, a, b);
                if (i >= 10) t.push_back(ms * 1e3f);
            }
            std::sort(t.begin(), t.end());
            const double bytes = (double)s.n * s.k * 2;
            printf("%-8s segs %2d (%5d elems)  %8.2f us  %6.0f GB/s  err %s\n", s.name, segs, sl, t[t.size() / 2], bytes / t[t.size() / 2] / 1e3,
                   cudaGetErrorString(cudaGetLastError()));
        }
    }
    return 0;
}
