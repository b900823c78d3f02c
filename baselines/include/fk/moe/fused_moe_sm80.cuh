// The grouped expert GEMM behind kernels/fused_moe.cu (sm_80+ tensor cores, mma.sync).
//
// Grid (M blocks of BM rows of sorted_token_ids, column tiles). A CTA reads its block's expert
// id and the BM slot ids once (into shared memory), then runs a plain multistage GEMM:
//   A tile [BM, 64]: rows gathered from a[slot / a_rows_per_slot] (padding rows zero-filled),
//   B tile [BN, 64]: rows of the expert's weight [n_w, K] (K contiguous = mma's "col" B),
// both copied with 16-byte cp.async (zero fill past K / N / for padding) into a STAGES-deep
// ring of shared-memory tiles whose 16-byte chunks are XOR-swizzled by row (ldmatrix reads 8
// rows of one chunk column: without the swizzle all 8 hit the same banks). Fragments come from
// ldmatrix.x4 and feed mma.sync m16n8k16 with fp32 accumulators.
// gate_up (SILU): the CTA's B tile is BN/2 gate rows and the same BN/2 up rows (w13 rows i and
// I+i), and each warp's n8 tiles are half gate, half up over the same columns, so one thread
// holds gate and up of the same output element: silu(gate) * up happens in registers and only
// the [slots, I] product is written (no [slots, 2I] intermediate, no separate act kernel).
// down (!SILU): the fp32 accumulator is scaled by the slot's routing weight before rounding.
// Configurations (chosen by the launcher from block_size; BM always divides it):
//   small  BM 16,  BN 64,  2 warps (16x32 each), 6 stages: decode. Weight-bandwidth bound:
//          many CTAs, each keeping 5 x 8 KB of weight loads in flight.
//   medium BM 64,  BN 128, 4 warps (32x64), 4 stages.
//   large  BM 128, BN 128, 8 warps (32x64), 3 stages: prefill, compute bound.
// Where a Hopper path would go: a wgmma kernel (sm_90a; B from TMA-loaded 128B-swizzled smem,
// A gathered by cp.async since TMA cannot gather rows, warp-specialised producer/consumers,
// setmaxnreg) for the medium/large configs, with the epilogue staged through shared memory for
// 16-byte coalesced stores (here each thread stores 4-byte pairs straight from registers),
// selected in fused_moe.cu under FK_SM90A as prefill_attention does. The small (decode) config is bandwidth-bound and gains little from it.
#pragma once
#include "fk/attention/sm80_mma.cuh"
#include "fk/common.cuh"
#include "fk/ops/fused_moe.h"

