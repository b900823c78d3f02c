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
//     turn their rows of G into the unit's decayed scores (one ex2 per element left of the
//     diagonal, zero above it, rounded to the dtype in the register layout wgmma takes as A);
//     then scores . x is a wgmma with A from registers and x as an MN-major B operand;
//   - x, S_in, cum and dte of the next two units load (cp.async, 128-byte-swizzled tiles)
//     while one is computed.
// The bytes are x, S_in and out once each (and C, B once per CTA); the arithmetic per unit is
// ~1 MFLOP per warpgroup on the tensor cores and 64 ex2 per thread, so the pass is meant to be
// bound by memory, not by issue.
//
// Limits (the launcher checks them and otherwise takes the mma.sync pass): kQ == 128,
// d_state <= NT (64 or 128) and a multiple of 8, head_dim a multiple of 8 (slices of 64, the
// last one partial), 16-byte aligned rows.
#pragma once
#include "fk/attention/sm80_mma.cuh"
#include "fk/attention/sm90_sync.cuh"
#include "fk/attention/sm90_wgmma_ops.cuh"
#include "fk/ssd/chunks.cuh"
#include "fk/ssm.cuh"

#include <type_traits>

namespace fk {
namespace ssd {

// Shared memory (bytes from a 1024-aligned base). SW128 tiles (see sm90_sync.cuh): C and B
// [kQ rows][NT] (NT/64 column blocks), and per stage x [kQ tokens][64 channels], S_in [64
// channels][NT], then cum and dte [kQ] f32.
template <int NT, int STAGES>
struct OutSm90Layout {
    static constexpr int kTile = kChunk * NT * 2;  // C or B
    static constexpr int kX = kChunk * 128;        // 64 channels of 2 bytes per token row
    static constexpr int kS = 64 * NT * 2;
    static constexpr int kStage = kX + kS + 1024;  // + cum, dte (512 bytes each)
    static constexpr int kC = 0, kB = kTile, kStages = 2 * kTile;
    static constexpr int kBytes = kStages + STAGES * kStage;
    static constexpr int kAlloc = kBytes + 1024;   // + alignment slack
};

constexpr int kOutSm90Threads = 256;  // two consumer warpgroups, 64 chunk rows each

// R rows x CH 16-byte chunks of a strided 16-bit matrix into a SW128 tile at `dst`; rows >=
// `rows` and chunks >= `chunks` are zero-filled (cp.async, the caller commits).
template <int R, int CH, typename T>
__device__ __forceinline__ void load_sw128(uint32_t dst, const T* src, int64_t stride, int rows, int chunks) {
    static_assert(kOutSm90Threads % CH == 0 && R % (kOutSm90Threads / CH) == 0, "whole passes");
    constexpr int kStep = kOutSm90Threads / CH;
    const int c = threadIdx.x % CH, r0 = threadIdx.x / CH;
    const bool col_ok = c < chunks;
#pragma unroll
    for (int i = 0; i < R / kStep; ++i) {
        const int r = r0 + i * kStep;
        const bool ok = col_ok && r < rows;
        attn::cp_async16(dst + attn::sw128_offset<R>(r, c), ok ? src + r * stride + c * 8 : src, ok);
    }
}

// One CTA: chunk `blockIdx.x` (a workspace slot), units [u0, u0 + units_per_cta) of group
// blockIdx.y / ctas_per_group. W: the workspace view of ssd_chunk_scan.cu (states, cum, dte).
template <typename T, int NT, int STAGES, typename W>
__global__ void __launch_bounds__(kOutSm90Threads, 1)
    output_sm90_kernel(const __grid_constant__ fk_ssd_chunk_scan_params p, const W ws, int units_per_cta) {
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
    const int N = p.d_state;

    const uint32_t base = (attn::smem_addr(smem_raw) + 1023u) & ~1023u;
    uint8_t* const base_ptr = smem_raw + (base - attn::smem_addr(smem_raw));
    const uint32_t sc = base + L::kC, sb = base + L::kB;
    auto stage = [&](int st) { return base + L::kStages + st * L::kStage; };
    auto stage_ptr = [&](int st) { return base_ptr + L::kStages + st * L::kStage; };

    // Unit u of the group: head and first channel.
    auto unit_head = [&](int u) { return grp * hpg + (u0 + u) / splits; };
    auto unit_pc = [&](int u) { return ((u0 + u) % splits) * 64; };
    auto load_unit = [&](int u, int st) {
        const int h = unit_head(u), pc = unit_pc(u), P = min(64, p.head_dim - pc);
        const uint32_t sx = stage(st), ss = sx + L::kX, sf = ss + L::kS;
        const T* x = static_cast<const T*>(p.x) + ch.t0 * p.x_stride + static_cast<int64_t>(h) * p.head_dim + pc;
        load_sw128<kChunk, 8>(sx, x, p.x_stride, ch.rows, P / 8);
        load_sw128<64, NT / 8>(ss, ws.state_row(p, blockIdx.x, h, pc), NT, P, NT / 8);
        // cum (threads 0..127) and dte (128..255) of the chunk's rows; padding rows read 0.
        const int r = threadIdx.x % kChunk;
        const float* src = (threadIdx.x < kChunk ? ws.cum : ws.dte) + static_cast<int64_t>(h) * p.tokens + ch.t0 + r;
        attn::cp_async4_zfill(sf + threadIdx.x * 4, r < ch.rows ? src : ws.cum, r < ch.rows);
    };

    // Prologue: C and B with unit 0 (group 0), units 1 .. STAGES-2 (one group each).
    {
        const int64_t bc_col = static_cast<int64_t>(grp) * N;
        load_sw128<kChunk, NT / 8>(sc, static_cast<const T*>(p.C) + ch.t0 * p.c_stride + bc_col, p.c_stride, ch.rows, N / 8);
        load_sw128<kChunk, NT / 8>(sb, static_cast<const T*>(p.B) + ch.t0 * p.b_stride + bc_col, p.b_stride, ch.rows, N / 8);
        load_unit(0, 0);
        attn::cp_async_commit();
#pragma unroll
        for (int u = 1; u < STAGES - 1; ++u) {
            if (u < units) load_unit(u, u);
            attn::cp_async_commit();
        }
    }

    const int w = threadIdx.x / 128, t = threadIdx.x % 128, wq = t / 32, lane = t % 32;
    const int g = lane / 4, c4 = lane % 4;
    const int row0 = 64 * w + 16 * wq + g;  // this thread's chunk rows: row0, row0 + 8
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

    // One unit, for a warpgroup whose rows see KB 16-column blocks of G (the first warpgroup's
    // rows 0..63 see columns 0..63 only).
    auto compute = [&](auto kb_const, int u, int st) {
        constexpr int KB = decltype(kb_const)::value;
        const int h = unit_head(u), pc = unit_pc(u), P = min(64, p.head_dim - pc);
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

        // Scores: G decayed by exp2(cum_i - cum_j) dte_j for j <= i, else 0, rounded to the
        // dtype as wgmma's A fragments (block kb: columns 16kb .. 16kb + 15). A warp's 16 rows
        // end at 64w + 16wq + 15: blocks past it are all zero (no exponentials).
        const float cum_i[2] = {scum[row0], scum[row0 + 8]};
        uint32_t A[KB][4];
        const int last_block = (64 * w + 16 * wq + 15) / 16;
#pragma unroll
        for (int kb = 0; kb < KB; ++kb) {
            if (kb > last_block) {  // warp-uniform
                A[kb][0] = A[kb][1] = A[kb][2] = A[kb][3] = 0u;
                continue;
            }
            float v[8];
#pragma unroll
            for (int half = 0; half < 2; ++half) {
                const int nb = 2 * kb + half, j = 8 * nb + 2 * c4;
                const float2 cj = *reinterpret_cast<const float2*>(scum + j);
                const float2 dj = *reinterpret_cast<const float2*>(sdte + j);
#pragma unroll
                for (int e = 0; e < 4; ++e) {
                    const int r = e / 2, jj = j + e % 2, i = row0 + 8 * r;
                    const float c = e % 2 ? cj.y : cj.x, d = e % 2 ? dj.y : dj.x;
                    v[4 * half + e] = jj <= i ? G[4 * nb + e] * fk::ex2_ftz(cum_i[r] - c) * d : 0.f;
                }
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

        // out = Y + exp2(cum_i) Ys + D x, stored as pairs of channels.
        const float Dh = p.D ? p.D[h] : 0.f;
        T* const outg = static_cast<T*>(p.out) + static_cast<int64_t>(h) * p.head_dim + pc;
#pragma unroll
        for (int r = 0; r < 2; ++r) {
            const int i = row0 + 8 * r;
            if (i >= ch.rows) continue;
            const float in = fk::ex2_ftz(cum_i[r]);
            T* const orow = outg + (ch.t0 + i) * p.out_stride;
#pragma unroll
            for (int nb = 0; nb < 8; ++nb) {
                const int pp = 8 * nb + 2 * c4;
                if (pp >= P) continue;
                const T* xs = reinterpret_cast<const T*>(sxp + attn::sw128_offset<kChunk>(i, nb) + 4 * c4);
                const float y0 = fmaf(in, Ys[4 * nb + 2 * r], Y[4 * nb + 2 * r]) + Dh * fk::to_float(xs[0]);
                const float y1 = fmaf(in, Ys[4 * nb + 2 * r + 1], Y[4 * nb + 2 * r + 1]) + Dh * fk::to_float(xs[1]);
                *reinterpret_cast<uint32_t*>(orow + pp) = M::pack(y0, y1);
            }
        }
    };

    for (int u = 0; u < units; ++u) {
        const int st = u % STAGES;
        attn::cp_async_wait<STAGES - 2>();  // unit u's group has landed (this thread's copies)
        attn::fence_proxy_async();
        __syncthreads();                    // ... everyone's; and unit u-1's stage is free
        if (u + STAGES - 1 < units) load_unit(u + STAGES - 1, (u + STAGES - 1) % STAGES);
        attn::cp_async_commit();
        if (w == 0) compute(std::integral_constant<int, 4>{}, u, st);
        else compute(std::integral_constant<int, 8>{}, u, st);
    }
    attn::cp_async_wait<0>();
#endif
}

}  // namespace ssd
}  // namespace fk
