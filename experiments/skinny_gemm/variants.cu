// Experiment: skinny_gemm (GEMV, M <= 8) design space on the H100. Not part of any crate.
// Times variants <M, R rows per warp, U unrolled 16-B chunks per lane, W warps per CTA, SPLITK>
// at Llama-3.1-8B decode shapes; L2 flushed before every call; median of 50 CUDA-event timings.
// Build: nvcc -O3 -std=c++17 -gencode=arch=compute_90a,code=sm_90a -I../../baselines/include
//        -DFK_SYMBOL_PREFIX=fk_exp_ variants.cu -o variants
#include "fk/common.cuh"
#include <cstdio>
#include <vector>
#include <algorithm>

using T = __nv_bfloat16;
constexpr int V = 8;

template <int M, int R, int U, int W>
__global__ void __launch_bounds__(W * 32) gemv(const T* __restrict__ x, const T* __restrict__ w, T* __restrict__ out, int n, int k, int rows) {
    const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
    const int n0 = (blockIdx.x * W + warp) * R;
    if (n0 >= n) return;
    const T* wr[R];
#pragma unroll
    for (int r = 0; r < R; ++r) wr[r] = w + (size_t)min(n0 + r, n - 1) * k;
    float acc[R][M] = {};
    constexpr int step = 32 * V;
    for (int k0 = lane * V; k0 < k; k0 += U * step) {
        uint4 wv[U][R];
#pragma unroll
        for (int u = 0; u < U; ++u)
#pragma unroll
            for (int r = 0; r < R; ++r) {
                const int kk = k0 + u * step;
                wv[u][r] = kk < k ? __ldcs(reinterpret_cast<const uint4*>(wr[r] + kk)) : make_uint4(0, 0, 0, 0);
            }
#pragma unroll
        for (int u = 0; u < U; ++u) {
            const int kk = k0 + u * step;
            if (kk >= k) break;
#pragma unroll
            for (int m = 0; m < M; ++m) {
                if (m >= rows) break;
                const uint4 xr = __ldg(reinterpret_cast<const uint4*>(x + (size_t)m * k + kk));
                const __nv_bfloat162* xv = reinterpret_cast<const __nv_bfloat162*>(&xr);
#pragma unroll
                for (int r = 0; r < R; ++r) {
                    const __nv_bfloat162* wv2 = reinterpret_cast<const __nv_bfloat162*>(&wv[u][r]);
#pragma unroll
                    for (int e = 0; e < 4; ++e) {
                        const float2 a = __bfloat1622float2(wv2[e]), b = __bfloat1622float2(xv[e]);
                        acc[r][m] = fmaf(a.x, b.x, fmaf(a.y, b.y, acc[r][m]));
                    }
                }
            }
        }
    }
#pragma unroll
    for (int r = 0; r < R; ++r)
#pragma unroll
        for (int m = 0; m < M; ++m) {
            const float s = fk::warp_sum(acc[r][m]);
            if (lane == m && m < rows && n0 + r < n) out[(size_t)m * n + n0 + r] = __float2bfloat16_rn(s);
        }
}

struct Shape { int n, k; const char* name; };

template <int M, int R, int U, int W>
float time_variant(const T* x, const T* w, T* out, int n, int k, int rows, char* flush, size_t flush_bytes) {
    const int blocks = (n + W * R - 1) / (W * R);
    cudaEvent_t a, b;
    cudaEventCreate(&a);
    cudaEventCreate(&b);
    std::vector<float> t;
    for (int i = 0; i < 60; ++i) {
        cudaMemsetAsync(flush, i, flush_bytes);
        cudaEventRecord(a);
        gemv<M, R, U, W><<<blocks, W * 32>>>(x, w, out, n, k, rows);
        cudaEventRecord(b);
        cudaEventSynchronize(b);
        float ms;
        cudaEventElapsedTime(&ms, a, b);
        if (i >= 10) t.push_back(ms * 1e3f);
    }
    if (cudaGetLastError() != cudaSuccess) return -1;
    std::sort(t.begin(), t.end());
    return t[t.size() / 2];
}

int main() {
    const Shape shapes[] = {{6144, 4096, "qkv"}, {4096, 4096, "o"}, {28672, 4096, "gate_up"}, {4096, 14336, "down"}, {128256, 4096, "lm_head"}};
    size_t maxw = (size_t)128256 * 4096;
    T *x, *w, *out;
    char* flush;
    const size_t flush_bytes = 200u << 20;
    cudaMalloc(&x, 8 * 14336 * sizeof(T));
    cudaMalloc(&w, maxw * sizeof(T));
    cudaMalloc(&out, 8 * 128256 * sizeof(T));
    cudaMalloc(&flush, flush_bytes);
    cudaMemset(w, 0x3c, maxw * sizeof(T));
    cudaMemset(x, 0x3c, 8 * 14336 * sizeof(T));
    printf("%-8s %4s  %-18s %8s %8s\n", "shape", "rows", "variant", "us", "GB/s");
    for (const Shape& s : shapes) {
        const double bytes = (double)s.n * s.k * 2;
        auto rep = [&](int rows, const char* v, float us) { printf("%-8s %4d  %-18s %8.2f %8.0f\n", s.name, rows, v, us, bytes / us / 1e3); };
        rep(1, "R2 U4 W4", time_variant<1, 2, 4, 4>(x, w, out, s.n, s.k, 1, flush, flush_bytes));
        rep(1, "R1 U4 W4", time_variant<1, 1, 4, 4>(x, w, out, s.n, s.k, 1, flush, flush_bytes));
        rep(1, "R1 U8 W4", time_variant<1, 1, 8, 4>(x, w, out, s.n, s.k, 1, flush, flush_bytes));
        rep(1, "R1 U8 W8", time_variant<1, 1, 8, 8>(x, w, out, s.n, s.k, 1, flush, flush_bytes));
        rep(1, "R2 U8 W4", time_variant<1, 2, 8, 4>(x, w, out, s.n, s.k, 1, flush, flush_bytes));
        rep(1, "R1 U16 W2", time_variant<1, 1, 16, 2>(x, w, out, s.n, s.k, 1, flush, flush_bytes));
        rep(2, "R1 U8 W4", time_variant<2, 1, 8, 4>(x, w, out, s.n, s.k, 2, flush, flush_bytes));
        rep(4, "R1 U8 W4", time_variant<4, 1, 8, 4>(x, w, out, s.n, s.k, 4, flush, flush_bytes));
        rep(8, "R1 U8 W4", time_variant<8, 1, 8, 4>(x, w, out, s.n, s.k, 8, flush, flush_bytes));
        rep(8, "R1 U4 W4", time_variant<8, 1, 4, 4>(x, w, out, s.n, s.k, 8, flush, flush_bytes));
    }
    return 0;
}
