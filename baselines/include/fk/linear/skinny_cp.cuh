// Tensor-core skinny GEMM, shared-memory pipelined: out^T = W · x^T for 1..64 rows of x
// (f16/bf16), W [n, k] streamed once through a multi-stage cp.async ring. Private to
// kernels/skinny_gemm.cu.
//
// Why through shared memory: the weight stream needs many bytes in flight per SM (HBM latency
// x bandwidth / SMs ~ 25-30 KB) *and* long contiguous runs per weight row. Loading straight
// into mma fragments (skinny_mma.cuh) pays for bytes in flight with registers, so it can keep
// only a few hundred bytes per row in flight; cp.async keeps whole stages in flight for free
// (no registers), each stage reading 256 contiguous bytes of 64 rows with 16-byte requests
// that coalesce across the warp.
//  * A CTA owns 64 weight rows (4 warps x one m16 tile) and a k range (split k across CTAs
//    for weights with few rows, as skinny_mma.cuh); stages of kStageK = 128 k hold the 64 x 128
//    weight tile and the rows x 128 slice of x (zero-filled past the rows of x).
//  * ldmatrix feeds A (weights, 16 x 16 per k16 step) and B (x, 8 x 16 per n8 tile) from
//    rows padded to 136 elements (272 bytes: consecutive rows start 4 banks apart, so the
//    8 rows an ldmatrix phase reads hit distinct banks).
//  * Under programmatic dependent launch the first stages' *weights* are requested before
//    waiting for the previous kernel (model constants), x only after.
#pragma once
#include "fk/attention/sm80_mma.cuh"
#include "fk/common.cuh"
#include "fk/linear/skinny_mma.cuh"
#include "fk/ops/skinny_gemm.h"

