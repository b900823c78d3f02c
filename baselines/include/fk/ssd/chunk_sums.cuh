// ssd_chunk_scan's per-token sums, computed once before the Hopper state pass: for every head
// and token, the effective step dte (dt + bias, softplus, clamp) and cum, the running sum of
// dte * A over the token's chunk in log2 units (so a decay is one ex2). Both passes read them
// from the workspace (`cum`, `dte`: [heads][tokens] f32).
//
// Why a kernel of its own. The mma.sync state pass computes the sums inside its serial chunk
// loop (each of its warps scans all 128 rows with shuffles) and has one CTA per head publish
// them; the Hopper state pass keeps only the state product and the w*x scaling on its serial
// path, so the sums move here, where every (chunk, head) is independent. At 8k tokens of
// mamba2-2.7b (10 MB written) it takes 6.85 us under ncu at 1.45 GHz (run 124), 9-10 us
// between CUDA events: latency-bound, not bandwidth-bound, and small beside the passes.
//
// One CTA per (chunk slot, 32 heads), 512 threads: thread (head hl, segment q) walks tokens
// 8q .. 8q+7 of its head (a warp reads 32 adjacent heads of a dt row), the segments' totals are
// added through shared memory, and the sums leave transposed (a thread per token and 8 heads),
// so each head's 128 values are one contiguous store per warp. (A first form with 128 threads
// walking 32 tokens each ran 13.9 us at mamba2-2.7b's 8k tokens: four warps per SM, each a
// chain of 32 dependent steps.)
#pragma once
#include "fk/ssd/chunks.cuh"

namespace fk {
namespace ssd {

constexpr int kSumHeads = 32;                  // heads per CTA
constexpr int kSumSeg = 8;                     // tokens per thread
constexpr int kSumSegs = kChunk / kSumSeg;     // 16 segments of a chunk
constexpr int kSumThreads = kSumHeads * kSumSegs;
static_assert(kSumThreads % kChunk == 0, "the way out: a thread per token and kSumThreads / kChunk head sets");

// W: the workspace view of ssd_chunk_scan.cu (cum, dte).
template <typename T, typename W>
__global__ void __launch_bounds__(kSumThreads) chunk_sums_kernel(const fk_ssd_chunk_scan_params p, const W ws) {
    __shared__ float cum[kSumHeads][kChunk + 1];  // +1: a warp's 32 heads at one token hit 32 banks
    __shared__ float dte[kSumHeads][kChunk + 1];
    __shared__ float offset[kSumSegs][kSumHeads];  // the segments' totals, then their exclusive prefix
    fk::pdl_launch_dependents();  // the state pass may launch now; it waits for these sums
    const SlotChunk ch = chunk_of_slot(p, blockIdx.x);
    if (ch.rows == 0) return;  // a slot past its sequence's last chunk (the whole CTA)
    const int hl = threadIdx.x % kSumHeads, q = threadIdx.x / kSumHeads;
    const int h = blockIdx.y * kSumHeads + hl;
    const bool head_ok = h < p.heads;
    const float a2 = head_ok ? p.A[h] * kLog2e : 0.f;
    const float bias = head_ok && p.dt_bias ? p.dt_bias[h] : 0.f;
    const T* const dt = static_cast<const T*>(p.dt) + ch.t0 * p.dt_stride + h;

    T raw[kSumSeg];
#pragma unroll
    for (int k = 0; k < kSumSeg; ++k) {  // every load first: independent requests in flight
        const int r = kSumSeg * q + k;
        raw[k] = head_ok && r < ch.rows ? dt[r * p.dt_stride] : fk::from_float<T>(0.f);
    }
    float run = 0.f;
#pragma unroll
    for (int k = 0; k < kSumSeg; ++k) {
        const int r = kSumSeg * q + k;
        const float d = head_ok && r < ch.rows ? step_of(fk::to_float(raw[k]), bias, p) : 0.f;
        run = fmaf(d, a2, run);
        cum[hl][r] = run;
        dte[hl][r] = d;
    }
    offset[q][hl] = run;
    __syncthreads();
    if (threadIdx.x < kSumHeads) {  // exclusive prefix of the segment totals, per head
        float acc = 0.f;
        for (int k = 0; k < kSumSegs; ++k) {
            const float t = offset[k][threadIdx.x];
            offset[k][threadIdx.x] = acc;
            acc += t;
        }
    }
    __syncthreads();

    // Out: thread (token r, head set j0) writes token r of heads j0, j0 + 4, ...
    constexpr int kSets = kSumThreads / kChunk;
    const int r = threadIdx.x % kChunk, j0 = threadIdx.x / kChunk;
    if (r >= ch.rows) return;  // no barrier follows
#pragma unroll 4
    for (int j = j0; j < kSumHeads; j += kSets) {
        const int hh = blockIdx.y * kSumHeads + j;
        if (hh >= p.heads) break;
        const int64_t at = static_cast<int64_t>(hh) * p.tokens + ch.t0 + r;
        ws.cum[at] = cum[j][r] + offset[r / kSumSeg][j];
        ws.dte[at] = dte[j][r];
    }
}

}  // namespace ssd
}  // namespace fk
