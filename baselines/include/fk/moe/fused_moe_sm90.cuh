// The grouped expert GEMM behind kernels/fused_moe.cu on Hopper (sm_90a): wgmma from
// 128-byte-swizzled shared tiles, for blocks of 128 token slots (block_size % 128 == 0: the
// prefill / large-batch case, where the mma.sync kernel of fused_moe_sm80.cuh tops out near a
// quarter of cuBLAS because mma.sync cannot feed Hopper's tensor cores).
//
// One CTA = one 128-slot block of sorted_token_ids (one expert) x one tile of 256 weight rows,
// three warpgroups, warp-specialised as the prefill attention kernel is (same building blocks,
// fk/attention/sm90_sync.cuh):
//   warpgroup 0 (producer, few registers): walks K in 64-wide steps and fills a ring of
//     STAGES shared stages, each an A tile [128 slots, 64] gathered row by row from
//     a[slot / a_rows_per_slot] (TMA cannot gather rows; padding slots are zero-filled) and a
//     B tile [256 weight rows, 64] of the expert's weight, all with 16-byte cp.async whose
//     completion arrives on the stage's "full" mbarrier, so the producer only ever waits for
//     a stage to be freed.
//   warpgroups 1, 2 (consumers, 64 slots each): per stage 4 k16 steps x two m64n128k16 wgmma
//     (A and B both K-major from shared memory), one wgmma group kept in flight: the stage of
//     step kt-1 is released as soon as step kt has been issued and kt-1 has retired.
// gate_up (SILU): the 256 B rows are 128 gate rows (w13 rows n0..) and the 128 up rows of the
// same columns (w13 rows I + n0..), so accumulator half 0 holds gate and half 1 holds up of
// the same output element in the same thread: silu(gate) * up is formed in registers and only
// [slots, I] is written. down (!SILU): 256 output columns, scaled by the slot's routing weight.
// The epilogue stores 4-byte pairs straight from the wgmma accumulator layout; the output is
// small next to the K loop (K >= 4096 at the shapes this path is for).
#pragma once
#include "fk/attention/sm80_mma.cuh"
#include "fk/attention/sm90_sync.cuh"
#include "fk/attention/sm90_wgmma_ops.cuh"
#include "fk/common.cuh"
#include "fk/moe/fused_moe_sm80.cuh"
#include "fk/ops/fused_moe.h"

