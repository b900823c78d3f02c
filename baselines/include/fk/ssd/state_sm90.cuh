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
// path of which 32 are mma (its own running sums with shuffles, per-thread copies, the w*x
// conversion, the state's publication), latency-bound at 0.44 issued per cycle per scheduler:
// 193 of SSD's 316.5 us at 8k tokens of mamba2-2.7b on the H200 (run 65). Here a chunk's serial
// work is the w*x scaling (one row per thread, in place) and 8 wgmma m64n64k16 with both
// operands MN-major from shared memory ((w x)^T: x stored [token][channel]; B [token][state]):
//   - TMA brings x and B (one thread, two boxes of 64 columns x kQ tokens per chunk, three
//     stages: chunk c + 2 loads while c is multiplied); per-thread cp.async copies cost ~220
//     instructions per chunk on the serial path (runs 120-122);
//   - rows past a sequence's end hold the next sequence's tokens: the scaling zeroes them in x
//     and B, so nothing, not even a non-finite input elsewhere in the batch, leaks across;
//     columns past a partial head slice or past d_state hold other data: they only reach
//     state rows / columns that are never published (rows) or published as zeros (columns);
//   - the sums come from the pre-pass, loaded a chunk ahead into two register sets;
//   - each chunk's product accumulates into its own registers and is folded into the state a
//     chunk later. (ptxas serialises these wgmma, C7514: accumulating into the state instead
//     measured 132 against 144-148 us in run 124's standalone A/B, but is not yet through the
//     test suite, and neither is publishing the states by TMA store from a staging tile,
//     written in commit 985e313: the next steps.)
// Two barriers per chunk: after the scaling (w*x whole) and after the previous product's wait
// (its stage free for the next boxes).
// Measured (H200, 8k tokens, run 124): SSD 270.1-270.7 us at mamba2-2.7b (319 with the
// mma.sync pass), 354 us at Codestral (412).
//
// One CTA = one warpgroup: (sequence, head, 64-channel slice, 64-column state block); ~97 KB of
// shared memory, 2 CTAs per SM. mamba2-2.7b: 80 heads x 2 state blocks = 160 CTAs, Codestral
// 256: one wave on 132 SMs.
// Limits (the launcher checks them, else the mma.sync pass): kQ == 128, d_state <= NT and a
// multiple of 8, head_dim a multiple of 8, 16-byte aligned rows.
#pragma once
#include "fk/attention/sm80_mma.cuh"
#include "fk/attention/sm90_sync.cuh"
#include "fk/attention/sm90_wgmma_ops.cuh"
#include "fk/ssd/chunks.cuh"

#include <cuda.h>  // CUtensorMap

