// ssd_chunk_scan's state pass on Hopper (sm_90a): warpgroup MMA, the state in wgmma
// accumulators, the per-token sums precomputed (fk/ssd/chunk_sums.cuh).
//
// What it computes is pass 1 of ssd_chunk_scan.cu: walking a sequence's chunks of kQ = 128
// tokens, it publishes the state entering each chunk (rounded to the dtype, for the output
// pass) and advances it,
//   S <- exp2(cum_last) S + (w x)^T B,   w_t = exp2(cum_last - cum_t) dte_t,
// for one head, 64 of its channels (p) and 64 of its state columns (n).
//
// Why a second form. The mma.sync pass spends ~816 instructions per warp and chunk on a serial
// path of which 32 are mma (the rest: its own running sums with shuffles, per-thread copies,
// the w*x conversion, the state's publication), latency-bound at 0.44 issued per cycle per
// scheduler: 193 of SSD's 316.5 us at 8k tokens of mamba2-2.7b on the H200 (run 65). Here:
//   - the sums come from the pre-pass, so a chunk's serial work is the w*x scaling (one row
//     per thread, in place) and the state product, 8 wgmma m64n64k16 with both operands
//     MN-major from shared memory ((w x)^T: x stored [token][channel]; B [token][state]);
//   - the product is asynchronous: it runs while the threads store the previous state and
//     scale the next chunk's x, and the next product waits only for its own operands;
//   - tiles arrive by cp.async (zero-filled past a sequence's end, so padding rows add
//     nothing) three stages deep: chunk c + 2 loads while c is multiplied.
// Two barriers per chunk: one after the tiles land (rows are copied by other threads than
// scale them, so the copies are coalesced), one after the scaling (every row of w*x is in, and
// the product of chunk c - 1 has finished reading the stage the next loads overwrite).
//
// One CTA = one warpgroup: (sequence, head, 64-channel slice, 64-column state block); 100 KB of
// shared memory, 2 CTAs per SM. mamba2-2.7b: 80 heads x 2 state blocks = 160 CTAs, Codestral
// 256: one wave on 132 SMs.
// Limits (the launcher checks them, else the mma.sync pass): kQ == 128, d_state <= NT and a
// multiple of 8, head_dim a multiple of 8, 16-byte aligned rows.
#pragma once
#include "fk/attention/sm80_mma.cuh"
#include "fk/attention/sm90_sync.cuh"
#include "fk/attention/sm90_wgmma_ops.cuh"
#include "fk/ssd/chunks.cuh"

