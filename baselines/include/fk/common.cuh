// Shared device helpers for every fastkernels kernel (baselines and candidates):
// the launcher-symbol macro, dtype <-> float conversion, 16-byte packed vectors,
// warp/block reductions and the float-dtype dispatch. Kernels themselves must live in an
// anonymous namespace so a candidate and the baseline of the same op link into one binary.
#pragma once
#include <cuda_runtime.h>
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <stdint.h>

#include <algorithm>

#include "fk/dtype.h"

#ifndef FK_SYMBOL_PREFIX
#error "FK_SYMBOL_PREFIX is set by fk_runtime::build (baselines: fk_baseline_, candidates: fk_<crate>_candidate_)"
#endif
#define FK_CAT_(a, b) a##b
#define FK_CAT(a, b) FK_CAT_(a, b)
// Defines the exported launcher of `op` under this build's prefix:
//   FK_OP_LAUNCHER(rms_norm)(const fk_rms_norm_params* p, cudaStream_t stream) { ... }
#define FK_OP_LAUNCHER(op) extern "C" cudaError_t FK_CAT(FK_SYMBOL_PREFIX, op)

// Launchers never use the legacy default stream: it serialises against every other stream
// and cannot be graph-captured. A null stream is a caller bug, reported as such.
#define FK_REQUIRE(cond)                                 \
    do {                                                 \
        if (!(cond)) return cudaErrorInvalidValue;       \
    } while (0)

#define FK_DISPATCH_FLOAT(dtype, T, ...)                         \
    switch (dtype) {                                             \
        case FK_DTYPE_F32: { using T = float; __VA_ARGS__; } break;            \
        case FK_DTYPE_F16: { using T = __half; __VA_ARGS__; } break;           \
        case FK_DTYPE_BF16: { using T = __nv_bfloat16; __VA_ARGS__; } break;   \
        default: return cudaErrorInvalidValue;                   \
    }