namespace fk {
namespace moe {
namespace {

struct Sm90Cfg {
    static constexpr int BM = 128, BN = 256, BK = 64, STAGES = 4, THREADS = 384;
    static constexpr int A_BYTES = BM * BK * 2, B_BYTES = BN * BK * 2;
    static constexpr int STAGE_BYTES = A_BYTES + B_BYTES;  // 48 KB; a multiple of 1024
    static constexpr int SMEM = 1024 + STAGES * STAGE_BYTES;  // + slack to 1024-align the ring
    // 128 x 56 + 256 x 224 = 384 x 168 registers: what __launch_bounds__(384, 1) gives the CTA.
    static constexpr int PRODUCER_REGS = 56, CONSUMER_REGS = 224;
};

template <typename T, bool SILU>
__global__ void __launch_bounds__(Sm90Cfg::THREADS, 1) fused_moe_sm90_kernel(const __grid_constant__ fk_fused_moe_params p) {
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
    using C = Sm90Cfg;
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
            attn::mbar_init(full(st), 128);  // one cp.async arrival per producer thread
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
        const T* W = static_cast<const T*>(p.weight) + int64_t(expert) * (SILU ? 2 * N : N) * K;
        const int c = t % 8, r0 = t / 8;  // this thread's 16-byte chunk and first row (16 rows a pass)
        // Weight rows this thread copies, fixed over K: row r0 + 16 i of the B tile.
        for (int kt = 0; kt < ktiles; ++kt) {
            const int st = kt % C::STAGES;
            attn::mbar_wait(empty(st), ((kt / C::STAGES) & 1) ^ 1);
            const uint32_t sa = ring + st * C::STAGE_BYTES, sb = sa + C::A_BYTES;
            const int64_t kk = int64_t(kt) * C::BK + c * 8;
            const bool kin = kk < K;
#pragma unroll
            for (int i = 0; i < C::BM / 16; ++i) {
                const int r = r0 + 16 * i, ar = s_arow[r];
                const bool ok = kin && ar >= 0;
                attn::cp_async16(sa + attn::sw128_offset<C::BM>(r, c), ok ? A + ar * p.a_stride + kk : A, ok);
            }
#pragma unroll
            for (int i = 0; i < C::BN / 16; ++i) {
                const int r = r0 + 16 * i;
                int64_t grow;
                bool ok;
                if constexpr (SILU) {
                    const int64_t col = n0 + (r % (C::BN / 2));
                    ok = col < N;
                    grow = (r < C::BN / 2 ? 0 : N) + col;
                } else {
                    grow = n0 + r;
                    ok = grow < N;
                }
                ok = ok && kin;
                attn::cp_async16(sb + attn::sw128_offset<C::BN>(r, c), ok ? W + grow * K + kk : W, ok);
            }
            attn::cp_async_arrive_noinc(full(st));
        }
        attn::cp_async_wait_all();
    } else {
        // ---------------- consumers ----------------
        attn::setmaxnreg_inc<C::CONSUMER_REGS>();
        const int w = wg - 1, warp = t / 32, lane = t % 32;
        float acc[2][64];
#pragma unroll
        for (int h = 0; h < 2; ++h)
#pragma unroll
            for (int i = 0; i < 64; ++i) acc[h][i] = 0.f;
        // K-major SW128 descriptors (sbo = 8 rows x 128 B); this consumer's 64 A rows start
        // 64 x 128 B into the A tile, B's second 128 rows 128 x 128 B into the B tile. Each
        // k16 step advances 32 bytes inside the 128-byte rows.
        const uint64_t a0 = attn::sw128_desc(ring + w * 64 * 128, 16, 1024);
        const uint64_t b0 = attn::sw128_desc(ring + C::A_BYTES, 16, 1024);
        constexpr uint64_t STAGE = C::STAGE_BYTES >> 4, B_HALF = (128 * 128) >> 4;
        for (int kt = 0; kt < ktiles; ++kt) {
            const int st = kt % C::STAGES;
            attn::mbar_wait(full(st), (kt / C::STAGES) & 1);
            attn::fence_proxy_async();
            attn::reg_fence(acc[0]);
            attn::reg_fence(acc[1]);
            attn::wgmma_fence();
            const uint64_t da = a0 + st * STAGE, db = b0 + st * STAGE;
#pragma unroll
            for (int k16 = 0; k16 < C::BK / 16; ++k16) {
                attn::WgmmaOps<T>::ss128(acc[0], da + 2 * k16, db + 2 * k16, 1);
                attn::WgmmaOps<T>::ss128(acc[1], da + 2 * k16, db + B_HALF + 2 * k16, 1);
            }
            attn::wgmma_commit();
            // Step kt-1 has retired (only kt may still run): its stage goes back to the producer.
            attn::wgmma_wait<1>();
            attn::reg_fence(acc[0]);
            attn::reg_fence(acc[1]);
            if (kt > 0 && lane == 0) attn::mbar_arrive(empty((kt - 1) % C::STAGES));
        }
        attn::wgmma_wait<0>();
        attn::reg_fence(acc[0]);
        attn::reg_fence(acc[1]);

        // Accumulator layout (m64nN): d[4i + e] is row 16 warp + lane/4 (+8 for e >= 2),
        // column 8i + 2 (lane % 4) + (e & 1).
        T* out = static_cast<T*>(p.out);
        const int g = lane / 4, c2 = 2 * (lane % 4);
#pragma unroll
        for (int h = 0; h < 2; ++h) {
            const int slot = s_slot[w * 64 + warp * 16 + g + 8 * h];
            if (slot < 0) continue;
            T* orow = out + int64_t(slot) * p.out_stride;
            if constexpr (SILU) {
#pragma unroll
                for (int i = 0; i < 16; ++i) {
                    const int64_t col = n0 + 8 * i + c2;
                    if (col >= N) continue;
                    const float* gate = &acc[0][4 * i + 2 * h];
                    const float* up = &acc[1][4 * i + 2 * h];
                    *reinterpret_cast<uint32_t*>(orow + col) = M::pack(silu_mul<T>(gate[0], up[0]), silu_mul<T>(gate[1], up[1]));
                }
            } else {
                const float rw = p.topk_weights != nullptr ? p.topk_weights[slot] : 1.f;
#pragma unroll
                for (int half = 0; half < 2; ++half)
#pragma unroll
                    for (int i = 0; i < 16; ++i) {
                        const int64_t col = n0 + 128 * half + 8 * i + c2;
                        if (col >= N) continue;
                        *reinterpret_cast<uint32_t*>(orow + col) = M::pack(acc[half][4 * i + 2 * h] * rw, acc[half][4 * i + 2 * h + 1] * rw);
                    }
            }
        }
    }
#endif
}

}  // namespace
}  // namespace moe
}  // namespace fk
