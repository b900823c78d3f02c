// The grouped expert GEMM behind kernels/fused_moe.cu on Hopper (sm_90a): wgmma from
// 128-byte-swizzled shared tiles, for blocks of 64 or 128 token slots (on sm_90a every batch
// size: ops::fused_moe_block_size picks 64 up to ~96 slots per expert, 128 above). The
// mma.sync kernel of fused_moe_sm80.cuh tops out near a quarter of cuBLAS at prefill (it cannot
// feed Hopper's tensor cores) and at 27-70 % of copy bandwidth at decode.
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
//   warpgroups 1, 2 (consumers): wgmma (A and B K-major from shared memory), one wgmma
//     group kept in flight: a stage is released as soon as the next has been issued and it
//     has retired.
//     WM = 2 (BM 128, prefill): consumer w owns slots 64w.. and all 256 B rows: one m64n256k16
//       per k16 step (two m64n128 would read its A rows from shared memory twice). When its
//       64 rows are all padding (a block's tail: an expert's count just past a multiple of
//       128) it only hands the stages back. Run 41 against run 14 (H200): 1024 tokens gate_up
//       451.7 -> 459.5 TFLOP/s, down 390.6 -> 414.8; 4096 tokens 533.5 -> 533.7, 513.4 -> 523.0.
//       A BM 128 x BN 128 tile (more CTAs, for the down GEMM's 2.4 waves at 1024 tokens) lost
//       everywhere in the same call (300-355 TFLOP/s): the tile's A re-reads cost more. So did
//       pairs of same-expert CTAs in a cluster sharing B by TMA multicast (run 42: 1024 tokens
//       gate_up 458 -> 405 TFLOP/s, 4096 533 -> 474): L2 bandwidth is not what holds this
//       kernel at ~70 % of cuBLAS, and the pairs' cross-CTA stage release costs.
//     WM = 1 (BM 64, decode and mid-size batches): both consumers share the 64 slots, consumer
//       w owns B rows 128w .. 128w + 127 (m64n128k16): the tile stays 256 rows wide, so each
//       CTA streams enough weight bytes, with half the padding rows of BM 128. Five 40 KB
//       stages keep ~200 KB per SM in flight: the touched experts stream at 3.4-4.1 TB/s from
//       2 to 128 tokens on the H200 (run 41).
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
    // A consumer's accumulator: its 64 rows x all 256 B rows (BM 128) or x its 128 (BM 64).
    static constexpr int ACC = WM == 2 ? 128 : 64;
    // 128 x 56 + 256 x 224 = 384 x 168 registers: what __launch_bounds__(384, 1) gives the CTA.
    static constexpr int PRODUCER_REGS = 56, CONSUMER_REGS = 224;
    static_assert(STAGES * STAGE_BYTES + 1024 <= 227 * 1024, "shared memory");
};