namespace fk {
namespace moe {
namespace {

template <int BM_, int BN_, int WM_, int WN_, int STAGES_, int MIN_CTAS_ = 1> struct MoeCfg {
    // MIN_CTAS: CTAs per SM the register budget must allow (__launch_bounds__).
    static constexpr int MIN_CTAS = MIN_CTAS_;
    static constexpr int BM = BM_, BN = BN_, BK = 64, WM = WM_, WN = WN_, STAGES = STAGES_;
    static constexpr int THREADS = WM * WN * 32;
    static constexpr int WTM = BM / WM, WTN = BN / WN;  // warp tile
    static constexpr int MT = WTM / 16, NT = WTN / 8;   // m16 / n8 tiles per warp
    static constexpr int CH = BK / 8;                   // 16-byte chunks per tile row
    static constexpr int A_BYTES = BM * BK * 2, B_BYTES = BN * BK * 2;
    static constexpr int STAGE_BYTES = A_BYTES + B_BYTES;
    static constexpr int SMEM = STAGES * STAGE_BYTES;
    // B fragments are loaded for two n8 tiles at once, and with SILU each warp's tiles split
    // into a gate half and an up half: both need NT to be a multiple of 4.
    static_assert(NT % 4 == 0 && MT >= 1 && CH == 8, "tile shape");
};
using SmallCfg = MoeCfg<16, 64, 1, 2, 6>;
using MediumCfg = MoeCfg<64, 128, 2, 2, 4>;
// ptxas 13.0 (sm_90a), no spills: small 90/96 registers (down/gate_up), medium and large
// 151/171. Large: 171 x 256 threads allows one CTA per SM; forcing two (MIN_CTAS 2, 128
// registers) spilled 12-24 bytes, so it keeps one CTA of 8 warps per SM.
using LargeCfg = MoeCfg<128, 128, 4, 2, 3>;

// Byte offset of 16-byte chunk `chunk` (0..7) of row `row` in a tile of 64-element rows.
__device__ __forceinline__ uint32_t swz(int row, int chunk) { return uint32_t((row * 8 + (chunk ^ (row & 7))) * 16); }

// Local B-tile row of the first column of warp column `wn`'s n8 tile `j`.
template <class C, bool SILU> __device__ __forceinline__ int b_row(int wn, int j) {
    if constexpr (SILU) {
        constexpr int half = C::NT / 2;
        const int base = j < half ? 0 : C::BN / 2;
        return base + wn * (C::WTN / 2) + (j % half) * 8;
    } else {
        return wn * C::WTN + j * 8;
    }
}

template <typename T> __device__ __forceinline__ float silu_mul(float gate, float up) {
    // As PyTorch materialises it: gate and up in T, silu(gate) rounded to T, the product in T.
    const float g = round_to<T>(gate);
    const float s = round_to<T>(g / (1.f + expf(-g)));
    return s * round_to<T>(up);
}

template <typename T, class C, bool SILU>
__global__ void __launch_bounds__(C::THREADS, C::MIN_CTAS) fused_moe_kernel(const fk_fused_moe_params p) {
    using M = attn::MmaType<T>;
    extern __shared__ __align__(128) uint8_t smem[];
    __shared__ int s_arow[C::BM];  // row of a, or -1 for padding
    __shared__ int s_slot[C::BM];  // output row (slot), or -1
    pdl_grid_sync();
    const int tid = threadIdx.x, warp = tid / 32, lane = tid % 32;
    const int wm = warp / C::WN, wn = warp % C::WN;
    const int64_t m0 = int64_t(blockIdx.x) * C::BM;
    const int64_t post = *p.num_tokens_post_padded;
    if (m0 >= post) return;
    const int expert = p.expert_ids[m0 / p.block_size];
    if (expert < 0 || expert >= p.num_experts) return;

    const int64_t N = p.n, K = p.k;
    const int64_t n_w = SILU ? 2 * N : N;
    constexpr int COLS = SILU ? C::BN / 2 : C::BN;  // output columns per CTA
    const int64_t n0 = int64_t(blockIdx.y) * COLS;
    const T* A = static_cast<const T*>(p.a);
    const T* W = static_cast<const T*>(p.weight) + int64_t(expert) * n_w * K;

    for (int r = tid; r < C::BM; r += C::THREADS) {
        const int64_t row = m0 + r;
        const int s = row < post && row < p.em_capacity ? p.sorted_token_ids[row] : -1;
        const bool ok = s >= 0 && s < p.num_slots;
        s_slot[r] = ok ? s : -1;
        s_arow[r] = ok ? s / p.a_rows_per_slot : -1;
    }
    __syncthreads();

    const uint32_t sbase = attn::smem_addr(smem);
    auto load_tile = [&](int kt, int stage) {
        const uint32_t sa = sbase + stage * C::STAGE_BYTES, sb = sa + C::A_BYTES;
        const int64_t k0 = int64_t(kt) * C::BK;
#pragma unroll
        for (int i = tid; i < C::BM * C::CH; i += C::THREADS) {
            const int r = i / C::CH, c = i % C::CH;
            const int ar = s_arow[r];
            const int64_t kk = k0 + c * 8;
            const bool ok = ar >= 0 && kk < K;
            attn::cp_async16(sa + swz(r, c), ok ? A + ar * p.a_stride + kk : A, ok);
        }
#pragma unroll
        for (int i = tid; i < C::BN * C::CH; i += C::THREADS) {
            const int r = i / C::CH, c = i % C::CH;
            int64_t grow;
            bool ok;
            if constexpr (SILU) {
                const int64_t idx = n0 + (r % (C::BN / 2));
                ok = idx < N;
                grow = (r < C::BN / 2 ? 0 : N) + idx;
            } else {
                grow = n0 + r;
                ok = grow < N;
            }
            const int64_t kk = k0 + c * 8;
            ok = ok && kk < K;
            attn::cp_async16(sb + swz(r, c), ok ? W + grow * K + kk : W, ok);
        }
    };

    float acc[C::MT][C::NT][4];
#pragma unroll
    for (int i = 0; i < C::MT; ++i)
#pragma unroll
        for (int j = 0; j < C::NT; ++j)
#pragma unroll
            for (int q = 0; q < 4; ++q) acc[i][j][q] = 0.f;

    const int ktiles = static_cast<int>((K + C::BK - 1) / C::BK);
#pragma unroll
    for (int s = 0; s < C::STAGES - 1; ++s) {
        if (s < ktiles) load_tile(s, s);
        attn::cp_async_commit();  // empty groups keep the wait count uniform
    }
    for (int kt = 0; kt < ktiles; ++kt) {
        attn::cp_async_wait<C::STAGES - 2>();
        // Tile kt has landed for every thread, and every warp is done with tile kt-1, whose
        // stage the next load overwrites.
        __syncthreads();
        const int nk = kt + C::STAGES - 1;
        if (nk < ktiles) load_tile(nk, nk % C::STAGES);
        attn::cp_async_commit();
        const uint32_t sa = sbase + (kt % C::STAGES) * C::STAGE_BYTES, sb = sa + C::A_BYTES;
#pragma unroll
        for (int ks = 0; ks < C::BK / 16; ++ks) {
            uint32_t af[C::MT][4];
#pragma unroll
            for (int mt = 0; mt < C::MT; ++mt)
                attn::ldmatrix_x4(af[mt], sa + swz(wm * C::WTM + mt * 16 + lane % 16, ks * 2 + lane / 16));
#pragma unroll
            for (int np = 0; np < C::NT / 2; ++np) {
                uint32_t bf[4];
                const int r = b_row<C, SILU>(wn, 2 * np) + lane % 8 + (lane / 16) * 8;
                attn::ldmatrix_x4(bf, sb + swz(r, ks * 2 + (lane / 8) % 2));
#pragma unroll
                for (int mt = 0; mt < C::MT; ++mt) {
                    M::mma(acc[mt][2 * np], af[mt], bf[0], bf[1]);
                    M::mma(acc[mt][2 * np + 1], af[mt], bf[2], bf[3]);
                }
            }
        }
    }
    attn::cp_async_wait<0>();

    // Epilogue: c0,c1 = (row g, cols 2c, 2c+1), c2,c3 = (row g+8, same cols); g = lane/4, c = lane%4.
    T* out = static_cast<T*>(p.out);
#pragma unroll
    for (int mt = 0; mt < C::MT; ++mt) {
#pragma unroll
        for (int h = 0; h < 2; ++h) {
            const int slot = s_slot[wm * C::WTM + mt * 16 + lane / 4 + 8 * h];
            if (slot < 0) continue;
            T* orow = out + int64_t(slot) * p.out_stride;
            if constexpr (SILU) {
#pragma unroll
                for (int j = 0; j < C::NT / 2; ++j) {
                    const int64_t col = n0 + wn * (C::WTN / 2) + j * 8 + 2 * (lane % 4);
                    if (col >= N) continue;
                    const float* g = &acc[mt][j][2 * h];
                    const float* u = &acc[mt][j + C::NT / 2][2 * h];
                    *reinterpret_cast<uint32_t*>(orow + col) = M::pack(silu_mul<T>(g[0], u[0]), silu_mul<T>(g[1], u[1]));
                }
            } else {
                const float w = p.topk_weights != nullptr ? p.topk_weights[slot] : 1.f;
#pragma unroll
                for (int j = 0; j < C::NT; ++j) {
                    const int64_t col = n0 + wn * C::WTN + j * 8 + 2 * (lane % 4);
                    if (col >= N) continue;
                    *reinterpret_cast<uint32_t*>(orow + col) = M::pack(acc[mt][j][2 * h] * w, acc[mt][j][2 * h + 1] * w);
                }
            }
        }
    }
}

}  // namespace
}  // namespace moe
}  // namespace fk