namespace fk {
namespace ssd {

constexpr int kStateSm90Threads = 128;  // one warpgroup
constexpr int kStateSm90Stages = 3;

// One stage (bytes, from a 1024-aligned base): x [kQ tokens][64 channels] and B [kQ tokens][64
// states] as SW128 tiles, then cum and dte [kQ] f32.
struct StateSm90Layout {
    static constexpr int kTile = kChunk * 128;
    static constexpr int kX = 0, kB = kTile, kCum = 2 * kTile, kDte = kCum + kChunk * 4;
    static constexpr int kStage = kDte + kChunk * 4;  // 33 KB: stages stay 1024-aligned
    static constexpr int kBytes = kStateSm90Stages * kStage;
    static constexpr int kAlloc = kBytes + 1024;  // + alignment slack
    static_assert(kStage % 1024 == 0, "SW128 tiles need 1024-byte aligned bases");
};

// State blocks of 64 columns per head for NT padded state columns.
template <int NT> constexpr int state_blocks() { return NT / 64; }

// One CTA: blockIdx.x = (head, channel slice, state block), blockIdx.y = sequence.
// W: the workspace view of ssd_chunk_scan.cu (states, cum, dte).
template <typename T, int NT, typename W>
__global__ void __launch_bounds__(kStateSm90Threads, 2)
    state_sm90_kernel(const __grid_constant__ fk_ssd_chunk_scan_params p, const W ws) {
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
    const int64_t slot0 = start / kChunk + s;  // workspace slot of the sequence's first chunk

    const uint32_t base = (attn::smem_addr(smem_raw) + 1023u) & ~1023u;
    uint8_t* const base_ptr = smem_raw + (base - attn::smem_addr(smem_raw));
    auto stage = [&](int st) { return base + st * L::kStage; };
    auto stage_ptr = [&](int st) { return base_ptr + st * L::kStage; };

    // Copies: thread chunk lc (16 bytes) of rows lr + 16i of x and of B; cum and dte of row tid.
    const int lc = tid % 8, lr = tid / 8;
    const bool x_col = lc * 8 < P, b_col = lc * 8 < NV;
    const T* const x_thread = static_cast<const T*>(p.x) + (start + lr) * p.x_stride + static_cast<int64_t>(h) * p.head_dim + pc + lc * 8;
    const T* const b_thread = static_cast<const T*>(p.B) + (start + lr) * p.b_stride + static_cast<int64_t>(grp) * N + n0 + lc * 8;
    const float* const cum_g = ws.cum + static_cast<int64_t>(h) * p.tokens + start + tid;
    const float* const dte_g = ws.dte + static_cast<int64_t>(h) * p.tokens + start + tid;
    auto load_chunk = [&](int c, int st) {
        const int64_t t0 = static_cast<int64_t>(c) * kChunk;  // relative to the sequence's start
        const int rows = rows_left(start + t0, end);
        const uint32_t sx = stage(st) + L::kX, sb = stage(st) + L::kB;
#pragma unroll
        for (int i = 0; i < kChunk / 16; ++i) {
            const int r = lr + 16 * i;
            const bool in = r < rows;
            const uint32_t off = attn::sw128_offset<kChunk>(r, lc);
            // (zero-filled copies name the tensor's base: x_thread may lie past its end)
            attn::cp_async16(sx + off, in && x_col ? x_thread + (t0 + 16 * i) * p.x_stride : p.x, in && x_col);
            attn::cp_async16(sb + off, in && b_col ? b_thread + (t0 + 16 * i) * p.b_stride : p.B, in && b_col);
        }
        const bool in = tid < rows;
        attn::cp_async4_zfill(stage(st) + L::kCum + tid * 4, in ? cum_g + t0 : ws.cum, in);
        attn::cp_async4_zfill(stage(st) + L::kDte + tid * 4, in ? dte_g + t0 : ws.dte, in);
    };

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

    if (chunks > 0) load_chunk(0, 0);
    attn::cp_async_commit();
    if (chunks > 1) load_chunk(1, 1);
    attn::cp_async_commit();

    for (int c = 0; c < chunks; ++c) {
        const int st = c % kStateSm90Stages;
        const int rows = rows_left(start + static_cast<int64_t>(c) * kChunk, end);
        attn::cp_async_wait<kStateSm90Stages - 2>();  // this thread's copies of chunk c
        __syncthreads();                               // everyone's

        // Row tid of x, scaled in place by w = exp2(cum_last - cum) dte and rounded (rows past
        // the end were zero-filled, their dte too). Chunk j of the row sits at chunk j ^ (tid %
        // 8): a quarter-warp's 8 rows hit 8 different 16-byte bank groups.
        const float* const scum = reinterpret_cast<const float*>(stage_ptr(st) + L::kCum);
        const float* const sdte = reinterpret_cast<const float*>(stage_ptr(st) + L::kDte);
        const float last = scum[rows - 1];
        const float w = fk::ex2_ftz(last - scum[tid]) * sdte[tid];
        {
            uint8_t* const row = stage_ptr(st) + L::kX + tid * 128;
#pragma unroll
            for (int j = 0; j < 8; ++j) {
                if (j * 8 >= P) break;  // zero columns stay zero
                uint4* const q = reinterpret_cast<uint4*>(row + ((j ^ (tid % 8)) << 4));
                const uint4 in = *q;
                const uint32_t w4[4] = {in.x, in.y, in.z, in.w};
                uint32_t o4[4];
#pragma unroll
                for (int k = 0; k < 4; ++k) {
                    const T* two = reinterpret_cast<const T*>(&w4[k]);
                    o4[k] = M::pack(w * fk::to_float(two[0]), w * fk::to_float(two[1]));
                }
                *q = make_uint4(o4[0], o4[1], o4[2], o4[3]);
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
        const float decay = fk::ex2_ftz(last);
#pragma unroll
        for (int i = 0; i < 32; ++i) S[i] *= decay;
        __syncthreads();  // w*x of chunk c is whole; stage (c - 1) % 3 is free

        if (c + 2 < chunks) load_chunk(c + 2, (c + 2) % kStateSm90Stages);
        attn::cp_async_commit();

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

        // Publish S_in(c) while the product runs: rows pc + 16 wq + g + 8r, pairs of columns.
#pragma unroll
        for (int r = 0; r < 2; ++r) {
            const int pp = 16 * wq + g + 8 * r;
            if (pp >= P) continue;
            T* const row = ws.state_row(p, slot0 + c, h, pc + pp) + n0 + 2 * c4;
#pragma unroll
            for (int nb = 0; nb < 8; ++nb) *reinterpret_cast<uint32_t*>(row + 8 * nb) = sin[2 * nb + r];
        }
    }
    attn::wgmma_wait<0>();
    attn::reg_fence(S);
    attn::cp_async_wait<0>();

    if (p.final_state) {
        each_state([&](float& v, int pp, int n) {
            if (pp < P && n < NV) p.final_state[state0 + pp * N + n0 + n] = v;
        });
    }
#endif
}

}  // namespace ssd
}  // namespace fk
