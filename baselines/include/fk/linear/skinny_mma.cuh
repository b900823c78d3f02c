// Tensor-core skinny GEMM for decode-sized batches (f16/bf16, 1..64 rows of x): the
// `skinny_gemm` path that replaces cuBLASLt in batched decode. Private to kernels/skinny_gemm.cu.
//
// out^T = W · x^T is a tall-skinny product: W [n, k] is the mma's A operand (16 weight rows
// per m16 tile) and x [rows, k] its B operand (8 rows of x per n8 tile). The whole cost is
// streaming W once from HBM, so the kernel is organised around that stream:
//  * Weights go straight from global memory into A fragments, 16 bytes per lane and per row,
//    no shared memory. That works because a dot product may walk k in any order as long as A
//    and B agree: lane (g, c) loads 8 consecutive k of rows g and g+8, and those 8 values are
//    the lane's fragment slots of two m16n8k16 steps (slots 2c, 2c+1, 2c+8, 2c+9 of step j hold
//    physical k 8c + 4j + 0..3). The B fragment then is 8 consecutive k of one x row, the same
//    physical k: one 16-byte load of x per n8 tile feeds both steps. Every byte loaded is used.
//  * Each warp owns 16 weight rows and walks its block's k range with S x 32 k of weights
//    in flight per lane, double-buffered in registers so the next loads are issued before the
//    current ones are multiplied (what keeps HBM busy; one warp alone is latency-bound).
//  * The 8 warps of a block own 128 consecutive rows and walk the same k range in step, so
//    each x vector is read from L2 once per block and hit in L1 by the other 7 warps: x costs
//    rows/128 of the weight traffic in L2, not rows/16.
//  * Short or few weight rows (o_proj, down_proj: n = 4096) would give one wave of ~32 blocks
//    on 132 SMs, so k is split across blocks (grid.y). Splits write fp32 partials; the last
//    block of a row group to finish (atomic counter) adds them in split order — the result
//    does not depend on which block finished first — adds the bias, rounds once and resets
//    the counter for the next launch (the counters stay zero between launches, graph-safe).
//  * Under programmatic dependent launch the first weight loads are issued *before* waiting
//    for the previous kernel: weights are model constants no kernel in the stream writes, so
//    the weight stream overlaps the tail of whatever ran before (norms, rotary, attention).
#pragma once
#include "fk/attention/sm80_mma.cuh"
#include "fk/common.cuh"
#include "fk/ops/skinny_gemm.h"

