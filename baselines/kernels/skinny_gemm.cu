// skinny_gemm baseline (L1). Contract: include/fk/ops/skinny_gemm.h. sm_80+.
// Built for sm_90a, f16/bf16 inputs of 2..64 rows run the wgmma kernel of
// include/fk/linear/skinny_sm90.cuh (weight rows as the MMA's M, k split over a cluster).
// Everything else runs the CUDA-core GEMV below, 8 rows per launch (more rows: one launch per
// 8; only portable builds get there, as a correct fallback).
// Memory-bound GEMV: each warp owns one weight row and walks k with 16-byte loads, U chunks of
// 32 lanes x 16 B issued back to back before any math, so every lane has U independent weight
// loads in flight (what keeps HBM busy; a loop that loads and uses one vector at a time leaves
// the SM waiting on latency). The M activation rows are tiny and shared by every warp, so they
// are read through the read-only/L1 path. Each dot product is reduced across the warp at the
// end; lane m writes out[m, n]. Launched with programmatic dependent launch (see below): in a
// decode step the GEMVs follow each other and small kernels, and each kernel's ramp-up and
// tail otherwise leave HBM idle for microseconds per launch.
#include "fk/common.cuh"
#include "fk/linear/skinny_sm90.cuh"
#include "fk/ops/skinny_gemm.h"

#ifndef FK_SM90A
#define FK_SM90A 0
#endif
#if FK_SM90A
#include "fk/tma_host.cuh"
#endif

