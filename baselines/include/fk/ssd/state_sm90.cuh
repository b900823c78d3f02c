// ssd_chunk_scan's state pass on Hopper (sm_90a): warpgroup MMA, the state in wgmma
// accumulators, tiles in and states out by TMA, the per-token sums precomputed
// (fk/ssd/chunk_sums.cuh).
//
// What it computes is pass 1 of ssd_chunk_scan.cu: walking a sequence's chunks of kQ = 128
// tokens, it publishes the state entering each chunk (rounded to the dtype, for the output
// pass) and advances it,
//   S <- exp2(cum_last) S + (w x)^T B,   w_t = exp2(cum_last - cum_t) dte_t,
// for one head, 64 of its channels (p) and 64 of its state columns (n).
//
// Why a second form. The mma.sync pass spends ~816 instructions per warp and chunk on a serial
// path of which 32 are mma (its own running sums with shuffles, per-thread copies, the w*x
// conversion, the state's publication), latency-bound at 0.44 issued per cycle per scheduler:
// 193 of SSD's 316.5 us at 8k tokens of mamba2-2.7b on the H200 (run 65). Here a chunk's serial
// work is the w*x scaling (one row per thread, in place) and 8 wgmma m64n64k16 with both
// operands MN-major from shared memory ((w x)^T: x stored [token][channel]; B [token][state]):
//   - TMA brings x and B (one thread, two boxes per chunk, three stages: chunk c + 2 loads
//     while c is multiplied) and takes the published state out (each warp its 16 rows from a
//     swizzled staging tile): the ~220 instructions of per-thread copies and the 16 scattered
//     4-byte stores per thread and chunk that the first form spent are gone (runs 120-124);
//   - the maps are 3-D ([tokens][heads][head_dim], [tokens][groups][d_state]), so a box's
//     columns past a head's channels or a group's states arrive as zeros: padding adds nothing
//     and the published padding columns are zeros, as the output pass needs;
//   - rows past a sequence's end hold the next sequence's tokens: the scaling zeroes them (in
//     x and B) so nothing, not even a non-finite input elsewhere in the batch, leaks across;
//   - the product is asynchronous: it runs while the threads publish the previous state and
//     scale the next chunk's x (a separate accumulator per chunk, folded in a chunk later,
//     made ptxas serialise the wgmma and lost: run 124).
//   - the chunk's running sums and steps come in with its boxes (two bulk copies on the same
//     barrier) rather than by per-thread loads a chunk ahead: every fence.proxy.async waited for
//     those loads (run 146's top stall); mamba2-2.7b 8k SSD 202.4-204.5 -> 198.2-198.7 us,
//     Codestral's state pass 101.7 -> 92.5 us (run 147). Issuing chunk c + 2's copies after the
//     chunk's wgmma instead (the warpgroup's product waits for thread 0's issue sequence) made
//     the pass alone 85-87 us against 91-94 (runs 152, 155) but the whole op 201.2-201.4 against
//     197.4-197.8 (run 157, alternated in one call): not kept.
// One CTA barrier per chunk: after the scaling (w*x whole) and the previous product's wait (its
// stage free for the next box). Run 125: the pass 93 us at 8k tokens of mamba2-2.7b on the
// H200 (132-148 with per-thread stores and the split accumulator, run 124). Two warpgroups,
// each multiplying half of a chunk's tokens into its own part of the state (warpgroup 1 handing
// its part over through shared memory for each publication), were correct but slower: 109-110
// against 93.5-94.5 us (run 145).
//
// One CTA = one warpgroup: (sequence, head, 64-channel slice, 64-column state block); ~108 KB of
// shared memory, 2 CTAs per SM. mamba2-2.7b: 80 heads x 2 state blocks = 160 CTAs, Codestral
// 256: one wave on 132 SMs.
// Limits (the launcher checks them, else the mma.sync pass): kQ == 128, d_state <= NT and a
// multiple of 8, head_dim a multiple of 8, 16-byte aligned rows.
#pragma once
#include "fk/attention/sm80_mma.cuh"
#include "fk/attention/sm90_sync.cuh"
#include "fk/attention/sm90_wgmma_ops.cuh"
#include "fk/ssd/chunks.cuh"
#include "fk/ssd/store_tile_sm90.cuh"

#include <cuda.h>  // CUtensorMap