// First weight row (within the expert) of TMA box j (0..3) of the B tile at column n0.
template <int WM, bool SILU> __device__ __forceinline__ int box_row(int j, int64_t n0, int64_t N) {
    if constexpr (!SILU) return static_cast<int>(n0 + 64 * j);
    // WM 2: boxes gate, gate, up, up (both consumers read all 256 rows: the first half of a
    // consumer's accumulator is gate, the second up). WM 1: boxes gate, up (consumer 0's 64
    // columns), gate, up (consumer 1's).
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
        // K-major SW128 descriptors (sbo = 8 rows x 128 B). BM 128: this consumer's 64 A rows
        // start 64 x 128 B into the A tile and it reads all 256 B rows in one m64n256
        // instruction; BM 64: both read A from row 0 and consumer w its own 128 B rows
        // (m64n128). A k16 step is 32 bytes along the row.
        const int a_row = WM == 2 ? 64 * w : 0, b_row = WM == 2 ? 0 : 128 * w;
        // Padding rows trail a block, so at BM 128 a block's last 64 rows are often all
        // padding (an expert's count past a multiple of 128 by at most 64): that consumer
        // only hands the stages back. Its tensor-core time goes to the other consumer.
        bool idle = WM == 2;
        for (int r = 0; r < 64 && idle; ++r) idle = s_slot[a_row + r] < 0;
        if (idle) {
            for (int kt = 0; kt < ktiles; ++kt) {
                const int st = kt % C::STAGES;
                attn::mbar_wait(full(st), (kt / C::STAGES) & 1);
                if (lane == 0) attn::mbar_arrive(empty(st));
            }
            return;
        }
        float acc[C::ACC];
#pragma unroll
        for (int i = 0; i < C::ACC; ++i) acc[i] = 0.f;
        const uint64_t a0 = attn::sw128_desc(ring + a_row * 128, 16, 1024);
        const uint64_t b0 = attn::sw128_desc(ring + C::A_BYTES + b_row * 128, 16, 1024);
        constexpr uint64_t STAGE = C::STAGE_BYTES >> 4;
        for (int kt = 0; kt < ktiles; ++kt) {
            const int st = kt % C::STAGES;
            attn::mbar_wait(full(st), (kt / C::STAGES) & 1);
            attn::fence_proxy_async();
            attn::reg_fence(acc);
            attn::wgmma_fence();
            const uint64_t da = a0 + st * STAGE, db = b0 + st * STAGE;
#pragma unroll
            for (int k16 = 0; k16 < C::BK / 16; ++k16) {
                if constexpr (C::ACC == 128) attn::WgmmaOps<T>::ss256(acc, da + 2 * k16, db + 2 * k16, 1);
                else attn::WgmmaOps<T>::ss128(acc, da + 2 * k16, db + 2 * k16, 1);
            }
            attn::wgmma_commit();
            // Step kt-1 has retired (only kt may still run): its stage goes back to the producer.
            attn::wgmma_wait<1>();
            attn::reg_fence(acc);
            if (kt > 0 && lane == 0) attn::mbar_arrive(empty((kt - 1) % C::STAGES));
        }
        attn::wgmma_wait<0>();
        attn::reg_fence(acc);

        // Accumulator layout (m64nN): acc[4i + e] is row 16 warp + lane/4 (+8 for e >= 2),
        // column 8i + 2 (lane % 4) + (e & 1) of the B rows this consumer read, CB n8 blocks.
        // gate_up: the first CB/2 blocks are gate, the rest the up rows of the same columns;
        // the consumer's output columns start at n0 + base (BM 64: its half of the tile).
        constexpr int CB = C::ACC / 4;
        const int64_t base = WM == 2 ? 0 : (SILU ? 64 : 128) * w;
        T* out = static_cast<T*>(p.out);
        const int g = lane / 4, c2 = 2 * (lane % 4);
#pragma unroll
        for (int r = 0; r < 2; ++r) {
            const int slot = s_slot[a_row + warp * 16 + g + 8 * r];
            if (slot < 0) continue;
            T* orow = out + int64_t(slot) * p.out_stride;
            if constexpr (SILU) {
#pragma unroll
                for (int i = 0; i < CB / 2; ++i) {
                    const int64_t col = n0 + base + 8 * i + c2;
                    if (col >= N) continue;
                    const float* gate = &acc[4 * i + 2 * r];
                    const float* up = &acc[4 * (i + CB / 2) + 2 * r];
                    *reinterpret_cast<uint32_t*>(orow + col) = M::pack(silu_mul<T>(gate[0], up[0]), silu_mul<T>(gate[1], up[1]));
                }
            } else {
                const float rw = p.topk_weights != nullptr ? p.topk_weights[slot] : 1.f;
#pragma unroll
                for (int i = 0; i < CB; ++i) {
                    const int64_t col = n0 + base + 8 * i + c2;
                    if (col >= N) continue;
                    *reinterpret_cast<uint32_t*>(orow + col) = M::pack(acc[4 * i + 2 * r] * rw, acc[4 * i + 2 * r + 1] * rw);
                }
            }
        }
    }
#endif
}

}  // namespace
}  // namespace moe
}  // namespace fk