namespace {

// Measured on the H100 (experiments/skinny_gemm): one weight row per warp and 4 chunks in
// flight per lane beat 2 rows per warp and deeper unrolling at every Llama-3.1-8B shape.
constexpr int kWarps = 4;
constexpr int kUnroll = 4;  // U

template <typename T, int V> __device__ __forceinline__ fk::Packed<T, V> ld_act(const T* p) {
    fk::Packed<T, V> v;
    const uint4 raw = __ldg(reinterpret_cast<const uint4*>(p));
    memcpy(&v, &raw, sizeof(v));
    return v;
}

// acc + w . x over one 16-byte vector. 16-bit types convert two lanes at a time (one
// instruction per pair instead of per element: measured ~5% faster GEMV at M = 1).
template <typename T, int V> __device__ __forceinline__ float dot_acc(const fk::Packed<T, V>& w, const fk::Packed<T, V>& x, float acc) {
#pragma unroll
    for (int e = 0; e < V; ++e) acc = fmaf(fk::to_float(w.v[e]), fk::to_float(x.v[e]), acc);
    return acc;
}
template <> __device__ __forceinline__ float dot_acc<__nv_bfloat16, 8>(const fk::Packed<__nv_bfloat16, 8>& w, const fk::Packed<__nv_bfloat16, 8>& x, float acc) {
    const __nv_bfloat162* w2 = reinterpret_cast<const __nv_bfloat162*>(w.v);
    const __nv_bfloat162* x2 = reinterpret_cast<const __nv_bfloat162*>(x.v);
#pragma unroll
    for (int e = 0; e < 4; ++e) {
        const float2 a = __bfloat1622float2(w2[e]), b = __bfloat1622float2(x2[e]);
        acc = fmaf(a.x, b.x, fmaf(a.y, b.y, acc));
    }
    return acc;
}
template <> __device__ __forceinline__ float dot_acc<__half, 8>(const fk::Packed<__half, 8>& w, const fk::Packed<__half, 8>& x, float acc) {
    const __half2* w2 = reinterpret_cast<const __half2*>(w.v);
    const __half2* x2 = reinterpret_cast<const __half2*>(x.v);
#pragma unroll
    for (int e = 0; e < 4; ++e) {
        const float2 a = __half22float2(w2[e]), b = __half22float2(x2[e]);
        acc = fmaf(a.x, b.x, fmaf(a.y, b.y, acc));
    }
    return acc;
}

// One warp per weight row; lanes walk k in 16-byte chunks, U chunks per lane loaded back to
// back, then multiplied. Offsets within a row are 32-bit (the launcher checks k < 2^31): the
// measured cost of 64-bit index math and of double buffering here was 5-15% at Llama's decode
// shapes (experiments/skinny_gemm), the loop being issue-bound once loads are in flight.
template <typename T, int M>
__global__ void __launch_bounds__(kWarps * 32) skinny_gemm_kernel(fk_skinny_gemm_params p) {
    constexpr int V = 16 / sizeof(T);
    constexpr int U = kUnroll;
    constexpr int chunk = 32 * V;
    const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
    const int64_t n = int64_t(blockIdx.x) * kWarps + warp;
    // Launched early under programmatic dependent launch: wait for the previous kernel's
    // writes (our x) before anything else. The weight loads follow immediately.
    fk::pdl_grid_sync();
    if (n >= p.n) return;
    const int k = static_cast<int>(p.k), rows = static_cast<int>(p.rows);
    const T* x = static_cast<const T*>(p.x);
    const T* wr = static_cast<const T*>(p.weight) + n * p.k;

    float acc[M];
#pragma unroll
    for (int m = 0; m < M; ++m) acc[m] = 0.f;
    for (int k0 = lane * V; k0 < k; k0 += U * chunk) {
        fk::Packed<T, V> wv[U];
#pragma unroll
        for (int u = 0; u < U; ++u) {
            const int kk = k0 + u * chunk;
            // The weight is read exactly once: stream it past L1 (__ldcs). Past the row end:
            // zero bits (every float type's +0), no load.
            const uint4 raw = kk < k ? __ldcs(reinterpret_cast<const uint4*>(wr + kk)) : make_uint4(0, 0, 0, 0);
            memcpy(&wv[u], &raw, sizeof(raw));
        }
#pragma unroll
        for (int u = 0; u < U; ++u) {
            const int kk = k0 + u * chunk;
            if (kk >= k) break;
#pragma unroll
            for (int m = 0; m < M; ++m) {
                if (m >= rows) break;
                acc[m] = dot_acc(wv[u], ld_act<T, V>(x + m * p.x_stride + kk), acc[m]);
            }
        }
    }
    T* out = static_cast<T*>(p.out);
    const T* bias = static_cast<const T*>(p.bias);
    const float b = bias != nullptr ? fk::to_float(bias[n]) : 0.f;
#pragma unroll
    for (int m = 0; m < M; ++m) {
        const float s = fk::warp_sum(acc[m]);
        if (lane == m && m < rows) out[m * p.out_stride + n] = fk::from_float<T>(s + b);
    }
}

template <typename T, int M> cudaError_t launch_m(const fk_skinny_gemm_params* p, cudaStream_t stream) {
    const int64_t blocks = fk::ceil_div(p->n, kWarps);
    FK_REQUIRE(blocks <= 0x7fffffff);
    return fk::launch_pdl(skinny_gemm_kernel<T, M>, dim3(static_cast<unsigned>(blocks)), dim3(kWarps * 32), 0, stream, *p);
}

template <typename T> cudaError_t launch_gemv(const fk_skinny_gemm_params* p, cudaStream_t stream) {
    // One instantiation per row-count bucket keeps the accumulators in registers.
    if (p->rows <= 1) return launch_m<T, 1>(p, stream);
    if (p->rows <= 2) return launch_m<T, 2>(p, stream);
    if (p->rows <= 4) return launch_m<T, 4>(p, stream);
    return launch_m<T, 8>(p, stream);
}

template <typename T> cudaError_t launch(const fk_skinny_gemm_params* p, cudaStream_t stream) {
    for (int64_t r = 0; r < p->rows; r += 8) {
        fk_skinny_gemm_params q = *p;
        q.rows = p->rows - r < 8 ? p->rows - r : 8;
        q.x = static_cast<const T*>(p->x) + r * p->x_stride;
        q.out = static_cast<T*>(p->out) + r * p->out_stride;
        const cudaError_t e = launch_gemv<T>(&q, stream);
        if (e != cudaSuccess) return e;
    }
    return cudaSuccess;
}

#if FK_SM90A
// A row-major [rows, k] matrix (row stride in elements) as a 2-D TMA source, box 64 x 64,
// 128-byte swizzle; boxes past the last row or k are zero-filled.
bool encode_rows(CUtensorMap* map, const void* base, int64_t rows, int64_t k, int64_t stride, int32_t dtype) {
    const cuuint64_t dims[2] = {cuuint64_t(k), cuuint64_t(rows)}, strides[1] = {cuuint64_t(stride) * 2};
    const cuuint32_t box[2] = {64, 64};
    return fk::encode_sw128_map<2>(map, base, dtype, dims, strides, box);
}

int sm_count() {
    static const int sms = [] {
        int dev = 0, n = 0;
        if (cudaGetDevice(&dev) != cudaSuccess || cudaDeviceGetAttribute(&n, cudaDevAttrMultiProcessorCount, dev) != cudaSuccess) return 132;
        return n;
    }();
    return sms;
}

// Returns cudaErrorNotSupported (nothing launched) when no tensor map can be made.
template <typename T> cudaError_t launch_sm90(const fk_skinny_gemm_params* p, cudaStream_t stream) {
    using C = fk::skinny::Sm90Cfg;
    CUtensorMap wmap, xmap;
    if (!encode_rows(&wmap, p->weight, p->n, p->k, p->k, p->dtype) || !encode_rows(&xmap, p->x, p->rows, p->k, p->x_stride, p->dtype))
        return cudaErrorNotSupported;
    const int64_t tiles = fk::ceil_div(p->n, int64_t(C::ROWS)), ktiles = fk::ceil_div(p->k, int64_t(C::BK));
    FK_REQUIRE(tiles * 8 <= 0x7fffffff);
    // Split k over a cluster until the grid gives every SM two CTAs (three fit: 66 KB of
    // shared memory each), keeping >= 4 k tiles (256 k) per split.
    int split = 1;
    while (split < 8 && tiles * split < 2 * int64_t(sm_count()) && ktiles >= 8 * split) split *= 2;
    const int per = static_cast<int>(fk::ceil_div(ktiles, int64_t(split)));
    auto kernel = fk::skinny::skinny_sm90_kernel<T>;
    cudaError_t e = cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, C::SMEM);
    if (e != cudaSuccess) return e;
    cudaLaunchConfig_t cfg = {};
    cfg.gridDim = dim3(static_cast<unsigned>(tiles * split));
    cfg.blockDim = dim3(C::THREADS);
    cfg.dynamicSmemBytes = C::SMEM;
    cfg.stream = stream;
    cudaLaunchAttribute attr[2];
    attr[0].id = cudaLaunchAttributeClusterDimension;
    attr[0].val.clusterDim.x = static_cast<unsigned>(split);
    attr[0].val.clusterDim.y = 1;
    attr[0].val.clusterDim.z = 1;
    attr[1].id = cudaLaunchAttributeProgrammaticStreamSerialization;
    attr[1].val.programmaticStreamSerializationAllowed = 1;
    cfg.attrs = attr;
    cfg.numAttrs = 2;
    return cudaLaunchKernelEx(&cfg, kernel, *p, wmap, xmap, per);
}
#endif

}  // namespace