namespace fk {
namespace ssd {

constexpr int kStateSm90Threads = 128;  // one warpgroup
constexpr int kStateSm90Stages = 3;

// One stage (bytes, from a 1024-aligned base): x [kQ tokens][64 channels] and B [kQ tokens][64
// states] as SW128 tiles (TMA boxes of 64 x kQ); the stages' full barriers after them.
struct StateSm90Layout {
    static constexpr int kTile = kChunk * 128;
    static constexpr int kX = 0, kB = kTile;
    static constexpr int kStage = 2 * kTile;
    static constexpr int kBars = kStateSm90Stages * kStage;
    static constexpr int kBytes = kBars + 8 * kStateSm90Stages;
    static constexpr int kAlloc = kBytes + 1024;  // + alignment slack
    static constexpr uint32_t kTx = 2 * kTile;    // bytes a stage's two boxes deliver
    static_assert(kStage % 1024 == 0, "SW128 tiles need 1024-byte aligned bases");
};

// A pair of 16-bit values times w, rounded once (fp32 products; a bf16x2 product, w rounded
// first, was 3 % faster with 25 % more error in the states: run 122).
template <typename T> __device__ __forceinline__ uint32_t scale_pair(uint32_t pair, float w) {
    const T* two = reinterpret_cast<const T*>(&pair);
    return attn::MmaType<T>::pack(w * fk::to_float(two[0]), w * fk::to_float(two[1]));
}

// State blocks of 64 columns per head for NT padded state columns.
template <int NT> constexpr int state_blocks() { return NT / 64; }

// One CTA: blockIdx.x = (head, channel slice, state block), blockIdx.y = sequence. xmap / bmap:
// TMA maps of x [tokens][heads*head_dim] and B [tokens][ngroups*d_state], boxes of 64 columns x
// kQ tokens (fk/tma_host.cuh). W: the workspace view of ssd_chunk_scan.cu (states, cum, dte).
template <typename T, int NT, typename W>
__global__ void __launch_bounds__(kStateSm90Threads, 2)
    state_sm90_kernel(const __grid_constant__ fk_ssd_chunk_scan_params p, const W ws, const __grid_constant__ CUtensorMap xmap,
                      const __grid_constant__ CUtensorMap bmap) {
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
    auto full = [&](int st) { return base + L::kBars + 8 * st; };

    // Chunk c's x and B boxes, by one thread. Rows past the tensor arrive as zeros; rows past
    // the sequence (another sequence's tokens) are zeroed by the scaling below.
    const int x_col = h * p.head_dim + pc, b_col = grp * N + n0;
    auto issue = [&](int c) {
        const int st = c % kStateSm90Stages, t0 = static_cast<int>(start) + c * kChunk;
        attn::mbar_arrive_expect_tx(full(st), L::kTx);
        attn::tma_load_3d(stage(st) + L::kX, &xmap, full(st), x_col, t0, 0);
        attn::tma_load_3d(stage(st) + L::kB, &bmap, full(st), b_col, t0, 0);
    };
    // This thread's token of chunk c: its running sum and step (0 past the end), and the
    // chunk's last running sum (its total decay), from the pre-pass; loaded a chunk ahead.
    const float* const cum_h = ws.cum + static_cast<int64_t>(h) * p.tokens;
    const float* const dte_h = ws.dte + static_cast<int64_t>(h) * p.tokens;
    struct Sums {
        float cum, dte, last;
    };
    auto load_sums = [&](int c) {
        const int64_t t0 = start + static_cast<int64_t>(c) * kChunk;
        const int rows = rows_left(t0, end);
        const bool in = tid < rows;
        return Sums{in ? cum_h[t0 + tid] : 0.f, in ? dte_h[t0 + tid] : 0.f, cum_h[t0 + rows - 1]};
    };

    if (tid == 0) {
        for (int st = 0; st < kStateSm90Stages; ++st) attn::mbar_init(full(st), 1);
        attn::mbar_init_fence();
    }
    __syncthreads();
    if (tid == 0) {
        if (chunks > 0) issue(0);
        if (chunks > 1) issue(1);
    }

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

    // Chunk c, with its sums in `cur`; loads chunk c + 1's into `nxt`. The loop runs two chunks
    // per pass with the two sets swapping roles, so a load's result is first read a chunk later
    // (with one set refilled by a register copy, that copy waited for the load: run 123, 12 %
    // of the pass's stall samples).
    float L0[32], L1[32], decay = 1.f;  // two chunks' products in flight; chunk c - 1's total decay
    auto step = [&](int c, const Sums& cur, Sums& nxt, float (&Lc)[32], float (&Lp)[32]) {
        const int st = c % kStateSm90Stages;
        const int rows = rows_left(start + static_cast<int64_t>(c) * kChunk, end);
        if (c + 1 < chunks) nxt = load_sums(c + 1);
        attn::mbar_wait(full(st), (c / kStateSm90Stages) & 1);  // chunk c's boxes have landed

        // Row tid of x, scaled in place by w = exp2(cum_last - cum) dte and rounded; past the
        // sequence's end the row (and B's) become zeros. Chunk j of the row sits at chunk
        // j ^ (tid % 8): a quarter-warp's 8 rows hit 8 different 16-byte bank groups. Every
        // load comes before the first store (interleaved, the compiler would serialise them).
        {
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
                    for (int k = 0; k < 4; ++k) w4[k] = scale_pair<T>(w4[k], w);
                }
#pragma unroll
                for (int j = 0; j < 8; ++j) *reinterpret_cast<uint4*>(row + ((j ^ (tid % 8)) << 4)) = v[j];
            } else {  // another sequence's token (or TMA's zeros): zeros in x and B either way
                uint8_t* const brow = stage_ptr(st) + L::kB + tid * 128;
#pragma unroll
                for (int j = 0; j < 8; ++j) {
                    *reinterpret_cast<uint4*>(row + j * 16) = make_uint4(0u, 0u, 0u, 0u);
                    *reinterpret_cast<uint4*>(brow + j * 16) = make_uint4(0u, 0u, 0u, 0u);
                }
            }
        }
        attn::fence_proxy_async();  // the generic-proxy writes above, before wgmma reads them