namespace fk {

__device__ __forceinline__ float to_float(float x) { return x; }
__device__ __forceinline__ float to_float(__half x) { return __half2float(x); }
__device__ __forceinline__ float to_float(__nv_bfloat16 x) { return __bfloat162float(x); }

template <typename T> __device__ __forceinline__ T from_float(float x);
template <> __device__ __forceinline__ float from_float<float>(float x) { return x; }
template <> __device__ __forceinline__ __half from_float<__half>(float x) { return __float2half_rn(x); }
template <> __device__ __forceinline__ __nv_bfloat16 from_float<__nv_bfloat16>(float x) {
    return __float2bfloat16_rn(x);
}
// A 32-bit word holding two 16-bit values (element 0 in the low half) as two floats: bf16 by
// shifts (two integer instructions), f16 by the conversion. The tag argument picks the type.
__device__ __forceinline__ float2 pair_to_float2(uint32_t w, __nv_bfloat16) {
    return make_float2(__uint_as_float(w << 16), __uint_as_float(w & 0xffff0000u));
}
__device__ __forceinline__ float2 pair_to_float2(uint32_t w, __half) {
    __half2 h;
    memcpy(&h, &w, 4);
    return __half22float2(h);
}

// Round a float through T and back: reproduces the intermediate rounding that the
// upstream PyTorch module performs when it materialises a tensor in T.
template <typename T> __device__ __forceinline__ float round_to(float x) {
    return to_float(from_float<T>(x));
}

// a + b rounded once to T. For 16-bit types the fp32 sum of two T values is exact, so the
// native half add gives the identical result (and keeps nvcc from spilling packed halves).
__device__ __forceinline__ float add_round(float a, float b) { return a + b; }
__device__ __forceinline__ __half add_round(__half a, __half b) { return __hadd(a, b); }
__device__ __forceinline__ __nv_bfloat16 add_round(__nv_bfloat16 a, __nv_bfloat16 b) { return __hadd(a, b); }

// N elements of T loaded/stored as one access; with sizeof(T)*N == 16 this is a
// single 128-bit LDG/STG.
template <typename T, int N> struct alignas(sizeof(T) * N) Packed {
    T v[N];
};
template <typename T> struct Vec16 {
    static constexpr int N = 16 / sizeof(T);
};

// acc + w . x over one 16-byte vector of each, in the one order every GEMV-like kernel here
// shares (so their results agree bit for bit): 16-bit types a pair at a time, the pair's second
// element first, converted two per instruction (pair_to_float2: measured ~5 % faster GEMV at
// M = 1 than one conversion per element).
template <typename T> __device__ __forceinline__ float dot16_acc(uint4 w, uint4 x, float acc) {
    const uint32_t* a = reinterpret_cast<const uint32_t*>(&w);
    const uint32_t* b = reinterpret_cast<const uint32_t*>(&x);
#pragma unroll
    for (int e = 0; e < 4; ++e) {
        if constexpr (sizeof(T) == 2) {
            const float2 fa = pair_to_float2(a[e], T()), fb = pair_to_float2(b[e], T());
            acc = fmaf(fa.x, fb.x, fmaf(fa.y, fb.y, acc));
        } else {
            static_assert(sizeof(T) == 4, "16- or 32-bit elements");
            acc = fmaf(__uint_as_float(a[e]), __uint_as_float(b[e]), acc);
        }
    }
    return acc;
}
template <typename T, int V> __device__ __forceinline__ float dot16_acc(const Packed<T, V>& w, const Packed<T, V>& x, float acc) {
    static_assert(sizeof(Packed<T, V>) == 16, "one 16-byte vector");
    uint4 a, b;
    memcpy(&a, &w, 16);
    memcpy(&b, &x, 16);
    return dot16_acc<T>(a, b, acc);
}

// Stores a 16-byte Packed as one 128-bit STG. Assigning a Packed whose elements were computed
// one by one lets nvcc split the store (its PTX had four st.global.v2.u16 per vector in
// causal_conv1d, and a memcpy into a uint4 did not help), each store leaving a quarter of every
// sector it touches for the L2 to merge; nor did a uint4 store (four st.global.u32): the
// words go out through one st.global.v4. dst must be 16-byte aligned global memory.
__device__ __forceinline__ uint32_t bits16(__half x) { return __half_as_ushort(x); }
__device__ __forceinline__ uint32_t bits16(__nv_bfloat16 x) { return __bfloat16_as_ushort(x); }
template <typename T, int N> __device__ __forceinline__ void store16(T* dst, const Packed<T, N>& v) {
    static_assert(sizeof(Packed<T, N>) == 16, "16-byte vectors only");
    uint32_t w[4];
    if constexpr (sizeof(T) == 4) {
#pragma unroll
        for (int i = 0; i < 4; ++i) w[i] = __float_as_uint(v.v[i]);
    } else {
#pragma unroll
        for (int i = 0; i < 4; ++i) w[i] = bits16(v.v[2 * i]) | (bits16(v.v[2 * i + 1]) << 16);
    }
    asm volatile("st.global.v4.b32 [%0], {%1, %2, %3, %4};\n" ::"l"(dst), "r"(w[0]), "r"(w[1]), "r"(w[2]), "r"(w[3]) : "memory");
}

// Can rows of `cols` elements at these addresses be accessed as 16-byte vectors?
__host__ __forceinline__ bool vec16_ok(int64_t cols, int elem_bytes, const void* const* ptrs, int nptrs,
                                       const int64_t* strides, int nstrides) {
    const int64_t n = 16 / elem_bytes;
    if (cols % n != 0) return false;
    for (int i = 0; i < nptrs; ++i)
        if (ptrs[i] && (reinterpret_cast<uintptr_t>(ptrs[i]) % 16) != 0) return false;
    for (int i = 0; i < nstrides; ++i)
        if (strides[i] % n != 0) return false;
    return true;
}

__host__ __forceinline__ int dtype_bytes(int32_t dtype) {
    switch (dtype) {
        case FK_DTYPE_F32: case FK_DTYPE_I32: return 4;
        case FK_DTYPE_F16: case FK_DTYPE_BF16: return 2;
        case FK_DTYPE_I64: case FK_DTYPE_F64: return 8;
        case FK_DTYPE_F8E4M3: case FK_DTYPE_F8E5M2: case FK_DTYPE_U8: return 1;
        default: return 0;
    }
}

__device__ __forceinline__ float warp_sum(float v) {
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}

// Sum over the whole block; every thread gets the result. Uses one static shared
// array, so call it at most once per kernel.
__device__ __forceinline__ float block_sum(float v) {
    __shared__ float partial[32];
    v = warp_sum(v);
    const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
    if (lane == 0) partial[warp] = v;
    __syncthreads();
    const int nwarps = (blockDim.x + 31) / 32;
    v = (lane < nwarps) ? partial[lane] : 0.f;
    v = warp_sum(v);
    return v;
}

__host__ __forceinline__ int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

// Programmatic dependent launch (sm_90; see launch_pdl). First statement of a kernel
// launched with launch_pdl: wait until the previous grid on the stream has completed and its
// writes are visible, then let the next grid begin launching (its own wait still orders it
// after us). Kernels that are never launched with launch_pdl need not call it.
//
// Its two halves, for kernels with work that needs nothing of the previous grid (a prologue,
// loads of inputs written before it): `pdl_launch_dependents` lets the next grid begin
// launching once every CTA of this one has called it (so a dependent never holds an SM this
// grid's unscheduled CTAs need); `pdl_wait` blocks until the previous grid has completed and its
// writes are visible. A kernel launched with launch_pdl must pass pdl_wait on every path before
// it reads what the previous grid writes.
__device__ __forceinline__ void pdl_launch_dependents() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
    asm volatile("griddepcontrol.launch_dependents;" ::: "memory");
#endif
}
__device__ __forceinline__ void pdl_wait() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
    asm volatile("griddepcontrol.wait;" ::: "memory");