FK_OP_LAUNCHER(skinny_gemm)(const fk_skinny_gemm_params* p, cudaStream_t stream) {
    FK_REQUIRE(p != nullptr && stream != nullptr);
    FK_REQUIRE(p->rows >= 0 && p->rows <= FK_SKINNY_GEMM_MAX_ROWS && p->n >= 0 && p->k > 0 && p->k < (int64_t(1) << 31));
    if (p->rows == 0 || p->n == 0) return cudaSuccess;
    FK_REQUIRE(p->out && p->x && p->weight);
    const int eb = fk::dtype_bytes(p->dtype);
    FK_REQUIRE(eb == 2 || eb == 4);
    const int64_t v = 16 / eb;
    FK_REQUIRE(p->k % v == 0 && p->x_stride % v == 0 && p->x_stride >= p->k && p->out_stride >= p->n);
    for (const void* ptr : {p->x, p->weight})
        FK_REQUIRE(reinterpret_cast<uintptr_t>(ptr) % 16 == 0);
#if FK_SM90A
    if (p->rows >= 2 && eb == 2) {
        const cudaError_t e = p->dtype == FK_DTYPE_BF16 ? launch_sm90<__nv_bfloat16>(p, stream) : launch_sm90<__half>(p, stream);
        if (e != cudaErrorNotSupported) return e;
    }
#endif
    FK_DISPATCH_FLOAT(p->dtype, T, { return launch<T>(p, stream); });
    return cudaErrorInvalidValue;
}
