// ssd_chunk_scan's per-token sums, computed once before the Hopper state pass: for every head
// and token, the effective step dte (dt + bias, softplus, clamp) and cum, the running sum of
// dte * A over the token's chunk in log2 units (so a decay is one ex2). Both passes read them
// from the workspace (`cum`, `dte`: [heads][tokens] f32).
//
// Why a kernel of its own. The mma.sync state pass computes the sums inside its serial chunk
// loop (each of its warps scans all 128 rows with shuffles) and has one CTA per head publish
// them; the Hopper state pass keeps only the state product and the w*x scaling on its serial
// path, so the sums move here, where every (chunk, head) is independent: ~1 us of a 10 MB
// write at 8k tokens of mamba2-2.7b.
//
// One CTA per (chunk slot, 32 heads): thread (head hl, quarter q) walks tokens 32q .. 32q+31 of
// its head sequentially (a warp reads 32 adjacent heads of a dt row), the quarters' totals are
// added through shared memory, and the sums leave transposed (a thread per token), so each
// head's 128 values are one contiguous store per warp.
#pragma once
#include "fk/ssd/chunks.cuh"

namespace fk {
namespace ssd {

constexpr int kSumHeads = 32;          // heads per CTA
constexpr int kSumThreads = kChunk;    // 4 quarters x 32 heads; one token per thread on the way out
static_assert(kChunk == 128, "four quarters of 32 tokens");

// W: the workspace view of ssd_chunk_scan.cu (cum, dte).
template <typename T, typename W>
__global__ void __launch_bounds__(kSumThreads) chunk_sums_kernel(const fk_ssd_chunk_scan_params p, const W ws) {
    __shared__ float cum[kSumHeads][kChunk + 1];  // +1: a warp's 32 heads at one token hit 32 banks
    __shared__ float dte[kSumHeads][kChunk + 1];
    __shared__ float total[4][kSumHeads];
    const SlotChunk ch = chunk_of_slot(p, blockIdx.x);
    if (ch.rows == 0) return;  // a slot past its sequence's last chunk (the whole CTA)
    const int hl = threadIdx.x % kSumHeads, q = threadIdx.x / kSumHeads;
    const int h = blockIdx.y * kSumHeads + hl;
    const bool head_ok = h < p.heads;
    const float a2 = head_ok ? p.A[h] * kLog2e : 0.f;
    const float bias = head_ok && p.dt_bias ? p.dt_bias[h] : 0.f;
    const T* const dt = static_cast<const T*>(p.dt) + ch.t0 * p.dt_stride + h;

    T raw[32];
#pragma unroll
    for (int k = 0; k < 32; ++k) {  // every load first: 32 independent requests in flight
        const int r = 32 * q + k;
        raw[k] = head_ok && r < ch.rows ? dt[r * p.dt_stride] : fk::from_float<T>(0.f);
    }
    float run = 0.f;
#pragma unroll
    for (int k = 0; k < 32; ++k) {
        const int r = 32 * q + k;
        const float d = head_ok && r < ch.rows ? step_of(fk::to_float(raw[k]), bias, p) : 0.f;
        run = fmaf(d, a2, run);
        cum[hl][r] = run;
        dte[hl][r] = d;
    }
    total[q][hl] = run;
    __syncthreads();

    // Out: thread r writes token r of each head (its quarter's offset: the earlier totals).
    const int r = threadIdx.x, rq = r / 32;
    if (r >= ch.rows) return;  // no barrier follows
    for (int j = 0; j < kSumHeads; ++j) {
        const int hh = blockIdx.y * kSumHeads + j;
        if (hh >= p.heads) break;
        float off = 0.f;
        for (int k = 0; k < rq; ++k) off += total[k][j];
        const int64_t at = static_cast<int64_t>(hh) * p.tokens + ch.t0 + r;
        ws.cum[at] = cum[j][r] + off;
        ws.dte[at] = dte[j][r];
    }
}

}  // namespace ssd
}  // namespace fk
