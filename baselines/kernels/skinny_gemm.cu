// skinny_gemm baseline (L1). Contract: include/fk/ops/skinny_gemm.h. sm_80+.
// Memory-bound GEMV: each warp owns one weight row and walks k with 16-byte loads, U chunks of
// 32 lanes x 16 B issued back to back before any math, so every lane has U independent weight
// loads in flight (what keeps HBM busy; a loop that loads and uses one vector at a time leaves
// the SM waiting on latency). The M activation rows are tiny and shared by every warp, so they
// are read through the read-only/L1 path. Each dot product is reduced across the warp at the
// end; lane m writes out[m, n]. Launched with programmatic dependent launch (see below): in a
// decode step the GEMVs follow each other and small kernels, and each kernel's ramp-up and
// tail otherwise cost ~10 µs of idle HBM per launch.
#include "fk/common.cuh"
#include "fk/ops/skinny_gemm.h"

namespace {

// Measured on the H100 (experiments/skinny_gemm): one weight row per warp and 4 chunks in
// flight per lane beat 2 rows per warp and deeper unrolling at every Llama-3.1-8B shape.
constexpr int kWarps = 4;
constexpr int kUnroll = 4;  // U

template <typename T, int V> __device__ __forceinline__ fk::Packed<T, V> ld_stream(const T* p) {
    // The weight is read exactly once: stream it past L1.
    fk::Packed<T, V> v;
    const uint4 raw = __ldcs(reinterpret_cast<const uint4*>(p));
    memcpy(&v, &raw, sizeof(v));
    return v;
}

template <typename T, int V> __device__ __forceinline__ fk::Packed<T, V> ld_act(const T* p) {
    fk::Packed<T, V> v;
    const uint4 raw = __ldg(reinterpret_cast<const uint4*>(p));
    memcpy(&v, &raw, sizeof(v));
    return v;
}

// Programmatic dependent launch (sm_90): this grid may start while the previous kernel on
// the stream is still finishing; wait here for it to complete (and its writes to be visible)
// before reading x or writing out. The weight does not depend on it, so the first loads are
// issued before the wait: the ramp-up of this kernel hides under the tail of the last one.
__device__ __forceinline__ void wait_for_previous_grid() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
    asm volatile("griddepcontrol.wait;" ::: "memory");
#endif
}

template <typename T, int V, int U>
__device__ __forceinline__ void load_chunks(fk::Packed<T, V> (&wv)[U], const T* wr, int64_t k0, int64_t k) {
#pragma unroll
    for (int u = 0; u < U; ++u) {
        const int64_t kk = k0 + int64_t(u) * 32 * V;
        if (kk < k) {
            wv[u] = ld_stream<T, V>(wr + kk);
        } else {
#pragma unroll
            for (int e = 0; e < V; ++e) wv[u].v[e] = fk::from_float<T>(0.f);
        }
    }
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

// One warp per weight row; lanes walk k in 16-byte chunks, U chunks per lane in flight, and
// the next U chunks are loaded while the current ones are multiplied (double buffering).
template <typename T, int M>
__global__ void __launch_bounds__(kWarps * 32) skinny_gemm_kernel(fk_skinny_gemm_params p) {
    constexpr int V = 16 / sizeof(T);
    constexpr int U = kUnroll;
    constexpr int64_t chunk = 32 * V;
    const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
    const int64_t n = int64_t(blockIdx.x) * kWarps + warp;
    const bool active = n < p.n;
    const int rows = static_cast<int>(p.rows);
    const T* x = static_cast<const T*>(p.x);
    const T* wr = static_cast<const T*>(p.weight) + (active ? n : 0) * p.k;

    float acc[M];
#pragma unroll
    for (int m = 0; m < M; ++m) acc[m] = 0.f;
    fk::Packed<T, V> cur[U], next[U];
    int64_t k0 = int64_t(lane) * V;
    if (active) load_chunks<T, V, U>(cur, wr, k0, p.k);
    wait_for_previous_grid();
    if (!active) return;
    for (; k0 < p.k; k0 += U * chunk) {
        load_chunks<T, V, U>(next, wr, k0 + U * chunk, p.k);
#pragma unroll
        for (int u = 0; u < U; ++u) {
            const int64_t kk = k0 + u * chunk;
            if (kk >= p.k) break;
#pragma unroll
            for (int m = 0; m < M; ++m) {
                if (m >= rows) break;
                const fk::Packed<T, V> xv = ld_act<T, V>(x + m * p.x_stride + kk);
                acc[m] = dot_acc(cur[u], xv, acc[m]);
            }
        }
#pragma unroll
        for (int u = 0; u < U; ++u) cur[u] = next[u];
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
    cudaLaunchConfig_t cfg = {};
    cfg.gridDim = dim3(static_cast<unsigned>(blocks));
    cfg.blockDim = dim3(kWarps * 32);
    cfg.stream = stream;
    cudaLaunchAttribute attr[1];
    attr[0].id = cudaLaunchAttributeProgrammaticStreamSerialization;
    attr[0].val.programmaticStreamSerializationAllowed = 1;
    cfg.attrs = attr;
    cfg.numAttrs = 1;
    return cudaLaunchKernelEx(&cfg, skinny_gemm_kernel<T, M>, *p);
}

template <typename T> cudaError_t launch(const fk_skinny_gemm_params* p, cudaStream_t stream) {
    // One instantiation per row-count bucket keeps the accumulators in registers.
    if (p->rows <= 1) return launch_m<T, 1>(p, stream);
    if (p->rows <= 2) return launch_m<T, 2>(p, stream);
    if (p->rows <= 4) return launch_m<T, 4>(p, stream);
    return launch_m<T, 8>(p, stream);
}

}  // namespace

FK_OP_LAUNCHER(skinny_gemm)(const fk_skinny_gemm_params* p, cudaStream_t stream) {
    FK_REQUIRE(p != nullptr && stream != nullptr);
    FK_REQUIRE(p->rows >= 0 && p->rows <= FK_SKINNY_GEMM_MAX_ROWS && p->n >= 0 && p->k > 0);
    if (p->rows == 0 || p->n == 0) return cudaSuccess;
    FK_REQUIRE(p->out && p->x && p->weight);
    const int eb = fk::dtype_bytes(p->dtype);
    FK_REQUIRE(eb == 2 || eb == 4);
    const int64_t v = 16 / eb;
    FK_REQUIRE(p->k % v == 0 && p->x_stride % v == 0 && p->x_stride >= p->k && p->out_stride >= p->n);
    for (const void* ptr : {p->x, p->weight})
        FK_REQUIRE(reinterpret_cast<uintptr_t>(ptr) % 16 == 0);
    FK_DISPATCH_FLOAT(p->dtype, T, { return launch<T>(p, stream); });
    return cudaErrorInvalidValue;
}