namespace fk {
namespace skinny {

constexpr int kWarps = 8;                 // warps per block
constexpr int kRowsPerBlock = kWarps * 16;  // one m16 tile of weight rows per warp
constexpr int kStepK = 32;                // k covered by one 16-byte load per lane and row

// kStepK-wide steps in flight per register buffer: 4 up to 16 rows of x, 2 up to 32, 1 up to
// 64 (more would spill at the 128 registers that two blocks per SM allow).
template <int MT> __host__ __device__ constexpr int steps_for() { return MT >= 8 ? 1 : MT >= 4 ? 2 : 4; }

// Weights of S steps for the lane's two rows (g and g + 8), as raw 16-byte vectors.
template <int S>
struct WeightRegs {
    uint4 lo[S];
    uint4 hi[S];
};

// Loads the weights of the S steps from warp offset k0 (the lane's 8 values start at
// k0 + s * kStepK + lane_k): zero, without a load, at or past ke (k is a multiple of 8, so a
// lane's vector is wholly inside or outside). The weight is read exactly once: stream it past
// L1 (__ldcs).
template <typename T, int S>
__device__ __forceinline__ void load_weights(WeightRegs<S>& w, const T* row_lo, const T* row_hi, int k0, int lane_k, int ke) {
#pragma unroll
    for (int s = 0; s < S; ++s) {
        const int kk = k0 + s * kStepK + lane_k;
        const bool in = kk < ke;
        w.lo[s] = in ? __ldcs(reinterpret_cast<const uint4*>(row_lo + kk)) : make_uint4(0, 0, 0, 0);
        w.hi[s] = in ? __ldcs(reinterpret_cast<const uint4*>(row_hi + kk)) : make_uint4(0, 0, 0, 0);
    }
}

// acc[t] += W(16 rows) · x(rows 8t .. 8t + 7)ᵀ over the S steps in `w`. k0 is the warp's
// offset (uniform: mma.sync needs the whole warp, so every branch around it is warp-uniform);
// lane_k the lane's. `x_at(t, kk)` gives the lane's 8 values of x at k = kk for tile t (its
// row 8t + g), zeros for rows that do not exist; k at or past ke contributes zeros, no load.
// (The loader is what differs between a plain batch of rows and MoE's gathered token rows.)
template <typename T, int MT, int S, typename XAt>
__device__ __forceinline__ void multiply(float (&acc)[MT][4], const WeightRegs<S>& w, const XAt& x_at, int k0, int lane_k, int ke) {
#pragma unroll
    for (int s = 0; s < S; ++s) {
        if (k0 + s * kStepK >= ke) break;
        const int kk = k0 + s * kStepK + lane_k;
        const uint32_t a0[4] = {w.lo[s].x, w.hi[s].x, w.lo[s].y, w.hi[s].y};
        const uint32_t a1[4] = {w.lo[s].z, w.hi[s].z, w.lo[s].w, w.hi[s].w};
#pragma unroll
        for (int t = 0; t < MT; ++t) {
            const uint4 xv = kk < ke ? x_at(t, kk) : make_uint4(0, 0, 0, 0);
            attn::MmaType<T>::mma(acc[t], a0, xv.x, xv.y);
            attn::MmaType<T>::mma(acc[t], a1, xv.z, xv.w);
        }
    }
}

// Walks [kb, ke) for the lane's two weight rows with two register buffers: the loads of the
// next S steps are issued before the current ones are multiplied. `wa` holds the first S steps
// (loaded by the caller, possibly before a PDL wait).
template <typename T, int MT, int S, typename XAt>
__device__ __forceinline__ void stream_rows(float (&acc)[MT][4], WeightRegs<S>& wa, const T* row_lo, const T* row_hi, const XAt& x_at, int kb, int lane_k, int ke) {
    constexpr int span = S * kStepK;
    WeightRegs<S> wb;
    for (int k0 = kb; k0 < ke; k0 += 2 * span) {
        load_weights(wb, row_lo, row_hi, k0 + span, lane_k, ke);
        multiply<T, MT, S>(acc, wa, x_at, k0, lane_k, ke);
        if (k0 + span >= ke) break;
        load_weights(wa, row_lo, row_hi, k0 + 2 * span, lane_k, ke);
        multiply<T, MT, S>(acc, wb, x_at, k0 + span, lane_k, ke);
    }
}

struct SplitArgs {
    int kslice;        // k per split (a multiple of kStepK)
    float* partial;    // [splits, rows, n] fp32, used when gridDim.y > 1
    int* counters;     // [gridDim.x], zero on entry and on exit
};

// The epilogue shared by the skinny kernels: a warp's m16 tile of weight rows (row_base ..
// row_base + 15) x the rows of x, acc[t] = D[row g / g + 8][x rows 8t + 2c, 8t + 2c + 1] (C
// fragment layout). One split: add the bias, round, store. Several (gridDim.y): store fp32
// partials, and the last block of the row group (kGroupRows rows, blockIdx.x) to arrive adds
// them in split order (the same bits whichever block finishes first), adds the bias, rounds
// once and resets its counter for the next launch.
template <typename T, int MT, int kGroupRows, int kThreads>
__device__ __forceinline__ void finish(const float (&acc)[MT][4], const fk_skinny_gemm_params& p, const SplitArgs& sa, int64_t row_base, int g, int c) {
    const int rows = static_cast<int>(p.rows);
    const int64_t n = p.n;
    const int split = blockIdx.y, splits = gridDim.y;
    const T* bias = static_cast<const T*>(p.bias);
    T* out = static_cast<T*>(p.out);
    if (splits == 1) {
#pragma unroll
        for (int h = 0; h < 2; ++h) {
            const int64_t r = row_base + g + 8 * h;
            if (r >= n) continue;
            const float b = bias != nullptr ? to_float(bias[r]) : 0.f;
#pragma unroll
            for (int t = 0; t < MT; ++t)
#pragma unroll
                for (int e = 0; e < 2; ++e) {
                    const int m = 8 * t + 2 * c + e;
                    if (m < rows) out[m * p.out_stride + r] = from_float<T>(acc[t][2 * h + e] + b);
                }
        }
        return;
    }
    float* part = sa.partial + int64_t(split) * rows * n;
#pragma unroll
    for (int h = 0; h < 2; ++h) {
        const int64_t r = row_base + g + 8 * h;
        if (r >= n) continue;
#pragma unroll
        for (int t = 0; t < MT; ++t)
#pragma unroll
            for (int e = 0; e < 2; ++e) {
                const int m = 8 * t + 2 * c + e;
                if (m < rows) __stcg(part + m * n + r, acc[t][2 * h + e]);
            }
    }
    // Classic last-block reduction: publish the partials, count, and let the last block of
    // this row group (over all splits) sum them.
    __shared__ int is_last;
    __threadfence();
    __syncthreads();
    if (threadIdx.x == 0) is_last = atomicAdd(&sa.counters[blockIdx.x], 1) == splits - 1;
    __syncthreads();
    if (!is_last) return;
    __threadfence();
    const int64_t group_base = int64_t(blockIdx.x) * kGroupRows;
    const int group_rows = n - group_base < kGroupRows ? static_cast<int>(n - group_base) : kGroupRows;
    for (int i = threadIdx.x; i < rows * kGroupRows; i += kThreads) {
        const int m = i / kGroupRows, rr = i % kGroupRows;
        if (rr >= group_rows) continue;
        const int64_t r = group_base + rr;
        float s = 0.f;
        for (int sp = 0; sp < splits; ++sp) s += __ldcg(sa.partial + (int64_t(sp) * rows + m) * n + r);
        if (bias != nullptr) s += to_float(bias[r]);
        out[m * p.out_stride + r] = from_float<T>(s);
    }
    if (threadIdx.x == 0) sa.counters[blockIdx.x] = 0;
}

template <typename T, int MT>
// Two blocks per SM (<= 128 registers): one block of 8 warps alone leaves too few weight
// loads in flight to cover HBM latency.
__global__ void __launch_bounds__(kWarps * 32, 2) skinny_mma_kernel(fk_skinny_gemm_params p, SplitArgs sa) {
    const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, g = lane / 4, c = lane % 4;
    const int k = static_cast<int>(p.k), rows = static_cast<int>(p.rows);
    const int64_t n = p.n;
    const int64_t row_base = int64_t(blockIdx.x) * kRowsPerBlock + warp * 16;
    const int split = blockIdx.y;
    const int kb = split * sa.kslice, ke = min(k, kb + sa.kslice);
    const T* weight = static_cast<const T*>(p.weight);
    // Rows past n read the last row (valid memory) and are never stored.
    const T* row_lo = weight + min(row_base + g, n - 1) * p.k;
    const T* row_hi = weight + min(row_base + g + 8, n - 1) * p.k;
    const int lane_k = 8 * c;

    constexpr int S = steps_for<MT>();
    WeightRegs<S> wa;
    load_weights(wa, row_lo, row_hi, kb, lane_k, ke);
    // Only now wait for the kernel that produced x (and last used the workspace).
    pdl_grid_sync();

    // x rows are x_stride apart; the lane's row of tile t is 8t + g (x_lane + t * x_row8).
    const T* x_lane = static_cast<const T*>(p.x) + int64_t(g) * p.x_stride;
    const int64_t x_row8 = 8 * p.x_stride;
    const int rows_left = rows - g;
    const auto x_at = [&](int t, int kk) {
        return 8 * t < rows_left ? __ldg(reinterpret_cast<const uint4*>(x_lane + t * x_row8 + kk)) : make_uint4(0, 0, 0, 0);
    };
    float acc[MT][4];
#pragma unroll
    for (int t = 0; t < MT; ++t) acc[t][0] = acc[t][1] = acc[t][2] = acc[t][3] = 0.f;
    stream_rows<T, MT, S>(acc, wa, row_lo, row_hi, x_at, kb, lane_k, ke);

    finish<T, MT, kRowsPerBlock, kWarps * 32>(acc, p, sa, row_base, g, c);
}

}  // namespace skinny
}  // namespace fk
