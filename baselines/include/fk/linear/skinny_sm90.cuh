// The decode-time linear layer for 2..64 rows on Hopper (sm_90a), behind kernels/skinny_gemm.cu.
//
// With a decode batch of up to 64 tokens the layer is still one pass over the weight: the
// roofline is the copy bandwidth. What keeps cuBLAS from it at these shapes (run 7: o_proj
// [4096, 4096] at 32 rows 19 µs = 42 % of copy) is parallelism: a weight with 4096 rows gives a
// 128-row-tile GEMM only 32 CTAs for 132 SMs. Here the product is computed transposed,
// out^T [n, rows] = W [n, k] . x^T, so the weight rows are wgmma's M (64 per CTA) and the
// tokens its N (one m64n64k16 shape for any row count: rows past `rows` are zero-filled by
// TMA and cost no memory traffic), and k is split across the CTAs of a thread-block cluster
// (S = 1, 2, 4 or 8) so that every SM streams. The partial tiles are summed through
// distributed shared memory in a fixed rank order: no workspace, no atomics, the same bits
// on every run and for a row alone as inside a batch with the same split.
//
// A CTA is one consumer warpgroup (warps 0-3, wgmma) and one producer warp (warp 4, one
// thread issues TMA): STAGES stages of a weight box [64 rows, 64 k] and an x box [64 rows,
// 64 k], both 128-byte swizzled (the SW128 layout the descriptors read). The weight does not
// depend on the previous kernel, so the producer issues the first STAGES weight boxes before
// waiting on it (programmatic dependent launch): in a decode step the next layer's weight
// starts streaming while the small kernels in between still run.
#pragma once
#include <cooperative_groups.h>
#include <cuda.h>  // CUtensorMap

#include "fk/attention/sm80_mma.cuh"
#include "fk/attention/sm90_sync.cuh"
#include "fk/attention/sm90_wgmma_ops.cuh"
#include "fk/common.cuh"
#include "fk/ops/skinny_gemm.h"

