// Device pieces shared by skinny_gemm's kernels (skinny_gemm.cu and skinny/stream_sm90.cuh):
// activation loads, the 16-byte dot product and the causal-conv epilogue.
#pragma once
#include "fk/common.cuh"
#include "fk/ops/skinny_gemm.h"
#include "fk/ssm.cuh"

namespace fk {
namespace skinny {

// One 16-byte vector of activations: from global memory through the read-only path, or (the
// input-norm prologue's rows) from shared memory, which the read-only path cannot address.
template <typename T, int V, bool SHARED = false> __device__ __forceinline__ fk::Packed<T, V> ld_act(const T* p) {
    fk::Packed<T, V> v;
    const uint4 raw = SHARED ? *reinterpret_cast<const uint4*>(p) : __ldg(reinterpret_cast<const uint4*>(p));
    memcpy(&v, &raw, sizeof(v));
    return v;
}

// The input-norm prologue (norm_weight != NULL): the CTA's THREADS threads normalise the
// rows of x into xs ([rows, k], shared memory) with the rms_norm op's arithmetic, rounding
// where it rounds (x * rstd to T, then times the weight, to T again); only the sum of squares
// is added in another order. Every CTA does this for itself: the rows are a few KB that L1
// serves after the first CTA on an SM, and it spares the decode step a one-CTA norm kernel and
// the dependent round trip through memory behind it. It sits on each CTA's path from the
// PDL wait to its first multiply, so each thread's loads go out kBatch at a time (run 71: a
// loop of one dependent load per iteration made Mamba-1's decode step 16 % slower than the
// separate norm kernel; a batch of 2 keeps the one-row kernel at 40 registers, 4 took 56).
// Must be reached by every thread.
template <typename T, int M, int THREADS>
__device__ __forceinline__ void normalise_rows(const fk_skinny_gemm_params& p, int rows, int k, T* xs) {
    constexpr int V = 16 / sizeof(T), kWarps = THREADS / 32, kBatch = 2;
    using P = fk::Packed<T, V>;
    const int nvec = k / V, warp = threadIdx.x / 32, lane = threadIdx.x % 32;
    const T* x = static_cast<const T*>(p.x);
    const P* w = static_cast<const P*>(p.norm_weight);
    float ss[M];
#pragma unroll
    for (int m = 0; m < M; ++m) {
        ss[m] = 0.f;
        if (m >= rows) continue;
#pragma unroll 1
        for (int i0 = threadIdx.x; i0 < nvec; i0 += kBatch * THREADS) {
            P v[kBatch];
#pragma unroll
            for (int j = 0; j < kBatch; ++j) {
                const int i = i0 + j * THREADS;
                if (i < nvec) v[j] = ld_act<T, V>(x + m * p.x_stride + int64_t(i) * V);
                // The norm weight is read again below: ask L1 for it now, off the path.
                if (m == 0 && i < nvec) asm volatile("prefetch.global.L1 [%0];" ::"l"(w + i));
            }
#pragma unroll
            for (int j = 0; j < kBatch; ++j) {
                const int i = i0 + j * THREADS;
                if (i >= nvec) break;
                *reinterpret_cast<P*>(xs + m * k + i * V) = v[j];
#pragma unroll
                for (int e = 0; e < V; ++e) {
                    const float f = fk::to_float(v[j].v[e]);
                    ss[m] = fmaf(f, f, ss[m]);
                }
            }
        }
    }
    __shared__ float part[M][kWarps];
#pragma unroll
    for (int m = 0; m < M; ++m) {
        ss[m] = fk::warp_sum(ss[m]);
        if (lane == 0) part[m][warp] = ss[m];
    }
    __syncthreads();
#pragma unroll
    for (int m = 0; m < M; ++m) {
        if (m >= rows) continue;
        float total = 0.f;
#pragma unroll
        for (int j = 0; j < kWarps; ++j) total += part[m][j];
        const float rstd = rsqrtf(total / static_cast<float>(k) + p.norm_eps);
        // Each thread rescales the vectors it stored itself: no barrier between the passes.
#pragma unroll 1
        for (int i0 = threadIdx.x; i0 < nvec; i0 += kBatch * THREADS) {
            P wv[kBatch];
#pragma unroll
            for (int j = 0; j < kBatch; ++j) {
                const int i = i0 + j * THREADS;
                if (i < nvec) wv[j] = w[i];
            }
#pragma unroll
            for (int j = 0; j < kBatch; ++j) {
                const int i = i0 + j * THREADS;
                if (i >= nvec) break;
                P* v = reinterpret_cast<P*>(xs + m * k + i * V);
                P o;
#pragma unroll
                for (int e = 0; e < V; ++e) o.v[e] = fk::from_float<T>(fk::round_to<T>(fk::to_float(v->v[e]) * rstd) * fk::to_float(wv[j].v[e]));
                *v = o;
            }
        }
    }
    __syncthreads();
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

// The conv epilogue for row m, conv channel c, whose input y the GEMV just stored: one
// causal_conv1d_update step (the same arithmetic as that op's kernel, on the same rounded y).
template <typename T>
__device__ __forceinline__ void conv_step(const fk_skinny_gemm_params& p, int m, int64_t c, T y) {
    const int64_t srow = p.conv_state_indices ? p.conv_state_indices[m] : m;
    if (srow < 0) return;  // a padding row: its conv_out row is left as it was
    const int taps = p.conv_width - 1;
    T* st = static_cast<T*>(p.conv_state) + (srow * p.conv_dim + c) * taps;
    const T* w = static_cast<const T*>(p.conv_weight) + c * p.conv_width;
    T old[FK_CAUSAL_CONV1D_MAX_WIDTH - 1];
    float acc = p.conv_bias ? fk::to_float(static_cast<const T*>(p.conv_bias)[c]) : 0.f;
#pragma unroll
    for (int t = 0; t < FK_CAUSAL_CONV1D_MAX_WIDTH - 1; ++t) {
        if (t >= taps) break;
        old[t] = st[t];
        acc = fmaf(fk::to_float(w[t]), fk::to_float(old[t]), acc);
    }
    acc = fmaf(fk::to_float(w[taps]), fk::to_float(y), acc);
    static_cast<T*>(p.conv_out)[m * p.conv_out_stride + c] = fk::from_float<T>(p.conv_silu ? fk::silu(acc) : acc);
#pragma unroll
    for (int t = 0; t + 1 < FK_CAUSAL_CONV1D_MAX_WIDTH - 1; ++t) {
        if (t + 1 >= taps) break;
        st[t] = old[t + 1];
    }
    st[taps - 1] = y;
}

}  // namespace skinny
}  // namespace fk