#endif
}
__device__ __forceinline__ void pdl_grid_sync() {
    pdl_wait();
    pdl_launch_dependents();
}

// Launch `kernel` allowing programmatic dependent launch: its CTAs may be scheduled while the
// previous kernel's last CTAs still run (instead of after a full drain), which hides the
// launch gap between the small back-to-back kernels of a decode step. Only for kernels that
// begin with pdl_grid_sync().
template <typename... KArgs, typename... Args>
__host__ cudaError_t launch_pdl(void (*kernel)(KArgs...), dim3 grid, dim3 block, size_t smem, cudaStream_t stream, Args... args) {
    cudaLaunchConfig_t cfg = {};
    cfg.gridDim = grid;
    cfg.blockDim = block;
    cfg.dynamicSmemBytes = smem;
    cfg.stream = stream;
    cudaLaunchAttribute attr[1];
    attr[0].id = cudaLaunchAttributeProgrammaticStreamSerialization;
    attr[0].val.programmaticStreamSerializationAllowed = 1;
    cfg.attrs = attr;
    cfg.numAttrs = 1;
    return cudaLaunchKernelEx(&cfg, kernel, static_cast<KArgs>(args)...);
}

// Record an offending row in an fk_status (see dtype.h).
__device__ __forceinline__ void status_report(fk_status* s, int64_t row) {
    if (s == nullptr) return;
    atomicAdd(&s->bad_count, 1ull);
    atomicMin(&s->first_bad, static_cast<unsigned long long>(row));
}

// Reset an fk_status on the stream before the kernel that fills it.
__host__ __forceinline__ cudaError_t status_reset(fk_status* s, cudaStream_t stream) {
    if (s == nullptr) return cudaSuccess;
    cudaError_t e = cudaMemsetAsync(&s->bad_count, 0, sizeof(s->bad_count), stream);
    if (e != cudaSuccess) return e;
    return cudaMemsetAsync(&s->first_bad, 0xff, sizeof(s->first_bad), stream);
}

}  // namespace fk
