// Experiment 3: tensor-core skinny GEMM designs at Llama-3.1-8B decode shapes, 1..64 rows.
//   gemv  the CUDA-core GEMV (baselines/kernels/skinny_gemm.cu, rows <= 8)
//   frag  weights straight into mma fragments (include/fk/linear/skinny_mma.cuh)
//   cp    cp.async multi-stage shared-memory pipeline (include/fk/linear/skinny_cp.cuh),
//         split-k target 2 or 4 CTAs per SM
// Weights rotate over enough copies to exceed L2 several times; median of 30 CUDA-event timings
// of single launches; every variant's output is checked against `gemv` (rows <= 8) or `frag`.
// Build: sh experiments/skinny_gemm/build_tc.sh OUT_DIR
#include "fk/linear/skinny_cp.cuh"
#include "fk/linear/skinny_mma.cuh"
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <vector>

extern "C" cudaError_t base_skinny_gemm(const fk_skinny_gemm_params* p, cudaStream_t stream);

using T = __nv_bfloat16;
#define CK(x)                                                                              \
    do {                                                                                   \
        cudaError_t e_ = (x);                                                              \
        if (e_ != cudaSuccess) {                                                           \
            printf("CUDA error %s at %s:%d\n", cudaGetErrorString(e_), __FILE__, __LINE__); \
            exit(1);                                                                       \
        }                                                                                  \
    } while (0)

__global__ void fill(T* p, size_t n, uint32_t seed, float scale) {
    for (size_t i = blockIdx.x * size_t(blockDim.x) + threadIdx.x; i < n; i += size_t(gridDim.x) * blockDim.x) {
        uint32_t h = uint32_t(i) * 2654435761u ^ seed;
        h ^= h >> 13; h *= 0x5bd1e995u; h ^= h >> 15;
        p[i] = __float2bfloat16((float(h & 0xffff) / 65535.f - 0.5f) * scale);
    }
}

static int g_sms = 132;

static int splits_for(int64_t groups, int64_t k, int per_sm, int rows, int64_t n) {
    int s = 1;
    while (s < 16 && groups * s < int64_t(per_sm) * g_sms && k >= int64_t(s) * 2 * 512) s *= 2;
    while (s > 1 && (64 << 10) + int64_t(s) * rows * n * 4 > (32 << 20)) s /= 2;
    return s;
}

template <int MT> void launch_frag(const fk_skinny_gemm_params& p, cudaStream_t st) {
    namespace sk = fk::skinny;
    const int64_t groups = (p.n + sk::kRowsPerBlock - 1) / sk::kRowsPerBlock;
    int splits = splits_for(groups, p.k, 2, int(p.rows), p.n);
    const int64_t per = ((p.k + splits - 1) / splits + 31) / 32 * 32;
    splits = int((p.k + per - 1) / per);
    sk::SplitArgs sa{int(per), nullptr, nullptr};
    if (splits > 1) {
        sa.counters = static_cast<int*>(p.workspace);
        sa.partial = reinterpret_cast<float*>(static_cast<char*>(p.workspace) + (64 << 10));
    }
    sk::skinny_mma_kernel<T, MT><<<dim3(unsigned(groups), unsigned(splits)), sk::kWarps * 32, 0, st>>>(p, sa);
}

template <int MT> void launch_cp(const fk_skinny_gemm_params& p, cudaStream_t st, int per_sm) {
    namespace sc = fk::skinny_cp;
    const int64_t groups = (p.n + sc::kRows - 1) / sc::kRows;
    int splits = splits_for(groups, p.k, per_sm, int(p.rows), p.n);
    const int64_t per = ((p.k + splits - 1) / splits + sc::kStageK - 1) / sc::kStageK * sc::kStageK;
    splits = int((p.k + per - 1) / per);
    fk::skinny::SplitArgs sa{int(per), nullptr, nullptr};
    if (splits > 1) {
        sa.counters = static_cast<int*>(p.workspace);
        sa.partial = reinterpret_cast<float*>(static_cast<char*>(p.workspace) + (64 << 10));
    }
    auto kern = sc::skinny_cp_kernel<T, MT>;
    CK(cudaFuncSetAttribute(kern, cudaFuncAttributeMaxDynamicSharedMemorySize, sc::Smem<MT>::kBytes));
    kern<<<dim3(unsigned(groups), unsigned(splits)), sc::kThreads, sc::Smem<MT>::kBytes, st>>>(p, sa);
}

template <int MT> void launch_variant(int v, const fk_skinny_gemm_params& p, cudaStream_t st) {
    if (v == 0) CK(base_skinny_gemm(&p, st));
    else if (v == 1) launch_frag<MT>(p, st);
    else if (v == 2) launch_cp<MT>(p, st, 2);
    else launch_cp<MT>(p, st, 4);
}

