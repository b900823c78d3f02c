// ssd_chunk_scan's output pass on Hopper (sm_90a): warpgroup MMA, C . B^T shared by heads.
//
// What it computes is the output pass of ssd_chunk_scan.cu (see the derivation there): for a
// chunk of kQ = 128 tokens, head h and its channels p,
//   y_i = exp2(cum_i) C_i . S_in[p]  +  sum_{j<=i} (C_i . B_j) exp2(cum_i - cum_j) dte_j x_j[p]  +  D_h x_i[p]
// with cum (log2 units), dte and S_in (the state entering the chunk, in the dtype) from pass 1.
//
// Why a second form. The mma.sync pass recomputes C . B^T for every (chunk, head) although it
// depends only on the chunk and the head's group (mamba2-2.7b: one group of 80 heads), and it
// runs at 15-22 % occupancy stalled on ldmatrix (192 us of SSD's 391 at 8k tokens on the H200,
// ~0.25 instructions issued per cycle per scheduler). Here one CTA owns a chunk and a run of
// U "units" (a head's 64-channel slice) of one group:
//   - C and B of the chunk are loaded once and G = C . B^T (128 x 128, fp32) is computed once
//     into registers (two consumer warpgroups, 64 rows each: wgmma m64n128, A and B from
//     shared memory);
//   - per unit, C . S_in is a wgmma from shared memory (m64n64) that runs while the threads
//     turn their rows of G into the unit's decayed scores (left of a warp's diagonal block
//     the decay factors into row and column parts, on it one ex2 per element, zero above
//     it; rounded to the dtype in the register layout wgmma takes as A);
//     then scores . x is a wgmma with A from registers and x as an MN-major B operand;
//   - x, S_in, cum and dte of the next three units load (cp.async, 128-byte-swizzled tiles,
//     a 4-stage ring) while one is computed; one CTA barrier per unit (per-stage mbarriers
//     instead were 1 % slower, run 66);
//   - each warp's 16 output rows of a unit go out by one TMA store from a swizzled staging
//     tile instead of 16 scattered 4-byte stores per thread: ~1 % (run 126; the state pass,
//     publishing the same way among other changes, went 132 -> 93 us, run 125).
// The bytes are x, S_in and out once each (and C, B once per CTA). Measured (H200, 8k tokens,
// mamba2-2.7b; runs 61-63): 122 us against the mma.sync pass's 192, but not memory-bound (42 %
// of DRAM peak): one CTA of 8 warps per SM (252 registers: G alone is 64) issuing ~1,000
// instructions per warp and slice at ~6 cycles each. The first form took 142 us; the second
// factors the decays, balances the warps and walks the slices without divisions (below).
// Both warpgroups run one code path (scores . x over all 8 key blocks; warpgroup 0's upper
// four are zeros): a form per warpgroup was 3,544 SASS instructions, and 8.5 % of the stall
// samples waited for instructions; with one, 2,528 and 3.5 %: SSD 214.8 -> 204 us (run 129).
//
// Limits (the launcher checks them and otherwise takes the mma.sync pass): kQ == 128,
// d_state <= NT (64 or 128) and a multiple of 8, head_dim a multiple of 8 (slices of 64, the
// last one partial), 16-byte aligned rows.
#pragma once
#include "fk/attention/sm80_mma.cuh"
#include "fk/attention/sm90_sync.cuh"
#include "fk/attention/sm90_wgmma_ops.cuh"
#include "fk/ssd/chunks.cuh"
#include "fk/ssd/store_tile_sm90.cuh"
#include "fk/ssm.cuh"

#include <cuda.h>  // CUtensorMap