namespace fk {
namespace skinny_cp {

constexpr int kWarps = 4;
constexpr int kThreads = kWarps * 32;
constexpr int kRows = kWarps * 16;  // weight rows per CTA
constexpr int kStageK = 128;        // k per stage
constexpr int kPitch = kStageK + 8; // smem row pitch in elements (272 bytes)
constexpr int kStages = 4;

template <int MT> struct Smem {
    static constexpr int kWElems = kRows * kPitch;
    static constexpr int kXElems = 8 * MT * kPitch;
    static constexpr int kStageElems = kWElems + kXElems;
    static constexpr int kBytes = kStages * kStageElems * 2;
};

__device__ __forceinline__ void ldmatrix_x2(uint32_t& r0, uint32_t& r1, uint32_t addr) {
    asm volatile("ldmatrix.sync.aligned.m8n8.x2.shared.b16 {%0, %1}, [%2];\n" : "=r"(r0), "=r"(r1) : "r"(addr));
}

// Issue the cp.async requests of stage `s`'s weight tile: rows [row0, row0 + 64) (clamped to
// the last row: never stored), k [k0, k0 + 128) zero-filled at or past ke.
template <typename T>
__device__ __forceinline__ void load_w(T* sw, const T* weight, int64_t row0, int64_t n, int64_t k, int k0, int ke) {
    constexpr int chunks = kRows * kStageK / 8;  // 16-byte chunks
#pragma unroll
    for (int i = threadIdx.x; i < chunks; i += kThreads) {
        const int r = i / (kStageK / 8), cc = i % (kStageK / 8);
        const int kk = k0 + cc * 8;
        const int64_t row = min(row0 + r, n - 1);
        attn::cp_async16(attn::smem_addr(sw + r * kPitch + cc * 8), weight + row * k + (kk < ke ? kk : 0), kk < ke);
    }
}

template <typename T, int MT>
__device__ __forceinline__ void load_x(T* sx, const T* x, int64_t x_stride, int rows, int k0, int ke) {
    constexpr int chunks = 8 * MT * kStageK / 8;
#pragma unroll
    for (int i = threadIdx.x; i < chunks; i += kThreads) {
        const int r = i / (kStageK / 8), cc = i % (kStageK / 8);
        const int kk = k0 + cc * 8;
        const bool in = r < rows && kk < ke;
        attn::cp_async16(attn::smem_addr(sx + r * kPitch + cc * 8), x + (in ? r * x_stride + kk : 0), in);
    }
}

template <typename T, int MT>
__global__ void __launch_bounds__(kThreads, 2) skinny_cp_kernel(fk_skinny_gemm_params p, skinny::SplitArgs sa) {
    using Sm = Smem<MT>;
    extern __shared__ __align__(16) unsigned char smem_raw[];
    T* smem = reinterpret_cast<T*>(smem_raw);
    const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, g = lane / 4, c = lane % 4;
    const int64_t n = p.n, k = p.k;
    const int rows = static_cast<int>(p.rows);
    const int64_t row0 = int64_t(blockIdx.x) * kRows;
    const int kb = blockIdx.y * sa.kslice;
    const int ke = static_cast<int>(min(k, int64_t(kb) + sa.kslice));
    const int nst = ke > kb ? (ke - kb + kStageK - 1) / kStageK : 0;
    const T* weight = static_cast<const T*>(p.weight);
    const T* x = static_cast<const T*>(p.x);
    auto sw = [&](int s) { return smem + s * Sm::kStageElems; };
    auto sx = [&](int s) { return smem + s * Sm::kStageElems + Sm::kWElems; };

    // Prologue: weights of the first kStages - 1 stages before the PDL wait, then their x.
    // Group 0 holds all prologue weight requests plus x of stage 0; group s the x of stage s.
#pragma unroll
    for (int s = 0; s < kStages - 1; ++s)
        if (s < nst) load_w(sw(s), weight, row0, n, k, kb + s * kStageK, ke);
    pdl_grid_sync();
#pragma unroll
    for (int s = 0; s < kStages - 1; ++s) {
        if (s < nst) load_x<T, MT>(sx(s), x, p.x_stride, rows, kb + s * kStageK, ke);
        attn::cp_async_commit();
    }

    float acc[MT][4];
#pragma unroll
    for (int t = 0; t < MT; ++t) acc[t][0] = acc[t][1] = acc[t][2] = acc[t][3] = 0.f;
    for (int st = 0; st < nst; ++st) {
        attn::cp_async_wait<kStages - 2>();
        __syncthreads();  // stage st visible to all; stage st - 1's buffer free for reuse
        const int nxt = st + kStages - 1;
        if (nxt < nst) {
            const int b = nxt % kStages;
            load_w(sw(b), weight, row0, n, k, kb + nxt * kStageK, ke);
            load_x<T, MT>(sx(b), x, p.x_stride, rows, kb + nxt * kStageK, ke);
        }
        attn::cp_async_commit();
        const T* w_s = sw(st % kStages) + (warp * 16) * kPitch;
        const T* x_s = sx(st % kStages);
#pragma unroll
        for (int kk = 0; kk < kStageK; kk += 16) {
            uint32_t a[4];
            // Lanes 0-15 address rows 0-15 at kk, lanes 16-31 the same rows at kk + 8.
            attn::ldmatrix_x4(a, attn::smem_addr(w_s + (lane % 16) * kPitch + kk + (lane / 16) * 8));
#pragma unroll
            for (int t = 0; t < MT; ++t) {
                uint32_t b0, b1;
                // Lanes 0-7: x rows 8t..8t+7 at kk; lanes 8-15 at kk + 8 (16-31 mirror them).
                ldmatrix_x2(b0, b1, attn::smem_addr(x_s + (8 * t + lane % 8) * kPitch + kk + ((lane / 8) % 2) * 8));
                attn::MmaType<T>::mma(acc[t], a, b0, b1);
            }
        }
    }
    attn::cp_async_wait<0>();
    skinny::finish<T, MT, kRows, kThreads>(acc, p, sa, row0 + warp * 16, g, c);
}

}  // namespace skinny_cp
}  // namespace fk