void launch_any(int v, const fk_skinny_gemm_params& p, cudaStream_t st) {
    if (p.rows <= 8) launch_variant<1>(v, p, st);
    else if (p.rows <= 16) launch_variant<2>(v, p, st);
    else if (p.rows <= 32) launch_variant<4>(v, p, st);
    else launch_variant<8>(v, p, st);
    CK(cudaGetLastError());
}

int main() {
    CK(cudaDeviceGetAttribute(&g_sms, cudaDevAttrMultiProcessorCount, 0));
    cudaStream_t st;
    CK(cudaStreamCreateWithFlags(&st, cudaStreamNonBlocking));
    const char* names[] = {"gemv", "frag", "cp2", "cp4"};
    const int shapes[][2] = {{6144, 4096}, {4096, 4096}, {28672, 4096}, {4096, 14336}, {128256, 4096}};
    const int ms[] = {1, 8, 16, 32, 64};
    void* ws;
    CK(cudaMalloc(&ws, 32 << 20));
    CK(cudaMemset(ws, 0, 32 << 20));
    T *x, *out, *ref;
    CK(cudaMalloc(&x, 64 * 14336 * 2));
    CK(cudaMalloc(&out, 64 * 128256 * 2));
    CK(cudaMalloc(&ref, 64 * 128256 * 2));
    fill<<<1024, 256>>>(x, 64 * 14336, 7, 2.f);
    cudaEvent_t e0, e1;
    CK(cudaEventCreate(&e0));
    CK(cudaEventCreate(&e1));
    printf("%-22s %4s %6s %10s %9s %8s\n", "shape [n, k]", "M", "kernel", "us", "GB/s", "maxdiff");
    for (auto& sh : shapes) {
        const int64_t n = sh[0], k = sh[1];
        const size_t wbytes = size_t(n) * k * 2;
        const int copies = int(std::max<size_t>(1, (400ull << 20) / wbytes));
        std::vector<T*> w(copies);
        for (auto& wp : w) {
            CK(cudaMalloc(&wp, wbytes));
            fill<<<2048, 256>>>(wp, size_t(n) * k, 11, 2.f / sqrtf(float(k)));
        }
        CK(cudaDeviceSynchronize());
        for (int m : ms) {
            fk_skinny_gemm_params p{};
            p.x = x; p.rows = m; p.n = n; p.k = k; p.x_stride = k; p.out_stride = n;
            p.workspace = ws; p.workspace_bytes = 32 << 20; p.dtype = FK_DTYPE_BF16;
            // Reference for this (n, k, m): gemv at <= 8 rows, frag otherwise.
            p.weight = w[0]; p.out = ref;
            launch_any(m <= 8 ? 0 : 1, p, st);
            CK(cudaStreamSynchronize(st));
            std::vector<uint16_t> hr(size_t(m) * n), ho(size_t(m) * n);
            CK(cudaMemcpy(hr.data(), ref, hr.size() * 2, cudaMemcpyDeviceToHost));
            for (int v = 0; v < 4; ++v) {
                if (v == 0 && m > 8) continue;
                p.out = out;
                CK(cudaMemset(out, 0xff, size_t(m) * n * 2));
                p.weight = w[0];
                launch_any(v, p, st);
                CK(cudaStreamSynchronize(st));
                CK(cudaMemcpy(ho.data(), out, ho.size() * 2, cudaMemcpyDeviceToHost));
                float md = 0.f;
                for (size_t i = 0; i < ho.size(); ++i) {
                    uint32_t a = uint32_t(ho[i]) << 16, b = uint32_t(hr[i]) << 16;
                    float fa, fb;
                    memcpy(&fa, &a, 4);
                    memcpy(&fb, &b, 4);
                    md = std::isfinite(fa) ? std::max(md, std::fabs(fa - fb)) : INFINITY;
                }
                std::vector<float> ts;
                for (int r = 0; r < 35; ++r) {
                    p.weight = w[r % copies];
                    CK(cudaEventRecord(e0, st));
                    launch_any(v, p, st);
                    CK(cudaEventRecord(e1, st));
                    CK(cudaEventSynchronize(e1));
                    float ms_ = 0;
                    CK(cudaEventElapsedTime(&ms_, e0, e1));
                    if (r >= 5) ts.push_back(ms_ * 1000.f);
                }
                std::sort(ts.begin(), ts.end());
                const float us = ts[ts.size() / 2];
                const double bytes = double(wbytes) + double(m) * k * 2 + double(m) * n * 2;
                printf("[%6lld, %5lld]        %4d %6s %10.2f %9.0f %8.4f\n", (long long)n, (long long)k, m, names[v], us, bytes / us / 1e3, md);
                fflush(stdout);
            }
        }
        for (auto& wp : w) CK(cudaFree(wp));
    }
    return 0;
}