namespace fk {
namespace skinny {
namespace {

struct Sm90Cfg {
    static constexpr int ROWS = 64, BK = 64, STAGES = 4, THREADS = 160;
    static constexpr int W_BYTES = ROWS * BK * 2, X_BYTES = 64 * BK * 2;
    static constexpr int STAGE_BYTES = W_BYTES + X_BYTES;     // 16 KB
    static constexpr int SMEM = 1024 + STAGES * STAGE_BYTES;  // + slack to 1024-align the ring
    // The fp32 partial tile [64 weight rows][64 tokens] reuses the ring after the k loop.
    static_assert(STAGES * STAGE_BYTES >= 64 * 64 * 4, "partial tile fits the ring");
};

// wmap: weight (k, n), xmap: x (k, rows) with x's row stride; both box (64, 64), SW128.
template <typename T>
__global__ void __launch_bounds__(Sm90Cfg::THREADS, 1) skinny_sm90_kernel(const __grid_constant__ fk_skinny_gemm_params p,
                                                                         const __grid_constant__ CUtensorMap wmap,
                                                                         const __grid_constant__ CUtensorMap xmap, int k_tiles_per_split) {
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
    using C = Sm90Cfg;
    namespace cg = cooperative_groups;
    const cg::cluster_group cluster = cg::this_cluster();
    const int S = static_cast<int>(cluster.num_blocks()), rank = static_cast<int>(cluster.block_rank());
    extern __shared__ uint8_t smem_raw[];
    __shared__ __align__(8) uint64_t bars[2 * C::STAGES];
    const int tid = threadIdx.x;
    const int n0 = static_cast<int>(blockIdx.x / S) * C::ROWS;
    const int ktiles = static_cast<int>((p.k + C::BK - 1) / C::BK);
    const int kt0 = min(rank * k_tiles_per_split, ktiles), kt1 = min(kt0 + k_tiles_per_split, ktiles);
    const int nk = kt1 - kt0;  // may be 0 for the last ranks: they still join the reduction
    const uint32_t ring = (attn::smem_addr(smem_raw) + 1023u) & ~1023u;
    auto full = [&](int st) { return attn::smem_addr(&bars[st]); };
    auto empty = [&](int st) { return attn::smem_addr(&bars[C::STAGES + st]); };
    if (tid == 0) {
        for (int st = 0; st < C::STAGES; ++st) {
            attn::mbar_init(full(st), 1);   // the producer's arrive.expect_tx
            attn::mbar_init(empty(st), 4);  // one arrival per consumer warp
        }
        attn::mbar_init_fence();
    }
    __syncthreads();

    float acc[32];
#pragma unroll
    for (int i = 0; i < 32; ++i) acc[i] = 0.f;
    if (tid >= 128) {
        // ---------------- producer (one thread) ----------------
        if (tid == 128) {
            asm volatile("prefetch.tensormap [%0];" ::"l"(reinterpret_cast<uint64_t>(&wmap)) : "memory");
            // Weight boxes of the first stages before the wait on the previous kernel.
            const int pre = min(nk, C::STAGES);
            for (int i = 0; i < pre; ++i) {
                attn::mbar_expect_tx(full(i), C::W_BYTES);
                attn::tma_load_2d(ring + i * C::STAGE_BYTES, &wmap, full(i), (kt0 + i) * C::BK, n0);
            }
            pdl_grid_sync();
            for (int i = 0; i < nk; ++i) {
                const int st = i % C::STAGES;
                const uint32_t sw = ring + st * C::STAGE_BYTES, sx = sw + C::W_BYTES;
                if (i >= C::STAGES) {
                    attn::mbar_wait(empty(st), ((i / C::STAGES) & 1) ^ 1);
                    attn::mbar_expect_tx(full(st), C::W_BYTES);
                    attn::tma_load_2d(sw, &wmap, full(st), (kt0 + i) * C::BK, n0);
                }
                attn::mbar_arrive_expect_tx(full(st), C::X_BYTES);
                attn::tma_load_2d(sx, &xmap, full(st), (kt0 + i) * C::BK, 0);
            }
        } else {
            pdl_grid_sync();
        }
    } else {
        // ---------------- consumer warpgroup ----------------
        pdl_grid_sync();  // `out` may still be read by the previous kernel
        const int lane = tid % 32;
        const uint64_t w0 = attn::sw128_desc(ring, 16, 1024), x0 = attn::sw128_desc(ring + C::W_BYTES, 16, 1024);
        constexpr uint64_t STAGE = C::STAGE_BYTES >> 4;
        for (int i = 0; i < nk; ++i) {
            const int st = i % C::STAGES;
            attn::mbar_wait(full(st), (i / C::STAGES) & 1);
            attn::reg_fence(acc);
            attn::wgmma_fence();
#pragma unroll
            for (int k16 = 0; k16 < C::BK / 16; ++k16) attn::WgmmaOps<T>::ss64(acc, w0 + st * STAGE + 2 * k16, x0 + st * STAGE + 2 * k16, 1);
            attn::wgmma_commit();
            attn::wgmma_wait<1>();
            attn::reg_fence(acc);
            if (i > 0 && lane == 0) attn::mbar_arrive(empty((i - 1) % C::STAGES));
        }
        attn::wgmma_wait<0>();
        attn::reg_fence(acc);
    }

    // acc[4j + e]: weight row n0 + 16 warp + lane/4 (+8 for e >= 2), token 8j + 2 (lane % 4) + (e & 1).
    const int warp = tid / 32, lane = tid % 32;
    const int nrow = 16 * warp + lane / 4, tcol = 2 * (lane % 4);
    T* out = static_cast<T*>(p.out);
    const T* bias = static_cast<const T*>(p.bias);
    const int rows = static_cast<int>(p.rows);
    auto store = [&](int nl, int tok, float v) {
        const int64_t n = int64_t(n0) + nl;
        if (n < p.n && tok < rows) out[int64_t(tok) * p.out_stride + n] = from_float<T>(v + (bias != nullptr ? to_float(bias[n]) : 0.f));
    };
    if (S == 1) {
        if (tid < 128)
#pragma unroll
            for (int j = 0; j < 8; ++j)
#pragma unroll
                for (int e = 0; e < 4; ++e) store(nrow + 8 * (e >> 1), 8 * j + tcol + (e & 1), acc[4 * j + e]);
        return;
    }
    // Split k: every rank parks its partial tile [64 tokens][64 n] in its ring (all of its
    // loads have landed and been consumed), then rank r sums its share of the tile's
    // (token, n) entries over ranks 0 .. S-1 in that order and writes them (n fastest:
    // coalesced remote reads and global stores).
    float* part = reinterpret_cast<float*>(smem_raw + (ring - attn::smem_addr(smem_raw)));
    if (tid < 128)
#pragma unroll
        for (int j = 0; j < 8; ++j)
#pragma unroll
            for (int e = 0; e < 4; ++e) part[(8 * j + tcol + (e & 1)) * 64 + nrow + 8 * (e >> 1)] = acc[4 * j + e];
    cluster.sync();
    const int total = rows * 64, per = (total + S - 1) / S;
    for (int idx = rank * per + tid; idx < min(total, (rank + 1) * per); idx += C::THREADS) {
        float s = 0.f;
        for (int q = 0; q < S; ++q) s += cluster.map_shared_rank(part, q)[idx];
        store(idx % 64, idx / 64, s);
    }
    cluster.sync();  // the other ranks' partials stay readable until every rank is done
#endif
}

}  // namespace
}  // namespace skinny
}  // namespace fk
