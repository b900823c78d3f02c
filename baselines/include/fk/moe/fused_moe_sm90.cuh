// The grouped expert GEMM behind kernels/fused_moe.cu on Hopper (sm_90a): wgmma from
// 128-byte-swizzled shared tiles, for blocks of 64 or 128 token slots (the prefill and
// large-batch cases, where the mma.sync kernel of fused_moe_sm80.cuh tops out near a quarter
// of cuBLAS because mma.sync cannot feed Hopper's tensor cores).
//
// One CTA = one block of BM = 64 WM slots of sorted_token_ids (one expert) x one tile of 256
// weight rows, three warpgroups, warp-specialised as the prefill attention kernel is (same
// building blocks, fk/attention/sm90_sync.cuh):
//   warpgroup 0 (producer, few registers): walks K in 64-wide steps and fills a ring of
//     STAGES shared stages, each an A tile [BM slots, 64] gathered row by row from
//     a[slot / a_rows_per_slot] with 16-byte cp.async (TMA cannot gather rows; padding slots
//     are zero-filled) and a B tile [256 weight rows, 64] of the expert's weight as four TMA
//     boxes of 64 rows (one thread issues them). Both complete the stage's "full" mbarrier
//     (cp.async arrivals + TMA transaction bytes), so the producer only ever waits for a
//     stage to be freed. Why TMA for B: with cp.async for both tiles the one producer
//     warpgroup's copy instructions capped the kernel near 330 TFLOP/s (run 13, 42 % of
//     cuBLAS); B is most of the bytes and a plain 3-D tensor [E, n_w, K].
//   warpgroups 1, 2 (consumers): m64n128k16 wgmma (A and B K-major from shared memory), one
//     wgmma group kept in flight: a stage is released as soon as the next has been issued
//     and it has retired.
//     WM = 2 (BM 128, prefill): consumer w owns slots 64w.. and all 256 B rows (two n128
//       accumulators).
//     WM = 1 (BM 64, mid-size batches): both consumers share the 64 slots, consumer w owns
//       B rows 128w .. 128w + 127 (one accumulator): the tile stays 256 rows wide, so each
//       CTA still streams enough weight bytes, with half the padding rows of BM 128.
// gate_up (SILU): a consumer's B rows are its gate rows followed by the up rows of the same
// columns (w13 rows n and I + n), so gate and up of one output element sit in the same thread:
// silu(gate) * up is formed in registers and only [slots, I] is written. down (!SILU): 256
// output columns, scaled by the slot's routing weight. The epilogue stores 4-byte pairs
// straight from the accumulator layout; the output is small next to the K loop.
#pragma once
#include <cuda.h>  // CUtensorMap

#include "fk/attention/sm80_mma.cuh"
#include "fk/attention/sm90_sync.cuh"
#include "fk/attention/sm90_wgmma_ops.cuh"
#include "fk/common.cuh"
#include "fk/moe/fused_moe_sm80.cuh"
#include "fk/ops/fused_moe.h"