namespace fk {
namespace ssd {

constexpr int kStateSm90Threads = 128;  // one warpgroup
constexpr int kStateSm90Stages = 3;

// Shared memory (bytes, from a 1024-aligned base): per stage x [kQ tokens][64 channels] and B
// [kQ tokens][64 states] as SW128 tiles (TMA boxes of 64 x kQ); the published state's staging
// tile [64 channels][64 states] (SW128, 16 rows per warp); per stage the chunk's running sums
// and steps (kSumFloats each, from the 16-byte boundary at or before its first token); the
// stages' full barriers.
struct StateSm90Layout {
    static constexpr int kTile = kChunk * 128;
    static constexpr int kX = 0, kB = kTile;
    static constexpr int kStage = 2 * kTile;
    static constexpr int kOut = kStateSm90Stages * kStage;
    static constexpr int kOutWarp = 16 * 128;  // a warp's 16 rows
    static constexpr int kSumFloats = kChunk + 4;
    static constexpr int kSumBytes = 4 * kSumFloats;
    static constexpr int kSums = kOut + 4 * kOutWarp;  // stage st: cum at kSums + 2 st kSumBytes, dte after it
    static constexpr int kBars = kSums + 2 * kSumBytes * kStateSm90Stages;
    static constexpr int kBytes = kBars + 8 * kStateSm90Stages;
    static constexpr int kAlloc = kBytes + 1024;                  // + alignment slack
    static constexpr uint32_t kTx = 2 * kTile + 2 * kSumBytes;    // bytes a stage's copies deliver
    static_assert(kStage % 1024 == 0 && kOutWarp % 1024 == 0, "SW128 tiles need 1024-byte aligned bases");
    static_assert(kSumBytes % 16 == 0 && kSumBytes - 4 <= FK_SSD_CHUNK_SCAN_SUM_SLACK, "whole 16-byte units, reading at most the workspace's slack past a part");
};

// State blocks of 64 columns per head for NT padded state columns.
template <int NT> constexpr int state_blocks() { return NT / 64; }

// One CTA: blockIdx.x = (head, channel slice, state block), blockIdx.y = sequence. TMA maps
// (fk/tma_host.cuh, 128-byte swizzle): xmap x as [tokens][heads][head_dim] and bmap B as
// [tokens][groups][d_state], boxes of 64 x 1 x kQ; smap the workspace's states as [slots][heads]
// [head_dim][NT], boxes of 64 x 16 x 1 x 1. W: the workspace view of ssd_chunk_scan.cu.
template <typename T, int NT, typename W>
__global__ void __launch_bounds__(kStateSm90Threads, 2)
    state_sm90_kernel(const __grid_constant__ fk_ssd_chunk_scan_params p, const W ws, const __grid_constant__ CUtensorMap xmap,
                      const __grid_constant__ CUtensorMap bmap, const __grid_constant__ CUtensorMap smap) {
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
    using L = StateSm90Layout;
    using M = attn::MmaType<T>;
    using Ops = attn::WgmmaOps<T>;
    static_assert(kChunk == 128, "one token row per thread");
    extern __shared__ uint8_t smem_raw[];

    const int tid = threadIdx.x;
    const int slices = (p.head_dim + 63) / 64;
    const int nblk = blockIdx.x % state_blocks<NT>(), hp = blockIdx.x / state_blocks<NT>();
    const int h = hp / slices, pc = (hp % slices) * 64, n0 = nblk * 64, s = blockIdx.y;
    const int P = min(64, p.head_dim - pc), N = p.d_state, NV = min(64, N - n0);
    const int grp = h / (p.heads / p.ngroups);
    const int64_t start = p.cu_seqlens[s], end = p.cu_seqlens[s + 1];
    const int chunks = static_cast<int>((end - start + kChunk - 1) / kChunk);
    const int slot0 = static_cast<int>(start / kChunk + s);  // workspace slot of the first chunk

    const uint32_t base = (attn::smem_addr(smem_raw) + 1023u) & ~1023u;
    uint8_t* const base_ptr = smem_raw + (base - attn::smem_addr(smem_raw));
    auto stage = [&](int st) { return base + st * L::kStage; };
    auto stage_ptr = [&](int st) { return base_ptr + st * L::kStage; };
    auto full = [&](int st) { return base + L::kBars + 8 * st; };

    // Chunk c's copies, by one thread: the x and B boxes, then (after the pre-pass: the
    // caller's business) the running sums and steps of its tokens. Those come in by bulk copy
    // too, not by per-thread loads a chunk ahead: a fence.proxy.async (after the scaling and
    // in every publication) waits for every load the thread has in flight, and those loads
    // were a quarter of the pass's stall samples (run 146).
    const int64_t sums_h = static_cast<int64_t>(h) * p.tokens;  // head h's row of ws.cum / ws.dte
    auto sum_at = [&](int c) { return sums_h + start + static_cast<int64_t>(c) * kChunk; };
    auto sums_off = [&](int st) { return L::kSums + 2 * L::kSumBytes * st; };  // stage st's cum, then dte
    auto issue_boxes = [&](int c) {
        const int st = c % kStateSm90Stages, t0 = static_cast<int>(start) + c * kChunk;
        attn::mbar_arrive_expect_tx(full(st), L::kTx);
        attn::tma_load_3d(stage(st) + L::kX, &xmap, full(st), pc, h, t0);
        attn::tma_load_3d(stage(st) + L::kB, &bmap, full(st), n0, grp, t0);
    };
    auto issue_sums = [&](int c) {
        const int st = c % kStateSm90Stages;
        const int64_t a = sum_at(c) & ~int64_t{3};  // (the workspace has slack past the last row)
        attn::bulk_load(base + sums_off(st), ws.cum + a, L::kSumBytes, full(st));
        attn::bulk_load(base + sums_off(st) + L::kSumBytes, ws.dte + a, L::kSumBytes, full(st));
    };
    // This thread's token of chunk c: its running sum and step (0 past the end), and the
    // chunk's last running sum (its total decay), from stage st; `rows` of the chunk are the
    // sequence's.
    struct Sums {
        float cum, dte, last;
    };
    auto read_sums = [&](int c, int st, int rows) {
        const float* const cum = reinterpret_cast<const float*>(base_ptr + sums_off(st)) + (sum_at(c) & 3);
        const float* const dte = cum + L::kSumFloats;
        const bool in = tid < rows;
        return Sums{in ? cum[tid] : 0.f, in ? dte[tid] : 0.f, cum[rows - 1]};
    };

    if (tid == 0) {
        for (int st = 0; st < kStateSm90Stages; ++st) attn::mbar_init(full(st), 1);
        attn::mbar_init_fence();
    }
    __syncthreads();
    if (tid == 0)
        for (int c = 0; c < min(chunks, 2); ++c) issue_boxes(c);
    // Launched dependent on the sums pre-pass (programmatic dependent launch): the barriers and
    // the first boxes of x and B need nothing of it (the pre-pass itself started only after
    // every earlier kernel had finished); the sums, and everything read below, wait for it.
    fk::pdl_launch_dependents();
    fk::pdl_wait();
    if (tid == 0)
        for (int c = 0; c < min(chunks, 2); ++c) issue_sums(c);

    // Warp-uniform warp index (the compiler keeps what derives from it in uniform registers).
    const int wq = __shfl_sync(0xffffffffu, tid / 32, 0);
    const int lane = tid % 32, g = lane / 4, c4 = lane % 4;
    // The state, a wgmma m64n64 accumulator: element 4*nb + 2*r + e is channel
    // pc + 16*wq + g + 8*r, state column n0 + 8*nb + 2*c4 + e.
    float S[32];
    const int64_t state0 = ((static_cast<int64_t>(s) * p.heads + h) * p.head_dim + pc) * N;
    auto each_state = [&](auto&& f) {
#pragma unroll
        for (int nb = 0; nb < 8; ++nb)
#pragma unroll
            for (int r = 0; r < 2; ++r)
#pragma unroll
                for (int e = 0; e < 2; ++e) f(S[4 * nb + 2 * r + e], 16 * wq + g + 8 * r, 8 * nb + 2 * c4 + e);
    };
    each_state([&](float& v, int pp, int n) {
        v = p.initial_state && pp < P && n < NV ? p.initial_state[state0 + pp * N + n0 + n] : 0.f;
    });
    // This warp's staging rows: row g + 8r, pair c4 of chunk nb at chunk nb ^ g (SW128).
    const uint32_t out_warp = base + L::kOut + wq * L::kOutWarp;
    const WarpStoreTile tile{out_warp, g, c4};

    // Chunk c.
    auto step = [&](int c) {
        const int st = c % kStateSm90Stages;
        const int rows = rows_left(start + static_cast<int64_t>(c) * kChunk, end);
        attn::mbar_wait(full(st), (c / kStateSm90Stages) & 1);  // chunk c's copies have landed
        const Sums cur = read_sums(c, st, rows);

        // Row tid of x, scaled in place by w = exp2(cum_last - cum) dte and rounded once. Chunk
        // j of the row sits at chunk j ^ (tid % 8): a quarter-warp's 8 rows hit 8 different
        // 16-byte bank groups. Every load comes before the first store (interleaved, the
        // compiler would serialise them).
        uint8_t* const row = stage_ptr(st) + L::kX + tid * 128;
        if (tid < rows) {
            const float w = fk::ex2_ftz(cur.last - cur.cum) * cur.dte;
            uint4 v[8];
#pragma unroll
            for (int j = 0; j < 8; ++j) v[j] = *reinterpret_cast<const uint4*>(row + ((j ^ (tid % 8)) << 4));
#pragma unroll
            for (int j = 0; j < 8; ++j) {
                uint32_t* const w4 = reinterpret_cast<uint32_t*>(&v[j]);
#pragma unroll
                for (int k = 0; k < 4; ++k) {
                    const T* two = reinterpret_cast<const T*>(&w4[k]);
                    w4[k] = M::pack(w * fk::to_float(two[0]), w * fk::to_float(two[1]));
                }
            }
#pragma unroll
            for (int j = 0; j < 8; ++j) *reinterpret_cast<uint4*>(row + ((j ^ (tid % 8)) << 4)) = v[j];
        } else {  // another sequence's token (or TMA's zeros past the tensor): zeros in x and B
            uint8_t* const brow = stage_ptr(st) + L::kB + tid * 128;
#pragma unroll
            for (int j = 0; j < 8; ++j) {
                *reinterpret_cast<uint4*>(row + j * 16) = make_uint4(0u, 0u, 0u, 0u);
                *reinterpret_cast<uint4*>(brow + j * 16) = make_uint4(0u, 0u, 0u, 0u);
            }
        }
        attn::fence_proxy_async();  // the generic-proxy writes above, before wgmma reads them

        // The state entering chunk c (chunk c - 1's product done), rounded for the output pass;
        // then its decay over chunk c.
        attn::wgmma_wait<0>();
        attn::reg_fence(S);
        uint32_t sin[16];
#pragma unroll
        for (int i = 0; i < 16; ++i) sin[i] = M::pack(S[2 * i], S[2 * i + 1]);
        const float decay = fk::ex2_ftz(cur.last);
#pragma unroll
        for (int i = 0; i < 32; ++i) S[i] *= decay;
        __syncthreads();  // w*x of chunk c is whole; stage (c - 1) % 3 is free
        if (tid == 0 && c + 2 < chunks) {
            issue_boxes(c + 2);
            issue_sums(c + 2);
        }

        // S += (w x)^T B: K = the chunk's tokens, 16 per wgmma (16 rows x 128 B = 2048 bytes).
        {
            const uint64_t adesc = attn::sw128_desc(stage(st) + L::kX, kChunk * 128, 1024);
            const uint64_t bdesc = attn::sw128_desc(stage(st) + L::kB, kChunk * 128, 1024);
            attn::reg_fence(S);
            attn::wgmma_fence();
#pragma unroll
            for (int kk = 0; kk < kChunk / 16; ++kk) Ops::mn64(S, adesc + ((kk * 2048) >> 4), bdesc + ((kk * 2048) >> 4), 1);
            attn::wgmma_commit();
        }

        // Publish S_in(c) while the product runs: this warp's 16 rows into its staging tile
        // (once its previous store has read it), then one TMA store of them (rows past the
        // head's channels are not written; columns past d_state are zeros, see the head).
        tile.acquire(lane);
#pragma unroll
        for (int r = 0; r < 2; ++r)
#pragma unroll
            for (int nb = 0; nb < 8; ++nb) tile.put(r, nb, sin[2 * nb + r]);
        tile.publish(lane, [&] { attn::tma_store_4d(&smap, out_warp, n0, pc + 16 * wq, h, slot0 + c); });
    };
    for (int c = 0; c < chunks; ++c) step(c);
    attn::wgmma_wait<0>();
    attn::reg_fence(S);
    if (lane == 0) attn::bulk_wait_group<0>();  // the stores are done before the CTA leaves

    if (p.final_state) {
        each_state([&](float& v, int pp, int n) {
            if (pp < P && n < NV) p.final_state[state0 + pp * N + n0 + n] = v;
        });
    }
#endif
}

}  // namespace ssd
}  // namespace fk