namespace fk {
namespace ssd {

// Shared memory (bytes from a 1024-aligned base). SW128 tiles (see sm90_sync.cuh): C and B
// [kQ rows][NT] (NT/64 column blocks), and per stage x [kQ tokens][64 channels], S_in [64
// channels][NT], then cum and dte [kQ] f32; last, each warp's output staging tile [16 rows][64
// channels] (the TMA store's box).
template <int NT, int STAGES>
struct OutSm90Layout {
    static constexpr int kTile = kChunk * NT * 2;  // C or B
    static constexpr int kX = kChunk * 128;        // 64 channels of 2 bytes per token row
    static constexpr int kS = 64 * NT * 2;
    static constexpr int kStage = kX + kS + 1024;  // + cum, dte (512 bytes each)
    static constexpr int kC = 0, kB = kTile, kStages = 2 * kTile;
    static constexpr int kOut = kStages + STAGES * kStage;
    static constexpr int kOutWarp = 16 * 128;
    static constexpr int kBytes = kOut + 8 * kOutWarp;
    static constexpr int kAlloc = kBytes + 1024;   // + alignment slack
    static_assert(kStage % 1024 == 0 && kOutWarp % 1024 == 0, "SW128 tiles need 1024-byte aligned bases");
};

constexpr int kOutSm90Threads = 256;  // two consumer warpgroups, 64 chunk rows each

// The M-row order of the C tile (and so of G and the outputs): warpgroup 0 owns chunk rows in
// 16-row blocks 0-3, warpgroup 1 blocks 7-4 (its warps in reverse). A warp's causal work grows
// with its block (block b has b 16-column blocks left of its diagonal one), and a scheduler
// runs warp q of both warpgroups: blocks q and 7 - q, the same load on all four.
__device__ __forceinline__ int token_block(int m_block) { return m_block < 4 ? m_block : 11 - m_block; }

// The head and first channel of a unit (a head's 64-channel slice), walked in order.
struct UnitCursor {
    int h, pc;
    __device__ __forceinline__ void next(int head_dim) {
        pc += 64;
        if (pc >= head_dim) {
            pc = 0;
            ++h;
        }
    }
};

// One CTA: chunk `blockIdx.x` (a workspace slot), units [u0, u0 + units_per_cta) of group
// blockIdx.y / ctas_per_group. W: the workspace view of ssd_chunk_scan.cu (states, cum, dte).
// omap: out as [tokens][heads][head_dim] (fk/tma_host.cuh, 128-byte swizzle), boxes of 64 x 1 x
// 16 (one warp's rows; columns past a head's channels are clipped).
template <typename T, int NT, int STAGES, typename W>
__global__ void __launch_bounds__(kOutSm90Threads, 1)
    output_sm90_kernel(const __grid_constant__ fk_ssd_chunk_scan_params p, const W ws, int units_per_cta,
                       const __grid_constant__ CUtensorMap omap) {
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
    using L = OutSm90Layout<NT, STAGES>;
    using M = attn::MmaType<T>;
    using Ops = attn::WgmmaOps<T>;
    constexpr int kKS = NT / 16;  // k-steps over the state
    static_assert(kChunk == 128, "two warpgroups of 64 rows");
    extern __shared__ uint8_t smem_raw[];

    const SlotChunk ch = chunk_of_slot(p, blockIdx.x);
    if (ch.rows == 0) return;  // the whole CTA: no barrier is pending
    const int splits = (p.head_dim + 63) / 64, hpg = p.heads / p.ngroups;
    const int upg = hpg * splits;  // units of a group
    const int cpg = (upg + units_per_cta - 1) / units_per_cta;
    const int grp = blockIdx.y / cpg, u0 = (blockIdx.y % cpg) * units_per_cta;
    const int units = min(units_per_cta, upg - u0);
    const int N = p.d_state, tid = threadIdx.x;

    const uint32_t base = (attn::smem_addr(smem_raw) + 1023u) & ~1023u;
    uint8_t* const base_ptr = smem_raw + (base - attn::smem_addr(smem_raw));
    const uint32_t sc = base + L::kC, sb = base + L::kB;
    auto stage = [&](int st) { return base + L::kStages + st * L::kStage; };
    auto stage_ptr = [&](int st) { return base_ptr + L::kStages + st * L::kStage; };

    // ---- loads (cp.async into SW128 tiles; every thread the same chunks of every unit) ----
    // x [kQ tokens][64 channels]: thread chunk xc of rows xr + 32i.
    constexpr int kXPasses = kChunk / 32;
    const int xc = tid % 8, xr = tid / 8;
    const T* const x_thread = static_cast<const T*>(p.x) + (ch.t0 + xr) * p.x_stride + xc * 8;
    const int64_t x_pass = 32 * p.x_stride;
    // S_in [64 channels][NT] (and C, B [kQ][NT] in the prologue): thread chunk s_c of rows
    // s_r + kSStep*i.
    constexpr int kSChunks = NT / 8, kSStep = kOutSm90Threads / kSChunks, kSPasses = 64 / kSStep;
    const int s_c = tid % kSChunks, s_r = tid / kSChunks;
    // cum (threads 0..127) and dte (128..255) of the chunk's rows.
    const int fr = tid % kChunk;
    const float* const f_thread = (tid < kChunk ? ws.cum : ws.dte) + ch.t0 + fr;

    auto load_unit = [&](const UnitCursor& un, int st) {
        const int P = min(64, p.head_dim - un.pc);
        const uint32_t sx = stage(st), ss = sx + L::kX, sf = ss + L::kS;
        const T* xs = x_thread + static_cast<int64_t>(un.h) * p.head_dim + un.pc;
        const bool x_col = xc * 8 < P;
#pragma unroll
        for (int i = 0; i < kXPasses; ++i) {
            const bool ok = x_col && xr + 32 * i < ch.rows;
            attn::cp_async16(sx + attn::sw128_offset<kChunk>(xr + 32 * i, xc), ok ? xs + i * x_pass : x_thread, ok);
        }
        const T* ssrc = ws.state_row(p, blockIdx.x, un.h, un.pc + s_r) + s_c * 8;
#pragma unroll
        for (int i = 0; i < kSPasses; ++i) {
            const bool ok = s_r + kSStep * i < P;
            attn::cp_async16(ss + attn::sw128_offset<64>(s_r + kSStep * i, s_c), ok ? ssrc + kSStep * i * NT : ws.states, ok);
        }
        const bool f_ok = fr < ch.rows;
        attn::cp_async4_zfill(sf + tid * 4, f_ok ? f_thread + static_cast<int64_t>(un.h) * p.tokens : ws.cum, f_ok);
    };

    UnitCursor ld{grp * hpg + u0 / splits, (u0 % splits) * 64};
    const UnitCursor first = ld;
    // Prologue: C (rows in M order) and B with unit 0 (group 0), units 1 .. STAGES-2 (one each).
    {
        const int64_t bc_col = static_cast<int64_t>(grp) * N;
        const T* cg = static_cast<const T*>(p.C) + ch.t0 * p.c_stride + bc_col;
        const T* bg = static_cast<const T*>(p.B) + ch.t0 * p.b_stride + bc_col;
        const bool col_ok = s_c * 8 < N;
#pragma unroll
        for (int i = 0; i < kChunk / kSStep; ++i) {
            const int m = s_r + kSStep * i, r = 16 * token_block(m / 16) + m % 16;
            const bool okc = col_ok && r < ch.rows, okb = col_ok && m < ch.rows;
            attn::cp_async16(sc + attn::sw128_offset<kChunk>(m, s_c), okc ? cg + r * p.c_stride + s_c * 8 : cg, okc);
            attn::cp_async16(sb + attn::sw128_offset<kChunk>(m, s_c), okb ? bg + m * p.b_stride + s_c * 8 : bg, okb);
        }
        // Launched dependent on the state pass (programmatic dependent launch): C and B are
        // the op's inputs, requested while that pass drains; the states and sums are its.
        fk::pdl_wait();
        load_unit(ld, 0);
        attn::cp_async_commit();
#pragma unroll
        for (int u = 1; u < STAGES - 1; ++u) {
            ld.next(p.head_dim);
            if (u < units) load_unit(ld, u);
            attn::cp_async_commit();
        }
    }

    // Warp-uniform indices (shuffled, so the compiler keeps descriptor math uniform).
    const int w = __shfl_sync(0xffffffffu, tid / 128, 0), wq = __shfl_sync(0xffffffffu, (tid / 32) % 4, 0);
    const int lane = tid % 32, g = lane / 4, c4 = lane % 4;
    const int kd = token_block(4 * w + wq);  // this warp's diagonal 16-column block
    const int row0 = 16 * kd + g;            // this thread's chunk rows: row0, row0 + 8
    // The warp's 16 rows go out by one TMA store from its staging tile when all are the
    // chunk's (else, in a sequence's last chunk, by the threads: the rows past its end belong
    // to the next sequence's chunk, which another CTA writes).
    const bool tma_rows = 16 * kd + 16 <= ch.rows;
    const uint32_t out_warp = base + L::kOut + (4 * w + wq) * L::kOutWarp;
    const WarpStoreTile tile{out_warp, g, c4};
    const uint64_t cdesc = attn::sw128_desc(sc + w * 64 * 128, 16, 1024);

    // G = C . B^T for this warpgroup's 64 rows: element 4*nb + e is (row0 + 8*(e/2), 8*nb + 2*c4 + e%2).
    float G[64];
    attn::cp_async_wait<STAGES - 2>();
    attn::fence_proxy_async();
    __syncthreads();
    {
        const uint64_t bdesc = attn::sw128_desc(sb, 16, 1024);
        attn::reg_fence(G);
        attn::wgmma_fence();
#pragma unroll
        for (int kk = 0; kk < kKS; ++kk) {
            const uint32_t off = (kk / 4) * (kChunk * 128) + (kk % 4) * 32;
            Ops::ss128(G, cdesc + (off >> 4), bdesc + (off >> 4), kk > 0);
        }
        attn::wgmma_commit();
        attn::wgmma_wait<0>();
        attn::reg_fence(G);
    }

    // One unit, over all KB 16-column blocks of G in both warpgroups (one code path, see the head).
    auto compute = [&](const UnitCursor& un, int st) {
        constexpr int KB = kChunk / 16;
        const int P = min(64, p.head_dim - un.pc);
        const uint32_t sx = stage(st), ss = sx + L::kX;
        const uint8_t* const sxp = stage_ptr(st);
        const float* const scum = reinterpret_cast<const float*>(stage_ptr(st) + L::kX + L::kS);
        const float* const sdte = scum + kChunk;

        // Ys = C . S_in^T (rows i, channels p), on the tensor cores while the scores are formed.
        float Ys[32], Y[32];
        const uint64_t sdesc = attn::sw128_desc(ss, 16, 1024);
        attn::reg_fence(Ys);
        attn::wgmma_fence();
#pragma unroll
        for (int kk = 0; kk < kKS; ++kk) {
            const uint32_t a_off = (kk / 4) * (kChunk * 128) + (kk % 4) * 32;
            const uint32_t s_off = (kk / 4) * (64 * 128) + (kk % 4) * 32;
            Ops::ss64(Ys, cdesc + (a_off >> 4), sdesc + (s_off >> 4), kk > 0);
        }
        attn::wgmma_commit();

        // Scores s_ij = G_ij exp2(cum_i - cum_j) dte_j for j <= i, else 0, rounded to the dtype
        // as wgmma's A fragments (block kb: columns 16kb .. 16kb + 15). Left of the warp's
        // diagonal block the decay factors into a row part exp2(cum_i - cum_f) and a column
        // part exp2(cum_f - cum_j) dte_j (f: the warp's first row; both exponents <= 0, as cum
        // falls along the chunk): 4 exponentials per lane and block instead of 8. The
        // diagonal block takes exact decays; blocks right of it are zero.
        const float cum_f = scum[16 * kd];
        const float cum_i[2] = {scum[row0], scum[row0 + 8]};
        const float rr[2] = {fk::ex2_ftz(cum_i[0] - cum_f), fk::ex2_ftz(cum_i[1] - cum_f)};
        uint32_t A[KB][4];
#pragma unroll
        for (int kb = 0; kb < KB; ++kb) {
            float v[8];
            if (kb < kd) {  // warp-uniform branches
#pragma unroll
                for (int half = 0; half < 2; ++half) {
                    const int nb = 2 * kb + half, j = 8 * nb + 2 * c4;
                    const float2 cj = *reinterpret_cast<const float2*>(scum + j);
                    const float2 dj = *reinterpret_cast<const float2*>(sdte + j);
                    const float w0 = fk::ex2_ftz(cum_f - cj.x) * dj.x, w1 = fk::ex2_ftz(cum_f - cj.y) * dj.y;
                    v[4 * half + 0] = G[4 * nb + 0] * w0 * rr[0];
                    v[4 * half + 1] = G[4 * nb + 1] * w1 * rr[0];
                    v[4 * half + 2] = G[4 * nb + 2] * w0 * rr[1];
                    v[4 * half + 3] = G[4 * nb + 3] * w1 * rr[1];
                }
            } else if (kb == kd) {
#pragma unroll
                for (int half = 0; half < 2; ++half) {
                    const int nb = 2 * kb + half, j = 8 * nb + 2 * c4;
                    const float2 cj = *reinterpret_cast<const float2*>(scum + j);
                    const float2 dj = *reinterpret_cast<const float2*>(sdte + j);
#pragma unroll
                    for (int e = 0; e < 4; ++e) {
                        const int r = e / 2, jj = j + e % 2;
                        const float c = e % 2 ? cj.y : cj.x, d = e % 2 ? dj.y : dj.x;
                        v[4 * half + e] = jj <= row0 + 8 * r ? G[4 * nb + e] * fk::ex2_ftz(cum_i[r] - c) * d : 0.f;
                    }
                }
            } else {
#pragma unroll
                for (int e = 0; e < 8; ++e) v[e] = 0.f;
            }
            A[kb][0] = M::pack(v[0], v[1]);
            A[kb][1] = M::pack(v[2], v[3]);
            A[kb][2] = M::pack(v[4], v[5]);
            A[kb][3] = M::pack(v[6], v[7]);
        }

        // Y = scores . x (x: [token][channel], the MN-major B operand).
        const uint64_t xdesc = attn::sw128_desc(sx, kChunk * 128, 1024);
        attn::reg_fence(Y);
        attn::reg_fence(A);
        attn::wgmma_fence();
#pragma unroll
        for (int kb = 0; kb < KB; ++kb) Ops::rs64(Y, A[kb], xdesc + ((kb * 2048) >> 4), kb > 0);
        attn::wgmma_commit();
        attn::wgmma_wait<0>();
        attn::reg_fence(Y);
        attn::reg_fence(Ys);
        attn::reg_fence(A);

        // out = Y + exp2(cum_i) Ys + D x as pairs of channels: into the warp's staging tile
        // (row i - 16 kd = g + 8r, pair c4 of chunk nb at chunk nb ^ g: SW128), once its
        // previous store has read it, then one TMA store; or by the threads (see tma_rows).
        // Row i's x chunk nb sits at chunk nb ^ (i % 8) = nb ^ g of its 128-byte row too.
        const float Dh = p.D ? p.D[un.h] : 0.f;
        T* const outg = static_cast<T*>(p.out) + static_cast<int64_t>(un.h) * p.head_dim + un.pc + 2 * c4;
        if (tma_rows) tile.acquire(lane);
#pragma unroll
        for (int r = 0; r < 2; ++r) {
            const int i = row0 + 8 * r;
            const float in = fk::ex2_ftz(cum_i[r]);
            T* const orow = outg + (ch.t0 + i) * p.out_stride;
            const uint8_t* const xrow = sxp + i * 128 + 4 * c4;
#pragma unroll
            for (int nb = 0; nb < 8; ++nb) {
                const T* xs = reinterpret_cast<const T*>(xrow + ((nb ^ g) << 4));
                const float y0 = fmaf(in, Ys[4 * nb + 2 * r], fmaf(Dh, fk::to_float(xs[0]), Y[4 * nb + 2 * r]));
                const float y1 = fmaf(in, Ys[4 * nb + 2 * r + 1], fmaf(Dh, fk::to_float(xs[1]), Y[4 * nb + 2 * r + 1]));
                const uint32_t two = M::pack(y0, y1);
                if (tma_rows)
                    tile.put(r, nb, two);
                else if (i < ch.rows && 8 * nb + 2 * c4 < P)
                    *reinterpret_cast<uint32_t*>(orow + 8 * nb) = two;
            }
        }
        if (tma_rows) tile.publish(lane, [&] { attn::tma_store_3d(&omap, out_warp, un.pc, un.h, static_cast<int>(ch.t0) + 16 * kd); });
    };

    UnitCursor cp = first;
    for (int u = 0; u < units; ++u) {
        const int st = u % STAGES;
        attn::cp_async_wait<STAGES - 2>();  // unit u's group has landed (this thread's copies)
        attn::fence_proxy_async();
        __syncthreads();                    // ... everyone's; and unit u-1's stage is free
        ld.next(p.head_dim);                // unit u + STAGES - 1
        if (u + STAGES - 1 < units) load_unit(ld, (u + STAGES - 1) % STAGES);
        attn::cp_async_commit();
        compute(cp, st);
        cp.next(p.head_dim);
    }
    attn::cp_async_wait<0>();
    if (lane == 0) attn::bulk_wait_group<0>();  // the stores have read their tiles before the CTA leaves
#endif
}

}  // namespace ssd
}  // namespace fk