namespace fk {
namespace moe {
namespace {

template <int WM_> struct Sm90Cfg {
    static constexpr int WM = WM_, BM = 64 * WM, BN = 256, BK = 64, THREADS = 384;
    static constexpr int STAGES = WM == 2 ? 4 : 5;  // as many as fit next to the tiles
    static constexpr int BOX_ROWS = 64;             // TMA box of B: 64 (K) x 64 rows, 8 KB
    static constexpr int A_BYTES = BM * BK * 2, B_BYTES = BN * BK * 2;
    static constexpr int STAGE_BYTES = A_BYTES + B_BYTES;     // a multiple of 1024
    static constexpr int SMEM = 1024 + STAGES * STAGE_BYTES;  // + slack to 1024-align the ring
    // 128 x 56 + 256 x 224 = 384 x 168 registers: what __launch_bounds__(384, 1) gives the CTA.
    static constexpr int PRODUCER_REGS = 56, CONSUMER_REGS = 224;
    static_assert(STAGES * STAGE_BYTES + 1024 <= 227 * 1024, "shared memory");
};

// First weight row (within the expert) of TMA box j (0..3) of the B tile at column n0.
template <int WM, bool SILU> __device__ __forceinline__ int box_row(int j, int64_t n0, int64_t N) {
    if constexpr (!SILU) return static_cast<int>(n0 + 64 * j);
    // WM 2: boxes gate, gate, up, up (consumers share all 256 rows: acc 0 gate, acc 1 up).
    // WM 1: boxes gate, up (consumer 0's 64 columns), gate, up (consumer 1's).
    const bool up = WM == 2 ? j >= 2 : (j & 1) != 0;
    const int col = WM == 2 ? 64 * (j & 1) : 64 * (j >> 1);
    return static_cast<int>((up ? N : 0) + n0 + col);
}

// `wmap`: the weight as a 3-D tensor (K, n_w, E), box (64, 64, 1), 128-byte swizzle (what the
// launcher encodes); rows past n_w of an expert are zero-filled by TMA, and a gate box reaching
// past N reads up rows whose products land in columns the epilogue never stores.
template <typename T, bool SILU, int WM>
__global__ void __launch_bounds__(384, 1)
    fused_moe_sm90_kernel(const __grid_constant__ fk_fused_moe_params p, const __grid_constant__ CUtensorMap wmap) {
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
    using C = Sm90Cfg<WM>;
    using M = attn::MmaType<T>;
    constexpr int NH = WM;  // n128 accumulators per consumer
    extern __shared__ uint8_t smem_raw[];
    __shared__ int s_arow[C::BM];  // row of a, or -1 for padding
    __shared__ int s_slot[C::BM];  // output row (slot), or -1
    __shared__ __align__(8) uint64_t bars[2 * C::STAGES];
    pdl_grid_sync();
    const int tid = threadIdx.x;
    const int64_t m0 = int64_t(blockIdx.x) * C::BM;
    const int64_t post = *p.num_tokens_post_padded;
    if (m0 >= post) return;
    const int expert = p.expert_ids[m0 / p.block_size];
    if (expert < 0 || expert >= p.num_experts) return;

    const int64_t N = p.n, K = p.k;
    constexpr int COLS = SILU ? C::BN / 2 : C::BN;  // output columns per CTA
    const int64_t n0 = int64_t(blockIdx.y) * COLS;
    for (int r = tid; r < C::BM; r += C::THREADS) {
        const int64_t row = m0 + r;
        const int s = row < post && row < p.em_capacity ? p.sorted_token_ids[row] : -1;
        const bool ok = s >= 0 && s < p.num_slots;
        s_slot[r] = ok ? s : -1;
        s_arow[r] = ok ? s / p.a_rows_per_slot : -1;
    }
    const uint32_t ring = (attn::smem_addr(smem_raw) + 1023u) & ~1023u;
    auto full = [&](int st) { return attn::smem_addr(&bars[st]); };
    auto empty = [&](int st) { return attn::smem_addr(&bars[C::STAGES + st]); };
    if (tid == 0) {
        for (int st = 0; st < C::STAGES; ++st) {
            attn::mbar_init(full(st), 129);  // a cp.async arrival per producer thread + the TMA issuer's
            attn::mbar_init(empty(st), 8);   // one arrival per consumer warp
        }
        attn::mbar_init_fence();
    }
    __syncthreads();

    const int ktiles = static_cast<int>((K + C::BK - 1) / C::BK);
    const int wg = tid / 128, t = tid % 128;
    if (wg == 0) {
        // ---------------- producer ----------------
        attn::setmaxnreg_dec<C::PRODUCER_REGS>();
        const T* A = static_cast<const T*>(p.a);
        const int c = t % 8, r0 = t / 8;  // this thread's 16-byte chunk and first row (16 rows a pass)
        if (t == 0) asm volatile("prefetch.tensormap [%0];" ::"l"(reinterpret_cast<uint64_t>(&wmap)) : "memory");
        for (int kt = 0; kt < ktiles; ++kt) {
            const int st = kt % C::STAGES;
            attn::mbar_wait(empty(st), ((kt / C::STAGES) & 1) ^ 1);
            const uint32_t sa = ring + st * C::STAGE_BYTES, sb = sa + C::A_BYTES;
            if (t == 0) {
                attn::mbar_arrive_expect_tx(full(st), C::B_BYTES);
#pragma unroll
                for (int j = 0; j < C::BN / C::BOX_ROWS; ++j)
                    attn::tma_load_3d(sb + j * C::BOX_ROWS * 128, &wmap, full(st), kt * C::BK, box_row<WM, SILU>(j, n0, N), expert);
            }
            const int64_t kk = int64_t(kt) * C::BK + c * 8;
            const bool kin = kk < K;
#pragma unroll
            for (int i = 0; i < C::BM / 16; ++i) {
                const int r = r0 + 16 * i, ar = s_arow[r];
                const bool ok = kin && ar >= 0;
                attn::cp_async16(sa + attn::sw128_offset<C::BM>(r, c), ok ? A + ar * p.a_stride + kk : A, ok);
            }
            attn::cp_async_arrive_noinc(full(st));
        }
        attn::cp_async_wait_all();
    } else {
        // ---------------- consumers ----------------
        attn::setmaxnreg_inc<C::CONSUMER_REGS>();
        const int w = wg - 1, warp = t / 32, lane = t % 32;
        float acc[NH][64];
#pragma unroll
        for (int h = 0; h < NH; ++h)
#pragma unroll
            for (int i = 0; i < 64; ++i) acc[h][i] = 0.f;
        // K-major SW128 descriptors (sbo = 8 rows x 128 B). WM 2: this consumer's 64 A rows
        // start 64 x 128 B into the A tile and it reads both 128-row halves of B; WM 1: both
        // read A from row 0 and consumer w its own B half. A k16 step is 32 bytes along the row.
        const int a_row = WM == 2 ? 64 * w : 0, b_row = WM == 2 ? 0 : 128 * w;
        const uint64_t a0 = attn::sw128_desc(ring + a_row * 128, 16, 1024);
        const uint64_t b0 = attn::sw128_desc(ring + C::A_BYTES + b_row * 128, 16, 1024);
        constexpr uint64_t STAGE = C::STAGE_BYTES >> 4, B_HALF = (128 * 128) >> 4;
        for (int kt = 0; kt < ktiles; ++kt) {
            const int st = kt % C::STAGES;
            attn::mbar_wait(full(st), (kt / C::STAGES) & 1);
            attn::fence_proxy_async();
#pragma unroll
            for (int h = 0; h < NH; ++h) attn::reg_fence(acc[h]);
            attn::wgmma_fence();
            const uint64_t da = a0 + st * STAGE, db = b0 + st * STAGE;
#pragma unroll
            for (int k16 = 0; k16 < C::BK / 16; ++k16)
#pragma unroll
                for (int h = 0; h < NH; ++h) attn::WgmmaOps<T>::ss128(acc[h], da + 2 * k16, db + h * B_HALF + 2 * k16, 1);
            attn::wgmma_commit();
            // Step kt-1 has retired (only kt may still run): its stage goes back to the producer.
            attn::wgmma_wait<1>();
#pragma unroll
            for (int h = 0; h < NH; ++h) attn::reg_fence(acc[h]);
            if (kt > 0 && lane == 0) attn::mbar_arrive(empty((kt - 1) % C::STAGES));
        }
        attn::wgmma_wait<0>();
#pragma unroll
        for (int h = 0; h < NH; ++h) attn::reg_fence(acc[h]);

        // Accumulator layout (m64n128): acc[h][4i + e] is row 16 warp + lane/4 (+8 for e >= 2),
        // column 8i + 2 (lane % 4) + (e & 1) of the h-th 128 B rows this consumer reads.
        // Output columns: gate_up WM 2: 8i (gate acc 0, up acc 1, 16 blocks); gate_up WM 1:
        // 64w + 8i (gate i < 8, up i + 8); down: 128 (WM 2 ? h : w) + 8i.
        T* out = static_cast<T*>(p.out);
        const int g = lane / 4, c2 = 2 * (lane % 4);
#pragma unroll
        for (int r = 0; r < 2; ++r) {
            const int slot = s_slot[a_row + warp * 16 + g + 8 * r];
            if (slot < 0) continue;
            T* orow = out + int64_t(slot) * p.out_stride;
            if constexpr (SILU) {
                constexpr int BLOCKS = WM == 2 ? 16 : 8;  // n8 output blocks per consumer
#pragma unroll
                for (int i = 0; i < BLOCKS; ++i) {
                    const int64_t col = n0 + (WM == 2 ? 0 : 64 * w) + 8 * i + c2;
                    if (col >= N) continue;
                    const float* gate = &acc[0][4 * i + 2 * r];
                    const float* up = WM == 2 ? &acc[NH - 1][4 * i + 2 * r] : &acc[0][4 * (i + 8) + 2 * r];
                    *reinterpret_cast<uint32_t*>(orow + col) = M::pack(silu_mul<T>(gate[0], up[0]), silu_mul<T>(gate[1], up[1]));
                }
            } else {
                const float rw = p.topk_weights != nullptr ? p.topk_weights[slot] : 1.f;
#pragma unroll
                for (int h = 0; h < NH; ++h)
#pragma unroll
                    for (int i = 0; i < 16; ++i) {
                        const int64_t col = n0 + 128 * (WM == 2 ? h : w) + 8 * i + c2;
                        if (col >= N) continue;
                        *reinterpret_cast<uint32_t*>(orow + col) = M::pack(acc[h][4 * i + 2 * r] * rw, acc[h][4 * i + 2 * r + 1] * rw);
                    }
            }
        }
    }
#endif
}

}  // namespace
}  // namespace moe
}  // namespace fk
