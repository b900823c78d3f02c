// moe_align_block_size baseline (L1). Contract: include/fk/ops/moe_align_block_size.h. sm_80+.
// One CTA of 16 warps. The slots are cut into 16 contiguous chunks, one per warp, so a stable
// (slot-ordered) scatter needs no sorting:
//   1. each warp counts its chunk's slots per expert (warp-aggregated with __match_any_sync:
//      one shared-memory add per distinct expert per 32 slots, no atomics: a warp owns its
//      row of the count table);
//   2. per expert: total, padded size, exclusive scan over experts (one warp-shuffle scan per
//      32 experts, then a scan of the warp totals), and each warp's starting cursor = the
//      expert's offset + the counts of the warps before it;
//   3. each warp walks its chunk again in order and writes every slot at its cursor plus its
//      rank among the lanes with the same expert (a popc of the match mask below the lane).
// Then the sentinel fill of the padding and the expert id of every block (binary search of
// the block's start in the experts' offsets). Capturable: fixed grid, no host reads.
#include "fk/common.cuh"
#include "fk/ops/moe_align_block_size.h"

namespace {

constexpr int kWarps = 16;
constexpr int kThreads = kWarps * 32;
constexpr int kMaxE = FK_MOE_ALIGN_MAX_EXPERTS;

__device__ __forceinline__ int warp_inclusive_scan(int v) {
    const int lane = threadIdx.x % 32;
#pragma unroll
    for (int o = 1; o < 32; o <<= 1) {
        const int n = __shfl_up_sync(0xffffffffu, v, o);
        if (lane >= o) v += n;
    }
    return v;
}

__global__ void __launch_bounds__(kThreads) moe_align_kernel(fk_moe_align_block_size_params p) {
    fk::pdl_grid_sync();
    // counts[w][e]: slots of warp w's chunk routed to e; after step 2 the cursor of (w, e).
    __shared__ int counts[kWarps][kMaxE];
    __shared__ int offset[kMaxE + 1];  // padded exclusive scan; offset[E] = total padded
    __shared__ int warp_tot[kThreads / 32];
    const int tid = threadIdx.x, warp = tid / 32, lane = tid % 32;
    const int E = p.num_experts, B = p.block_size;
    const int n = static_cast<int>(p.slots);
    const int chunk = (n + kWarps - 1) / kWarps;
    const int lo = min(n, warp * chunk), hi = min(n, lo + chunk);

    for (int i = tid; i < kWarps * kMaxE; i += kThreads) (&counts[0][0])[i] = 0;
    __syncthreads();

    // 1. Per-warp counts (base rounded down to a multiple of 32 so every lane takes part in
    // each match; lanes outside [lo, hi) carry id -1).
    for (int base = lo; base < hi; base += 32) {
        const int s = base + lane;
        int e = s < hi ? p.topk_ids[s] : -1;
        const bool valid = e >= 0 && e < E;
        if (s < hi && !valid) fk::status_report(p.status, s);
        if (!valid) e = -1;
        const unsigned peers = __match_any_sync(0xffffffffu, e);
        if (valid && lane == __ffs(peers) - 1) counts[warp][e] += __popc(peers);
    }
    __syncthreads();

    // 2. Totals, padded sizes and the exclusive scan over experts (kThreads >= kMaxE).
    int padded = 0;
    if (tid < E) {
        int total = 0;
        for (int w = 0; w < kWarps; ++w) total += counts[w][tid];
        padded = (total + B - 1) / B * B;
    }
    const int incl = warp_inclusive_scan(padded);
    if (lane == 31) warp_tot[warp] = incl;
    __syncthreads();
    if (warp == 0) {
        const int v = lane < kThreads / 32 ? warp_tot[lane] : 0;
        const int s = warp_inclusive_scan(v);
        if (lane < kThreads / 32) warp_tot[lane] = s - v;  // exclusive prefix of the warps
    }
    __syncthreads();
    if (tid < E) offset[tid] = warp_tot[warp] + incl - padded;
    if (tid == E - 1) {
        offset[E] = warp_tot[warp] + incl;
        *p.num_tokens_post_padded = offset[E];
    }
    __syncthreads();
    if (tid < E) {
        int cursor = offset[tid];
        for (int w = 0; w < kWarps; ++w) {
            const int c = counts[w][tid];
            counts[w][tid] = cursor;
            cursor += c;
        }
    }
    __syncthreads();

    // 3. Stable scatter of the slots.
    for (int base = lo; base < hi; base += 32) {
        const int s = base + lane;
        int e = s < hi ? p.topk_ids[s] : -1;
        if (!(e >= 0 && e < E)) e = -1;
        const unsigned peers = __match_any_sync(0xffffffffu, e);
        if (e >= 0) {
            const int rank = __popc(peers & ((1u << lane) - 1));
            p.sorted_token_ids[counts[warp][e] + rank] = s;
        }
        __syncwarp();
        if (e >= 0 && lane == __ffs(peers) - 1) counts[warp][e] += __popc(peers);
        __syncwarp();
    }
    __syncthreads();

    // Padding of each expert's group (cursor of the last warp = end of its real slots), and
    // everything past the total, gets the sentinel.
    const int cap = static_cast<int>(FK_MOE_ALIGN_MAX_PADDED(p.slots, int64_t(E), int64_t(B)));
    for (int e = warp; e < E; e += kWarps)
        for (int r = counts[kWarps - 1][e] + lane; r < offset[e + 1]; r += 32) p.sorted_token_ids[r] = n;
    for (int r = offset[E] + tid; r < cap; r += kThreads) p.sorted_token_ids[r] = n;

    // Expert of every block: the last e with offset[e] <= start (empty experts have
    // offset[e] == offset[e+1] and are skipped by taking the last).
    const int blocks = (cap + B - 1) / B;
    for (int b = tid; b < blocks; b += kThreads) {
        const int start = b * B;
        int id = -1;
        if (start < offset[E]) {
            int l = 0, h = E - 1;
            while (l < h) {
                const int m = (l + h + 1) / 2;
                if (offset[m] <= start) l = m; else h = m - 1;
            }
            id = l;
        }
        p.expert_ids[b] = id;
    }
}

}  // namespace

FK_OP_LAUNCHER(moe_align_block_size)(const fk_moe_align_block_size_params* p, cudaStream_t stream) {
    FK_REQUIRE(p != nullptr && stream != nullptr);
    FK_REQUIRE(p->num_experts >= 1 && p->num_experts <= FK_MOE_ALIGN_MAX_EXPERTS);
    FK_REQUIRE(p->block_size >= 1 && p->block_size <= 1024 && p->slots >= 0);
    FK_REQUIRE(FK_MOE_ALIGN_MAX_PADDED(p->slots, int64_t(p->num_experts), int64_t(p->block_size)) < (int64_t(1) << 31));
    FK_REQUIRE(p->sorted_token_ids && p->expert_ids && p->num_tokens_post_padded);
    FK_REQUIRE(p->slots == 0 || p->topk_ids);
    cudaError_t e = fk::status_reset(p->status, stream);
    if (e != cudaSuccess) return e;
    // Even with no slots the outputs are written (total 0, every entry sentinel / -1).
    return fk::launch_pdl(moe_align_kernel, dim3(1), dim3(kThreads), 0, stream, *p);
}