        // Chunk c's product into its own accumulator, Lc = (w x)^T B (K = the chunk's tokens, 16
        // per wgmma: 16 rows x 128 B = 2048 bytes), issued as soon as w*x is whole: it depends
        // on no state, so it runs while chunk c - 1's (issued a chunk ago) is folded in.
        __syncthreads();  // w*x of chunk c is whole
        {
            const uint64_t adesc = attn::sw128_desc(stage(st) + L::kX, kChunk * 128, 1024);
            const uint64_t bdesc = attn::sw128_desc(stage(st) + L::kB, kChunk * 128, 1024);
            attn::reg_fence(Lc);
            attn::wgmma_fence();
#pragma unroll
            for (int kk = 0; kk < kChunk / 16; ++kk)
                Ops::mn64(Lc, adesc + ((kk * 2048) >> 4), bdesc + ((kk * 2048) >> 4), kk > 0);
            attn::wgmma_commit();
        }
        // S_in(c) = exp2(cum_last(c - 1)) S_in(c - 1) + L(c - 1), rounded for the output pass.
        if (c > 0) {
            attn::wgmma_wait<1>();
            attn::reg_fence(Lp);
#pragma unroll
            for (int i = 0; i < 32; ++i) S[i] = fmaf(decay, S[i], Lp[i]);
        }
        uint32_t sin[16];
#pragma unroll
        for (int i = 0; i < 16; ++i) sin[i] = M::pack(S[2 * i], S[2 * i + 1]);
        decay = fk::ex2_ftz(cur.last);
        __syncthreads();  // chunk c - 1's product is done in every warp: its stage is free
        if (tid == 0 && c + 2 < chunks) issue(c + 2);

        // Publish S_in(c) while the product runs: rows pc + 16 wq + g + 8r, pairs of columns
        // (zeros past d_state: the TMA box's columns there are another group's or C's).
#pragma unroll
        for (int r = 0; r < 2; ++r) {
            const int pp = 16 * wq + g + 8 * r;
            if (pp >= P) continue;
            T* const row = ws.state_row(p, slot0 + c, h, pc + pp) + n0 + 2 * c4;
#pragma unroll
            for (int nb = 0; nb < 8; ++nb) *reinterpret_cast<uint32_t*>(row + 8 * nb) = 8 * nb + 2 * c4 < NV ? sin[2 * nb + r] : 0u;
        }
    };
    Sums sa = chunks > 0 ? load_sums(0) : Sums{0.f, 0.f, 0.f}, sb = sa;
    for (int c = 0; c < chunks; c += 2) {
        step(c, sa, sb, L0, L1);
        if (c + 1 < chunks) step(c + 1, sb, sa, L1, L0);
    }
    attn::wgmma_wait<0>();
    attn::reg_fence(L0);
    attn::reg_fence(L1);
    if (chunks > 0) {
        const bool odd = (chunks - 1) & 1;  // the last chunk's product is in L1
#pragma unroll
        for (int i = 0; i < 32; ++i) S[i] = fmaf(decay, S[i], odd ? L1[i] : L0[i]);
    }

    if (p.final_state) {
        each_state([&](float& v, int pp, int n) {
            if (pp < P && n < NV) p.final_state[state0 + pp * N + n0 + n] = v;
        });
    }
#endif
}

}  // namespace ssd
}  // namespace fk
