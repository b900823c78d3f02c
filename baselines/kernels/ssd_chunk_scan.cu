// ssd_chunk_scan baseline (L1). Contract: include/fk/ops/ssd_chunk_scan.h.
// Mamba-2's state-space-duality prefill (what Dao-AILab's `mamba_chunk_scan_combined` computes
// in five Triton kernels), here in two passes. Any sm_80+.
//
// Algorithm. Time is cut into chunks of kQ = 128 tokens (each sequence's chunks start at its
// first token). Inside a chunk, with cum[i] the running sum of dt*A and dte the effective
// steps, the recurrence unrolls into matrix products:
//   y_i  = sum_{j<=i} (C_i . B_j) exp(cum_i - cum_j) dte_j x_j   (intra-chunk, "attention-like")
//        + exp(cum_i) C_i . S_in                                  (the state entering the chunk)
//   S_out = exp(cum_last) S_in + (w x)^T B,  w_j = exp(cum_last - cum_j) dte_j
// All products run on tensor cores (mma.sync m16n8k16, fp32 accumulators).
//
// Why two passes. Only the state is sequential across chunks, and its update is the cheap
// part (one [head_dim x chunk] x [chunk x d_state] product per chunk); the outputs of all
// chunks are independent once each chunk's incoming state is known. The previous kernel did
// everything in one CTA per (sequence, head, 32 channels) walking the chunks: 160 CTAs at
// mamba2-2.7b, latency-bound (869 us at 8k tokens on the H200, ~2 warps per scheduler).
//   pass 1 `state_kernel`, one CTA per (sequence, head, kSP = 32 channels[, half the state
//     columns when twice the CTAs still fit one wave]), walks the chunks (a software pipeline:
//     chunk c + 1's sums and w x are computed while the state advances by chunk c):
//     the running sums (written to the workspace for pass 2), w x, and S kept in registers
//     as mma accumulators; it writes the state entering each chunk, rounded to the dtype
//     (the precision pass 2's product takes it in anyway), to the workspace: one
//     [head_dim x d_state] tile per (chunk, head), as many bytes as x itself at head_dim 64
//     and d_state 128, instead of upstream's fp32 chunk states written, read, rewritten and
//     read again.
//   pass 2 `output_kernel`, one CTA per (chunk, head, kOP = 64 channels), all independent:
//     C_i . S_in and the masked intra-chunk products, plus D x. 8 warps, warp w owning rows
//     16w..16w+15: the C . B^T blocks above the diagonal are skipped, and each 16-column block
//     of it is decayed, rounded and multiplied into y at once (never stored whole). Decays
//     exp(cum_i - cum_j) factor into a row and a column weight left of the diagonal (4
//     exponentials per lane per block instead of 8, no positive exponents); only the
//     diagonal block takes them per element.
//     C . B^T is recomputed per head (upstream stores it per group): at mamba2-2.7b it is 72
//     of a warp's ~172 mma per chunk, cheaper than a third kernel and its memory traffic.
// Measured (H200, 8k tokens, one sequence): mamba2-2.7b 460-472 us in runs 25-27, 413.6-417.7
// us with the state columns split (runs 29-31; the one-pass kernel: 869 us), 390.9-391.1 us
// with the unrolled tile loads and the pipelined state pass (runs 57-59); Codestral 568-602 ->
// 509-511 us (unsplit: 512 CTAs would not fit one wave); at equal model width 1.68x faster
// than the Mamba-1 selective_scan (655 us, same call), short of issue 7's 2x.
// ncu (mamba2-2.7b): the state pass 314 us unsplit (run 26: 0.25 issued per cycle per
// scheduler, 7% occupancy), 275 us split (run 29: 15%), 200.6 us pipelined (run 59: per
// issued instruction its warps stall 1.65 cycles on the long scoreboard, most likely the
// cp.async wait for each chunk's tiles, issued one chunk ahead); the output pass 192 us at 22%
// occupancy (registers and shared memory allow 2 CTAs per SM; run 58, per issued instruction:
// short scoreboard 2.44, wait 1.87, long scoreboard 1.76).
// On sm_90a pass 2 is fk/ssd/output_sm90.cuh wherever its limits hold (warpgroup MMA, C.B^T
// once per CTA for a run of a group's head slices): runs 61-63, the output pass 192 -> 122 us
// and SSD 391 -> 321 us at mamba2-2.7b (2.04x the selective_scan), Codestral 510 -> 419 us;
// with pass 1's dt loads truly an iteration ahead (run 65) 316.5 us (2.09x) and 410 us.
// Pass 1 is now 193 of those 316.5 us: ~816 instructions per warp and chunk at 0.44 issued
// per cycle per scheduler; next, fewer instructions per chunk or time-split sequences.
// On sm_90a pass 1 is fk/ssd/state_sm90.cuh under the output pass's limits (warpgroup MMA with
// the state in accumulators, tiles by TMA, the sums from the pre-pass fk/ssd/chunk_sums.cuh):
// runs 120-125 in results/h200 (SSD 216 us at mamba2-2.7b, 2.25x the ring selective_scan);
// FK_SSD_STATE_PASS=mma keeps the mma.sync pass.
// Channels and state sizes are padded to the tiles (kSP / kOP; NT in {64, 128}) with zeros,
// which add nothing to any product; padding rows of a chunk get dte = 0 (no decay, no input).
//
// f32 inputs, and d_state > 128, take `seq_kernel`: the plain recurrence, one warp per
// (sequence, head, channel) with the state spread over the lanes. It is exact in fp32 and is
// not a performance path (f32 Mamba-2 serves only as a reference).
#include "fk/attention/sm80_mma.cuh"
#include "fk/ops/ssd_chunk_scan.h"
#include "fk/ssd/chunks.cuh"
#include "fk/ssm.cuh"

#ifndef FK_SM90A
#define FK_SM90A 0
#endif
#if FK_SM90A
#include "fk/ssd/chunk_sums.cuh"
#include "fk/ssd/output_sm90.cuh"
#include "fk/ssd/state_sm90.cuh"
#include "fk/tma_host.cuh"
#endif

#include <cstdlib>
#include <cstring>
#include <initializer_list>
#include <type_traits>

namespace {

using fk::attn::cp_async16;
using fk::attn::cp_async_commit;
using fk::attn::cp_async_wait;
using fk::attn::ldmatrix_x4;
using fk::attn::ldmatrix_x4_trans;
using fk::attn::MmaType;
using fk::attn::smem_addr;
using fk::ssd::rows_left;
using fk::ssd::step_of;

constexpr int kQ = FK_SSD_CHUNK_SCAN_CHUNK;  // tokens per chunk
constexpr int kSP = 32;                      // channels of a head per state-pass CTA
constexpr int kOP = 64;                      // channels of a head per output CTA
constexpr int kWarps = 4;                    // of the state pass and of seq_kernel
constexpr int kThreads = kWarps * 32;        // = kQ: one chunk row per thread in the state pass
constexpr int kOutWarps = kQ / 16;           // output pass: 16 rows per warp
constexpr int kOutThreads = kOutWarps * 32;
static_assert(kThreads == kQ, "the state pass gives each thread one row of the chunk");

// The workspace (see fk_ssd_chunk_scan_workspace_bytes): chunk-entry states, running sums of
// dt*A in log2 units, effective steps.
template <typename T, int NT>
struct Work {
    T* states;
    float* cum;
    float* dte;
    // The parts' offsets, from the contract header's size functions.
    __host__ static Work of(const fk_ssd_chunk_scan_params& p) {
        static_assert(sizeof(T) == 2, "the workspace holds 16-bit states");
        unsigned char* base = static_cast<unsigned char*>(p.workspace);
        const int64_t states = fk_ssd_chunk_scan_workspace_state_bytes(p.tokens, p.batch, p.heads, p.head_dim, p.d_state);
        const int64_t sums = fk_ssd_chunk_scan_workspace_sum_bytes(p.tokens, p.heads);
        return {reinterpret_cast<T*>(base), reinterpret_cast<float*>(base + states), reinterpret_cast<float*>(base + states + sums)};
    }
    // The incoming state of chunk `slot`, head h, channel row pp (NT entries).
    __device__ T* state_row(const fk_ssd_chunk_scan_params& p, int64_t slot, int h, int pp) const {
        return states + ((slot * p.heads + h) * p.head_dim + pp) * static_cast<int64_t>(NT);
    }
};

// rows x cols (cols < COLS valid) of a strided global matrix into a [kQ][PITCH] tile (ROWS
// rows), zero outside. `vec`: 16-byte cp.async (asynchronous; the caller commits the group),
// else plain element loads (complete when this returns).
// The vector path is unrolled over whole passes of the block: a thread keeps one 16-byte column
// piece and steps THREADS / (COLS / 8) rows per pass, so its addresses are a base plus constant
// offsets. (The strided loop it replaces, `i += THREADS` with a division per piece, was ~12
// instructions per copy and sat on the state pass's serial path once per chunk.)
template <typename T, int ROWS, int COLS, int PITCH, int THREADS>
__device__ __forceinline__ void load_tile(T* dst, const T* src, int64_t stride, int rows, int cols, bool vec) {
    if (vec) {
        constexpr int kVecs = COLS / 8;
        static_assert(THREADS % kVecs == 0, "every thread keeps one column piece");
        constexpr int kStep = THREADS / kVecs;  // rows per pass
        constexpr int kPasses = (ROWS + kStep - 1) / kStep;
        const int v = threadIdx.x % kVecs, r0 = threadIdx.x / kVecs;
        const bool col_ok = v * 8 < cols;
        const T* g = src + r0 * stride + v * 8;
        const uint32_t d = smem_addr(dst + r0 * PITCH + v * 8);
#pragma unroll
        for (int it = 0; it < kPasses; ++it) {
            const int r = r0 + it * kStep;
            if (ROWS % kStep != 0 && r >= ROWS) break;
            const bool ok = col_ok && r < rows;
            cp_async16(d + it * kStep * PITCH * static_cast<uint32_t>(sizeof(T)), ok ? g + it * kStep * stride : src, ok);
        }
    } else {
        for (int i = threadIdx.x; i < ROWS * COLS; i += THREADS) {
            const int r = i / COLS, col = i % COLS;
            dst[r * PITCH + col] = (r < rows && col < cols) ? src[r * stride + col] : fk::from_float<T>(0.f);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Pass 1: the state, chunk by chunk.

// Shared memory of the state pass: three x slots (chunk c + 2 landing, c + 1 being scaled
// into w*x in place, c's w*x feeding the state product) and two B slots (c + 1 landing, c in
// use): as many bytes as the earlier two stages of x and B plus one w*x tile. Rows are padded
// by 16 bytes so that the 8 row addresses of one ldmatrix (and of the 16-byte row loads of the
// w*x step) fall in 8 different 16-byte bank groups (pitches of 80, 144 and 272 bytes: odd
// multiples of 16 B).
template <int NC>
struct StateSmem {
    static constexpr int kXP = kSP + 8;  // x and w*x row pitch (elements)
    static constexpr int kBP = NC + 8;   // B row pitch (elements)
    static constexpr int kX = kQ * kXP * 2;
    static constexpr int kB = kQ * kBP * 2;
    static constexpr int kXSlots = 3, kBSlots = 2;
    static constexpr int kBOffset = kXSlots * kX;
    static constexpr int kBytes = kBOffset + kBSlots * kB;
};

// One CTA walks all of a sequence's chunks, so the pass is bound by its serial path per chunk.
// Only the state product (D below: S = exp(cum_last) S + (w x)^T B) depends on the previous
// chunk; the steps, their running sums and w*x (A, C) do not. The loop is therefore a software
// pipeline one chunk deep: iteration c advances the state by chunk c while computing chunk
// c + 1's sums and w*x, so the two independent chains interleave, and one barrier per chunk
// suffices (it publishes w*x(c + 1) and frees the slots of c - 1 for the loads of c + 2 and
// B(c + 1)). Run 57 (the two-barrier loop: A, C, barrier, D, barrier): ~6,000 cycles per chunk
// for ~770 warp instructions at 2.4 warps per scheduler. The pipeline took the pass from 211.8
// to 204.2 us (ncu, runs 57-58), far less than the chain it removed: the waits that remain are
// in the file header.
// Each warp computes the running sums of all kQ rows itself (4 rows per lane) instead of
// exchanging per-warp totals through shared memory, and the raw dt rows are loaded into
// registers two chunks ahead (plain loads: dt rows are 2 bytes, too narrow for cp.async; see
// the prologue for why two register sets).
// A CTA owns NC of the NT state columns (NC = NT, or NT/2 when the columns are split over two
// CTAs): a split halves each CTA's B tile and products and doubles the CTAs, which is what a
// pass bound by its serial path per chunk needs when one wave of CTAs leaves SMs idle.
template <typename T, int NT, int NC>
__global__ void __launch_bounds__(kThreads, NC == NT ? 2 : 3) state_kernel(const fk_ssd_chunk_scan_params p, const Work<T, NT> ws, bool vec) {
    using L = StateSmem<NC>;
    using M = MmaType<T>;
    constexpr int kMT = kSP / 16;     // 16-row tiles of the state (its head_dim side)
    constexpr int kNW = NC / kWarps;  // state columns per warp
    constexpr int kNWT = kNW / 8;     // ... in 8-column mma tiles (2 or 4)
    constexpr int kSeg = kQ / 32;     // rows per lane in the running sums
    static_assert(kNWT % 2 == 0 && kSP % 16 == 0 && kSP % 8 == 0, "tiles are loaded in pairs");
    extern __shared__ __align__(16) unsigned char smem[];
    auto sx = [&](int slot) { return reinterpret_cast<T*>(smem + slot * L::kX); };
    auto sb = [&](int slot) { return reinterpret_cast<T*>(smem + L::kBOffset + slot * L::kB); };

    const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
    const int g = lane / 4, c4 = lane % 4;  // mma fragment coordinates
    // This CTA: head h, its channels pc .. pc + P - 1 and state columns n0 .. n0 + NC - 1, of
    // sequence s.
    constexpr int kColSplits = NT / NC;
    const int splits = (p.head_dim + kSP - 1) / kSP;
    const int n0 = (blockIdx.x % kColSplits) * NC, hp = blockIdx.x / kColSplits;
    const int h = hp / splits, pc = (hp % splits) * kSP, s = blockIdx.y;
    const int P = min(kSP, p.head_dim - pc), N = p.d_state, grp = h / (p.heads / p.ngroups);
    const int NV = min(NC, N - n0);  // this CTA's real state columns (may be <= 0 past d_state)
    const int64_t start = p.cu_seqlens[s], end = p.cu_seqlens[s + 1];
    const int64_t slot0 = start / kQ + s;  // workspace slot of the sequence's first chunk
    const T* xg = static_cast<const T*>(p.x) + static_cast<int64_t>(h) * p.head_dim + pc;
    const T* bg = static_cast<const T*>(p.B) + static_cast<int64_t>(grp) * N + n0;
    const T* dtg = static_cast<const T*>(p.dt) + h;
    const float a2 = p.A[h] * fk::kLog2e;  // dt*A in log2 units, so decays are one ex2
    const float dtb = p.dt_bias ? p.dt_bias[h] : 0.f;
    // The slice's first state row: rows pc.. of [batch, heads, head_dim, d_state].
    const int64_t state0 = ((static_cast<int64_t>(s) * p.heads + h) * p.head_dim + pc) * N;

    // The running state: tile (mt, nt) element i is (p = mt*16 + g + 8*(i/2), n = warp*kNW + nt*8 + 2*c4 + i%2).
    float S[kMT][kNWT][4];
    auto each_state = [&](auto&& f) {
#pragma unroll
        for (int mt = 0; mt < kMT; ++mt)
#pragma unroll
            for (int nt = 0; nt < kNWT; ++nt)
#pragma unroll
                for (int i = 0; i < 4; ++i) f(S[mt][nt][i], mt * 16 + g + 8 * (i / 2), n0 + warp * kNW + nt * 8 + 2 * c4 + i % 2);
    };
    each_state([&](float& v, int pp, int n) { v = (p.initial_state && pp < P && n < N) ? p.initial_state[state0 + pp * N + n] : 0.f; });

    const int chunks = static_cast<int>((end - start + kQ - 1) / kQ);
    auto chunk_start = [&](int ci) { return start + static_cast<int64_t>(ci) * kQ; };
    auto load_x = [&](int ci) {
        const int64_t t0 = chunk_start(ci);
        load_tile<T, kQ, kSP, L::kXP, kThreads>(sx(ci % L::kXSlots), xg + t0 * p.x_stride, p.x_stride, rows_left(t0, end), P, vec);
    };
    auto load_b = [&](int ci) {
        const int64_t t0 = chunk_start(ci);
        load_tile<T, kQ, NC, L::kBP, kThreads>(sb(ci % L::kBSlots), bg + t0 * p.b_stride, p.b_stride, rows_left(t0, end), NV, vec);
    };
    // Raw dt of rows lane + 32k of chunk ci (0 past the end), kept in the dtype: converted to
    // float where prepare() uses it, one iteration later. (Run 64: loaded into floats, the
    // conversion sat right behind each load and waited for it: 25 % of the pass's stall
    // samples, all on the long scoreboard.)
    auto load_dt = [&](T (&raw)[kSeg], int ci) {
        const int64_t t0 = chunk_start(ci);
        const int rows = rows_left(t0, end);
#pragma unroll
        for (int k = 0; k < kSeg; ++k) {
            const int r = lane + 32 * k;
            raw[k] = r < rows ? dtg[(t0 + r) * p.dt_stride] : fk::from_float<T>(0.f);
        }
    };

    // (A) + (C) of chunk ci: the steps and their running sum over the chunk (all kQ rows in
    // every warp; padding rows get dte = 0: they decay nothing and add nothing, their x and B
    // being zero too), published for pass 2 by one CTA per head; then this thread's row r of
    // x scaled in place by w_r = exp(cum_last - cum_r) dte_r and rounded to the dtype, 8
    // channels (16 bytes) at a time. Returns cum_last, the chunk's total decay (log2 units).
    auto prepare = [&](const T (&raw)[kSeg], int ci) {
        const int64_t t0 = chunk_start(ci);
        const int rows = rows_left(t0, end);
        float d[kSeg], v[kSeg];
#pragma unroll
        for (int k = 0; k < kSeg; ++k) {
            d[k] = lane + 32 * k < rows ? step_of(fk::to_float(raw[k]), dtb, p) : 0.f;
            v[k] = d[k] * a2;
        }
#pragma unroll
        for (int o = 1; o < 32; o <<= 1)
#pragma unroll
            for (int k = 0; k < kSeg; ++k) {
                const float u = __shfl_up_sync(0xffffffffu, v[k], o);
                if (lane >= o) v[k] += u;
            }
        float last = 0.f, cum = 0.f, dr = 0.f;  // this thread's row r = 32*warp + lane
#pragma unroll
        for (int k = 0; k < kSeg; ++k) {
            if (k == warp) {
                cum = last + v[k];
                dr = d[k];
            }
            last += __shfl_sync(0xffffffffu, v[k], 31);
        }
        const int r = threadIdx.x;
        if (pc == 0 && n0 == 0 && r < rows) {  // one CTA per head publishes the sums pass 2 needs
            ws.cum[h * p.tokens + t0 + r] = cum;
            ws.dte[h * p.tokens + t0 + r] = dr;
        }
        const float wr = fk::ex2_ftz(last - cum) * dr;
        T* row = sx(ci % L::kXSlots) + r * L::kXP;
#pragma unroll
        for (int c = 0; c < kSP; c += 8) {
            const uint4 in = *reinterpret_cast<const uint4*>(row + c);
            const uint32_t w4[4] = {in.x, in.y, in.z, in.w};
            uint32_t o4[4];
#pragma unroll
            for (int q = 0; q < 4; ++q) {
                const T* two = reinterpret_cast<const T*>(&w4[q]);
                o4[q] = M::pack(wr * fk::to_float(two[0]), wr * fk::to_float(two[1]));
            }
            *reinterpret_cast<uint4*>(row + c) = make_uint4(o4[0], o4[1], o4[2], o4[3]);
        }
        return last;
    };

    // (B) The state entering chunk ci, rounded to the dtype, for pass 2's C . S_in.
    auto publish_state = [&](int ci) {
#pragma unroll
        for (int mt = 0; mt < kMT; ++mt)
#pragma unroll
            for (int hi = 0; hi < 2; ++hi) {
                const int pp = mt * 16 + g + 8 * hi;
                if (pp >= P) continue;
                T* row = ws.state_row(p, slot0 + ci, h, pc + pp);
#pragma unroll
                for (int nt = 0; nt < kNWT; ++nt)
                    *reinterpret_cast<uint32_t*>(row + n0 + warp * kNW + nt * 8 + 2 * c4) = M::pack(S[mt][nt][2 * hi], S[mt][nt][2 * hi + 1]);
            }
    };

    // (D) S = exp(cum_last) S + (w x)^T B over chunk ci (all kQ rows: padding rows of w x and
    // B are zero, so the loop needs no bound and unrolls whole).
    auto advance = [&](int ci, float last) {
        const T* wx = sx(ci % L::kXSlots);
        const T* bt = sb(ci % L::kBSlots);
        const float decay = fk::ex2_ftz(last);
        each_state([&](float& val, int, int) { val *= decay; });
#pragma unroll
        for (int kk = 0; kk < kQ / 16; ++kk) {
            uint32_t bf[kNWT][2];
#pragma unroll
            for (int nt = 0; nt < kNWT; nt += 2) {
                uint32_t b[4];
                ldmatrix_x4_trans(b, smem_addr(bt + (kk * 16 + ((lane / 8) % 2) * 8 + lane % 8) * L::kBP + warp * kNW + nt * 8 + (lane / 16) * 8));
                bf[nt][0] = b[0];
                bf[nt][1] = b[1];
                bf[nt + 1][0] = b[2];
                bf[nt + 1][1] = b[3];
            }
#pragma unroll
            for (int mt = 0; mt < kMT; ++mt) {
                uint32_t a[4];  // (w x)^T: rows p, columns t (stored [t][p]: a transposed load)
                ldmatrix_x4_trans(a, smem_addr(wx + (kk * 16 + (lane / 16) * 8 + lane % 8) * L::kXP + mt * 16 + ((lane / 8) % 2) * 8));
#pragma unroll
                for (int nt = 0; nt < kNWT; ++nt) M::mma(S[mt][nt], a, bf[nt][0], bf[nt][1]);
            }
        }
    };

    // Iteration ci: advance the state by chunk ci while preparing chunk ci + 1 from its raw dt
    // (`cur`), and start the loads of chunk ci + 2 (x, dt into `nxt`) and ci + 1 (B).
    auto iteration = [&](int ci, const T (&cur)[kSeg], T (&nxt)[kSeg], float& last) {
        cp_async_wait<0>();
        // Every warp has written w*x(ci) and finished advancing by ci - 1 (whose x and B slots
        // now take chunk ci + 2's x and ci + 1's B); x(ci + 1) and B(ci) are in.
        __syncthreads();
        if (ci + 2 < chunks) {
            load_x(ci + 2);
            load_dt(nxt, ci + 2);
        }
        if (ci + 1 < chunks) load_b(ci + 1);
        cp_async_commit();
        if (ci + 1 < chunks) {
            // Independent of the state: issued first so that it fills the mma chain's gaps.
            const float last_next = prepare(cur, ci + 1);
            advance(ci, last);
            publish_state(ci + 1);
            last = last_next;
        } else {
            advance(ci, last);
        }
    };

    // Prologue: x and B of chunk 0, x of chunk 1; chunk 0's sums and w*x; S_in of chunk 0.
    // The raw dt of two chunks live in two register sets that swap roles every iteration (the
    // loop is unrolled by two): a load lands in the set read one iteration later, so nothing
    // waits for it (with one set refilled by a register copy at the end of each iteration,
    // that copy waited for the load issued at the top of the same iteration). Run 59 against
    // run 58: Codestral 535 -> 510 us; mamba2-2.7b unchanged (391 us) and its long-scoreboard
    // stalls stayed, because the sets held floats and the conversion still waited right behind
    // each load (run 64's per-instruction samples); the sets now hold the raw dtype.
    T dt_a[kSeg] = {}, dt_b[kSeg] = {};
    float last = 0.f;  // cum_last of the chunk advanced next
    if (chunks > 0) {
        load_x(0);
        load_b(0);
        cp_async_commit();
        if (chunks > 1) load_x(1);
        cp_async_commit();
        load_dt(dt_b, 0);
        if (chunks > 1) load_dt(dt_a, 1);
        cp_async_wait<1>();
        __syncthreads();  // chunk 0's x (copied by any thread) is visible to its row's thread
        last = prepare(dt_b, 0);
        publish_state(0);
    }
    for (int ci = 0; ci < chunks; ci += 2) {
        iteration(ci, dt_a, dt_b, last);
        if (ci + 1 < chunks) iteration(ci + 1, dt_b, dt_a, last);
    }
    cp_async_wait<0>();

    if (p.final_state) {
        each_state([&](float& val, int pp, int n) {
            if (pp < P && n < N) p.final_state[state0 + pp * N + n] = val;
        });
    }
}

// ---------------------------------------------------------------------------------------------
// Pass 2: every chunk's outputs, independently.

template <int NT>
struct OutSmem {
    static constexpr int kXP = kOP + 8;  // x row pitch (elements): 144 bytes
    static constexpr int kBP = NT + 8;   // C, B and state row pitch
    static constexpr int kC = 0;
    static constexpr int kB = kC + kQ * kBP * 2;
    static constexpr int kX = kB + kQ * kBP * 2;
    static constexpr int kS = kX + kQ * kXP * 2;
    static constexpr int kCum = kS + kOP * kBP * 2;
    static constexpr int kDte = kCum + kQ * 4;
    static constexpr int kBytes = kDte + kQ * 4;
};

template <typename T, int NT>
__global__ void __launch_bounds__(kOutThreads, 2) output_kernel(const fk_ssd_chunk_scan_params p, const Work<T, NT> ws, bool vec) {
    using L = OutSmem<NT>;
    using M = MmaType<T>;
    constexpr int kKS = NT / 16;  // k-steps over the state
    constexpr int kNP = kOP / 8;  // 8-channel output tiles
    extern __shared__ __align__(16) unsigned char smem[];
    T* const sc = reinterpret_cast<T*>(smem + L::kC);
    T* const sb = reinterpret_cast<T*>(smem + L::kB);
    T* const sx = reinterpret_cast<T*>(smem + L::kX);
    T* const ss = reinterpret_cast<T*>(smem + L::kS);
    float* const scum = reinterpret_cast<float*>(smem + L::kCum);
    float* const sdte = reinterpret_cast<float*>(smem + L::kDte);

    const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
    const int g = lane / 4, c4 = lane % 4;
    const int64_t q = blockIdx.x;
    const fk::ssd::SlotChunk chunk = fk::ssd::chunk_of_slot(p, q);
    if (chunk.rows == 0) return;  // a slot past the sequence's last chunk
    const int64_t t0 = chunk.t0;
    const int rows = chunk.rows;

    const int splits = (p.head_dim + kOP - 1) / kOP;
    const int h = blockIdx.y / splits, pc = (blockIdx.y % splits) * kOP;
    const int P = min(kOP, p.head_dim - pc), N = p.d_state, grp = h / (p.heads / p.ngroups);
    const int64_t bc_col = static_cast<int64_t>(grp) * N;
    // Two load groups: C and the incoming state first (the C . S_in product starts on them),
    // then B and x (the intra-chunk part).
    load_tile<T, kQ, NT, L::kBP, kOutThreads>(sc, static_cast<const T*>(p.C) + t0 * p.c_stride + bc_col, p.c_stride, rows, N, vec);
    load_tile<T, kOP, NT, L::kBP, kOutThreads>(ss, ws.state_row(p, q, h, pc), NT, P, NT, true);
    cp_async_commit();
    load_tile<T, kQ, NT, L::kBP, kOutThreads>(sb, static_cast<const T*>(p.B) + t0 * p.b_stride + bc_col, p.b_stride, rows, N, vec);
    load_tile<T, kQ, kOP, L::kXP, kOutThreads>(sx, static_cast<const T*>(p.x) + t0 * p.x_stride + static_cast<int64_t>(h) * p.head_dim + pc, p.x_stride, rows, P, vec);
    cp_async_commit();
    for (int r = threadIdx.x; r < kQ; r += kOutThreads) {
        const bool in = r < rows;
        scum[r] = in ? ws.cum[h * p.tokens + t0 + r] : 0.f;
        sdte[r] = in ? ws.dte[h * p.tokens + t0 + r] : 0.f;
    }
    cp_async_wait<1>();
    __syncthreads();

    const int i0 = warp * 16;  // this warp's rows
    const bool active = i0 < rows;
    uint32_t cf[kKS][4];       // C_i, the A operand of both products
    float Y[kNP][4] = {};      // tile np element e: (i0 + g + 8*(e/2), np*8 + 2*c4 + e%2)
    // Decays are factored so that no exponent is positive (cum falls along the chunk): the
    // state term and the blocks left of the diagonal are computed relative to row i0 and
    // scaled by exp(cum_i - cum_i0) afterwards; the diagonal block, added last, takes its
    // exact per-element decays.
    const float cum0 = scum[i0];
    if (active) {
#pragma unroll
        for (int kk = 0; kk < kKS; ++kk) ldmatrix_x4(cf[kk], smem_addr(sc + (i0 + lane % 16) * L::kBP + kk * 16 + (lane / 16) * 8));
        // exp(cum_i0) C_i . S_in (the state rows are the n side).
#pragma unroll
        for (int kk = 0; kk < kKS; ++kk)
#pragma unroll
            for (int np = 0; np < kNP; np += 2) {
                uint32_t b[4];
                ldmatrix_x4(b, smem_addr(ss + (np * 8 + (lane / 16) * 8 + lane % 8) * L::kBP + kk * 16 + ((lane / 8) % 2) * 8));
                M::mma(Y[np], cf[kk], b[0], b[1]);
                M::mma(Y[np + 1], cf[kk], b[2], b[3]);
            }
        const float in0 = fk::ex2_ftz(cum0);
#pragma unroll
        for (int np = 0; np < kNP; ++np)
#pragma unroll
            for (int e = 0; e < 4; ++e) Y[np][e] *= in0;
    }
    cp_async_wait<0>();
    __syncthreads();
    if (!active) return;  // no barrier follows

    // 16 columns of C . B^T at a time: weighted, rounded into an A fragment, multiplied into y.
    auto block = [&](int jb, auto&& weight) {
        float G[2][4] = {};
#pragma unroll
        for (int kk = 0; kk < kKS; ++kk) {
            uint32_t b[4];
            ldmatrix_x4(b, smem_addr(sb + (jb * 16 + (lane / 16) * 8 + lane % 8) * L::kBP + kk * 16 + ((lane / 8) % 2) * 8));
            M::mma(G[0], cf[kk], b[0], b[1]);
            M::mma(G[1], cf[kk], b[2], b[3]);
        }
#pragma unroll
        for (int t = 0; t < 2; ++t)
#pragma unroll
            for (int e = 0; e < 4; ++e) G[t][e] *= weight(g + 8 * (e / 2), jb * 16 + t * 8 + 2 * c4 + e % 2);
        const uint32_t a[4] = {M::pack(G[0][0], G[0][1]), M::pack(G[0][2], G[0][3]), M::pack(G[1][0], G[1][1]), M::pack(G[1][2], G[1][3])};
#pragma unroll
        for (int np = 0; np < kNP; np += 2) {
            uint32_t b[4];
            ldmatrix_x4_trans(b, smem_addr(sx + (jb * 16 + ((lane / 8) % 2) * 8 + lane % 8) * L::kXP + np * 8 + (lane / 16) * 8));
            M::mma(Y[np], a, b[0], b[1]);
            M::mma(Y[np + 1], a, b[2], b[3]);
        }
    };
    // Left of the diagonal: a column weight exp(cum_i0 - cum_j) dte_j (<= 1), 4 per lane.
#pragma unroll 1
    for (int jb = 0; jb < warp; ++jb) {
        float wc[2][2];
#pragma unroll
        for (int t = 0; t < 2; ++t)
#pragma unroll
            for (int u = 0; u < 2; ++u) {
                const int j = jb * 16 + t * 8 + 2 * c4 + u;
                wc[t][u] = fk::ex2_ftz(cum0 - scum[j]) * sdte[j];
            }
        block(jb, [&](int, int j) { return wc[(j / 8) % 2][j % 2]; });
    }
    const float cum_lo = scum[i0 + g], cum_hi = scum[i0 + g + 8];
    const float r_lo = fk::ex2_ftz(cum_lo - cum0), r_hi = fk::ex2_ftz(cum_hi - cum0);
#pragma unroll
    for (int np = 0; np < kNP; ++np) {
        Y[np][0] *= r_lo;
        Y[np][1] *= r_lo;
        Y[np][2] *= r_hi;
        Y[np][3] *= r_hi;
    }
    // The diagonal block, masked to j <= i, with exact decays.
    block(warp, [&](int ii, int j) {
        const int i = i0 + ii;
        return j <= i ? fk::ex2_ftz((ii < 8 ? cum_lo : cum_hi) - scum[j]) * sdte[j] : 0.f;
    });

    // y + D x, stored as pairs of channels.
    const float Dh = p.D ? p.D[h] : 0.f;
    T* outg = static_cast<T*>(p.out) + static_cast<int64_t>(h) * p.head_dim + pc;
#pragma unroll
    for (int np = 0; np < kNP; ++np)
#pragma unroll
        for (int hi2 = 0; hi2 < 2; ++hi2) {
            const int i = i0 + g + 8 * hi2, pp = np * 8 + 2 * c4;
            if (i >= rows || pp >= P) continue;
            const T* xs = sx + i * L::kXP + pp;
            const float y0 = Y[np][2 * hi2] + Dh * fk::to_float(xs[0]);
            const float y1 = Y[np][2 * hi2 + 1] + Dh * fk::to_float(xs[1]);
            T* o = outg + (t0 + i) * p.out_stride + pp;
            if (vec) {
                *reinterpret_cast<uint32_t*>(o) = M::pack(y0, y1);
            } else {
                o[0] = fk::from_float<T>(y0);
                if (pp + 1 < P) o[1] = fk::from_float<T>(y1);
            }
        }
}

// The plain recurrence: one warp per (channel p, head, sequence); lane l holds states
// l, l+32, ... (NPL of them).
template <typename T, int NPL>
__global__ void __launch_bounds__(kThreads) seq_kernel(const fk_ssd_chunk_scan_params p) {
    const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
    const int P = p.head_dim, N = p.d_state;
    const int pp = blockIdx.x * kWarps + warp, h = blockIdx.y, s = blockIdx.z;
    if (pp >= P) return;
    const int grp = h / (p.heads / p.ngroups);
    const int64_t start = p.cu_seqlens[s], end = p.cu_seqlens[s + 1];
    const T* x = static_cast<const T*>(p.x) + static_cast<int64_t>(h) * P + pp;
    const T* dt = static_cast<const T*>(p.dt) + h;
    const T* B = static_cast<const T*>(p.B) + static_cast<int64_t>(grp) * N;
    const T* C = static_cast<const T*>(p.C) + static_cast<int64_t>(grp) * N;
    T* out = static_cast<T*>(p.out) + static_cast<int64_t>(h) * P + pp;
    const float a2 = p.A[h] * fk::kLog2e;
    const float dtb = p.dt_bias ? p.dt_bias[h] : 0.f;
    const float Dh = p.D ? p.D[h] : 0.f;
    const int64_t state0 = ((static_cast<int64_t>(s) * p.heads + h) * P + pp) * N;

    float st[NPL];
#pragma unroll
    for (int k = 0; k < NPL; ++k) {
        const int n = lane + 32 * k;
        st[k] = (p.initial_state && n < N) ? p.initial_state[state0 + n] : 0.f;
    }
    for (int64_t t = start; t < end; ++t) {
        const float d = step_of(fk::to_float(dt[t * p.dt_stride]), dtb, p);
        const float decay = fk::ex2_ftz(d * a2);
        const float xv = fk::to_float(x[t * p.x_stride]);
        float acc = 0.f;
#pragma unroll
        for (int k = 0; k < NPL; ++k) {
            const int n = lane + 32 * k;
            if (n < N) {
                st[k] = fmaf(decay, st[k], d * xv * fk::to_float(B[t * p.b_stride + n]));
                acc = fmaf(st[k], fk::to_float(C[t * p.c_stride + n]), acc);
            }
        }
        acc = fk::warp_sum(acc);
        if (lane == 0) out[t * p.out_stride] = fk::from_float<T>(acc + Dh * xv);
    }
    if (p.final_state) {
#pragma unroll
        for (int k = 0; k < NPL; ++k) {
            const int n = lane + 32 * k;
            if (n < N) p.final_state[state0 + n] = st[k];
        }
    }
}

#if FK_SM90A
// The Hopper passes' limits: 16-byte rows (`vec`), head_dim and d_state multiples of 8,
// d_state within the tile, token coordinates within TMA's 32-bit ones.
template <int NT>
bool sm90_limits(const fk_ssd_chunk_scan_params* p, bool vec) {
    return vec && p->head_dim % 8 == 0 && p->d_state % 8 == 0 && p->d_state <= NT && p->tokens <= 0x7fffffff - kQ;
}
// Whether the environment variable `name` is "mma": the A/B switches that keep a pass on
// mma.sync for measurements (each call site reads its variable once).
inline bool env_is_mma(const char* name) {
    const char* v = std::getenv(name);
    return v != nullptr && std::strcmp(v, "mma") == 0;
}

// The Hopper passes launch dependent on the kernel before them (fk::launch_pdl) unless
// FK_SSD_PDL=0 (the A/B of run 143); launched plainly, their pdl_wait is a no-op.
template <typename Kernel, typename... Args>
cudaError_t launch_sm90_pass(Kernel kernel, dim3 grid, dim3 block, size_t smem, cudaStream_t stream, Args... args) {
    static const bool pdl = [] {
        const char* v = std::getenv("FK_SSD_PDL");
        return v == nullptr || std::strcmp(v, "0") != 0;
    }();
    if (pdl) return fk::launch_pdl(kernel, grid, block, smem, stream, args...);
    kernel<<<grid, block, smem, stream>>>(args...);
    return cudaGetLastError();
}

// The Hopper output pass (fk/ssd/output_sm90.cuh) takes the chunks whenever its limits hold.
// FK_SSD_OUTPUT_PASS=mma keeps the mma.sync pass.
template <int NT>
bool output_sm90_fits(const fk_ssd_chunk_scan_params* p, bool vec) {
    static const bool forced_mma = env_is_mma("FK_SSD_OUTPUT_PASS");
    return !forced_mma && sm90_limits<NT>(p, vec);
}

// The output pass's TMA map: out as [tokens][heads][head_dim], boxes of 64 x 1 x 16 (a warp's
// rows). False if it cannot be made.
inline bool encode_output_map(const fk_ssd_chunk_scan_params* p, CUtensorMap* omap) {
    using u64 = cuuint64_t;
    const u64 hd = static_cast<u64>(p->head_dim);
    const cuuint32_t box[3] = {64, 1, 16};
    const u64 dims[3] = {hd, static_cast<u64>(p->heads), static_cast<u64>(p->tokens)}, strides[2] = {hd * 2, static_cast<u64>(p->out_stride) * 2};
    return fk::encode_sw128_map<3>(omap, p->out, p->dtype, dims, strides, box);
}

// A CTA loads its chunk's C and B (and computes C . B^T) once for all its units (a head's
// 64-channel slice): few CTAs amortise that best, but the grid should still fill every SM.
// Model: a CTA costs its units plus ~1.5 units of loading C and B; CTAs run in waves of the
// resident count. Mamba2-2.7b at 8k tokens (65 slots, one group of 80 units, 132 SMs): 2
// CTAs per group, 40 units each (130 CTAs, one wave).
template <typename T, int NT>
cudaError_t launch_output_sm90(const fk_ssd_chunk_scan_params* p, const Work<T, NT>& ws, int64_t slots, const CUtensorMap& omap,
                               cudaStream_t stream) {
    constexpr int kStages = 4;
    using L = fk::ssd::OutSm90Layout<NT, kStages>;
    const auto kernel = fk::ssd::output_sm90_kernel<T, NT, kStages, Work<T, NT>>;
    int device = 0, sms = 0, per_sm = 0;
    cudaError_t e = cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, L::kAlloc);
    if (e == cudaSuccess) e = cudaGetDevice(&device);
    if (e == cudaSuccess) e = cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, device);
    if (e == cudaSuccess) e = cudaOccupancyMaxActiveBlocksPerMultiprocessor(&per_sm, kernel, fk::ssd::kOutSm90Threads, L::kAlloc);
    if (e != cudaSuccess) return e;
    if (per_sm < 1) return cudaErrorInvalidConfiguration;
    const int64_t upg = static_cast<int64_t>(p->heads / p->ngroups) * fk::ceil_div(p->head_dim, 64);
    const int64_t resident = static_cast<int64_t>(sms) * per_sm;
    int64_t units = upg;
    double best = -1.0;
    for (int64_t cpg = 1; cpg <= upg; ++cpg) {
        const int64_t u = fk::ceil_div(upg, cpg);
        const double cost = static_cast<double>(fk::ceil_div(slots * p->ngroups * cpg, resident)) * (static_cast<double>(u) + 1.5);
        if (best < 0.0 || cost < best) {
            best = cost;
            units = u;
        }
    }
    const int64_t ctas_y = p->ngroups * fk::ceil_div(upg, units);
    FK_REQUIRE(ctas_y <= 65535 && slots <= 0x7fffffff);
    // Programmatic dependent launch on the state pass: see output_sm90_kernel's pdl_wait.
    return launch_sm90_pass(kernel, dim3(static_cast<unsigned>(slots), static_cast<unsigned>(ctas_y)), dim3(fk::ssd::kOutSm90Threads), size_t(L::kAlloc),
                          stream, *p, ws, static_cast<int>(units), omap);
}

// The Hopper state pass (fk/ssd/state_sm90.cuh, after the sums' pre-pass) under the same
// limits as the Hopper output pass. FK_SSD_STATE_PASS=mma keeps the mma.sync pass (A/B).
template <int NT>
bool state_sm90_fits(const fk_ssd_chunk_scan_params* p, bool vec) {
    static const bool forced_mma = env_is_mma("FK_SSD_STATE_PASS");
    return !forced_mma && sm90_limits<NT>(p, vec);
}

// The TMA maps of the state pass: x as [tokens][heads][head_dim] and B as [tokens][groups]
// [d_state] with boxes of 64 x 1 x kQ (columns past a head's channels or a group's states are
// zero-filled), and the workspace's states as [slots][heads][head_dim][NT] with boxes of 64 x 16
// x 1 x 1 (one warp's rows). False if any cannot be made.
template <int NT>
bool encode_state_maps(const fk_ssd_chunk_scan_params* p, void* states, int64_t slots, CUtensorMap* xmap, CUtensorMap* bmap, CUtensorMap* smap) {
    using u64 = cuuint64_t;
    const u64 tokens = static_cast<u64>(p->tokens), hd = static_cast<u64>(p->head_dim), n = static_cast<u64>(p->d_state);
    const cuuint32_t box3[3] = {64, 1, static_cast<cuuint32_t>(kQ)}, box4[4] = {64, 16, 1, 1};
    const u64 xdims[3] = {hd, static_cast<u64>(p->heads), tokens}, xs[2] = {hd * 2, static_cast<u64>(p->x_stride) * 2};
    const u64 bdims[3] = {n, static_cast<u64>(p->ngroups), tokens}, bs[2] = {n * 2, static_cast<u64>(p->b_stride) * 2};
    const u64 sdims[4] = {NT, hd, static_cast<u64>(p->heads), static_cast<u64>(slots)};
    const u64 ss[3] = {NT * 2, hd * NT * 2, static_cast<u64>(p->heads) * hd * NT * 2};
    return fk::encode_sw128_map<3>(xmap, p->x, p->dtype, xdims, xs, box3) && fk::encode_sw128_map<3>(bmap, p->B, p->dtype, bdims, bs, box3) &&
           fk::encode_sw128_map<4>(smap, states, p->dtype, sdims, ss, box4);
}

template <typename T, int NT>
cudaError_t launch_state_sm90(const fk_ssd_chunk_scan_params* p, const Work<T, NT>& ws, int64_t slots, const CUtensorMap& xmap,
                              const CUtensorMap& bmap, const CUtensorMap& smap, cudaStream_t stream) {
    using L = fk::ssd::StateSm90Layout;
    const auto kernel = fk::ssd::state_sm90_kernel<T, NT, Work<T, NT>>;
    cudaError_t e = cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, L::kAlloc);
    if (e != cudaSuccess) return e;
    if (p->tokens > 0) {
        const int64_t head_blocks = fk::ceil_div(p->heads, fk::ssd::kSumHeads);
        FK_REQUIRE(slots <= 0x7fffffff);
        fk::ssd::chunk_sums_kernel<T, Work<T, NT>>
            <<<dim3(static_cast<unsigned>(slots), static_cast<unsigned>(head_blocks)), fk::ssd::kSumThreads, 0, stream>>>(*p, ws);
        e = cudaGetLastError();
        if (e != cudaSuccess) return e;
    }
    const int64_t ctas = static_cast<int64_t>(p->heads) * fk::ceil_div(p->head_dim, 64) * fk::ssd::state_blocks<NT>();
    FK_REQUIRE(ctas <= 0x7fffffff);
    // Programmatic dependent launch on the sums pre-pass: see state_sm90_kernel's pdl_wait.
    return launch_sm90_pass(kernel, dim3(static_cast<unsigned>(ctas), static_cast<unsigned>(p->batch)), dim3(fk::ssd::kStateSm90Threads), size_t(L::kAlloc),
                          stream, *p, ws, xmap, bmap, smap);
}
#endif

// Pass 1 on mma.sync (any sm_80+). It also runs for empty batches: it writes final_state (=
// initial_state, or zeros).
template <typename T, int NT>
cudaError_t launch_state_mma(const fk_ssd_chunk_scan_params* p, const Work<T, NT>& ws, bool vec, cudaStream_t stream) {
    const auto k1 = state_kernel<T, NT, NT>;
    constexpr int kSmem1 = StateSmem<NT>::kBytes;
    cudaError_t e = cudaFuncSetAttribute(k1, cudaFuncAttributeMaxDynamicSharedMemorySize, kSmem1);
    if (e != cudaSuccess) return e;
    const int64_t state_ctas = static_cast<int64_t>(p->heads) * fk::ceil_div(p->head_dim, kSP);
    if constexpr (NT == 128) {
        // Pass 1 walks each sequence's chunks in one CTA, so its time is one CTA's: split the
        // state columns over two CTAs when twice the CTAs still run in one wave (a second
        // wave would double the time), i.e. when one wave of unsplit CTAs leaves room.
        const auto k1s = state_kernel<T, NT, NT / 2>;
        constexpr int kSmem1s = StateSmem<NT / 2>::kBytes;
        int device = 0, sms = 0, per_sm = 0;
        e = cudaFuncSetAttribute(k1s, cudaFuncAttributeMaxDynamicSharedMemorySize, kSmem1s);
        if (e == cudaSuccess) e = cudaGetDevice(&device);
        if (e == cudaSuccess) e = cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, device);
        if (e == cudaSuccess) e = cudaOccupancyMaxActiveBlocksPerMultiprocessor(&per_sm, k1s, kThreads, kSmem1s);
        if (e != cudaSuccess) return e;
        if (p->d_state > NT / 2 && 2 * state_ctas * p->batch <= static_cast<int64_t>(sms) * per_sm) {
            k1s<<<dim3(static_cast<unsigned>(2 * state_ctas), p->batch), kThreads, kSmem1s, stream>>>(*p, ws, vec);
            return cudaGetLastError();
        }
    }
    k1<<<dim3(static_cast<unsigned>(state_ctas), p->batch), kThreads, kSmem1, stream>>>(*p, ws, vec);
    return cudaGetLastError();
}

template <typename T, int NT>
cudaError_t launch_tc(const fk_ssd_chunk_scan_params* p, cudaStream_t stream) {
    const int64_t need = fk_ssd_chunk_scan_workspace_bytes(p->tokens, p->batch, p->heads, p->head_dim, p->d_state, p->dtype);
    FK_REQUIRE(need == 0 || (p->workspace != nullptr && p->workspace_bytes >= need && reinterpret_cast<uintptr_t>(p->workspace) % 256 == 0));
    const int64_t out_ctas_y = static_cast<int64_t>(p->heads) * fk::ceil_div(p->head_dim, kOP);
    FK_REQUIRE(out_ctas_y <= 65535);
    // 16-byte loads need every row start 16-byte aligned: base pointers, strides and the
    // column offsets (of heads, channel slices and groups) all multiples of 8 elements.
    const void* ptrs[] = {p->x, p->B, p->C, p->out};
    bool vec = p->head_dim % 8 == 0 && p->d_state % 8 == 0;
    for (const void* q : ptrs) vec = vec && reinterpret_cast<uintptr_t>(q) % 16 == 0;
    for (int64_t st : {p->x_stride, p->b_stride, p->c_stride, p->out_stride}) vec = vec && st % 8 == 0;
    const Work<T, NT> ws = Work<T, NT>::of(*p);
    const int64_t slots = fk::ceil_div(p->tokens, kQ) + p->batch;
    cudaError_t e;
#if FK_SM90A
    CUtensorMap xmap{}, bmap{}, smap{};  // (unused without tokens: no chunk loads or stores)
    if (state_sm90_fits<NT>(p, vec) && (p->tokens == 0 || encode_state_maps<NT>(p, ws.states, slots, &xmap, &bmap, &smap)))
        e = launch_state_sm90<T, NT>(p, ws, slots, xmap, bmap, smap, stream);
    else
#endif
        e = launch_state_mma<T, NT>(p, ws, vec, stream);
    if (e != cudaSuccess || p->tokens == 0) return e;
#if FK_SM90A
    CUtensorMap omap{};
    if (output_sm90_fits<NT>(p, vec) && encode_output_map(p, &omap)) return launch_output_sm90<T, NT>(p, ws, slots, omap, stream);
#endif
    const auto k2 = output_kernel<T, NT>;
    constexpr int kSmem2 = OutSmem<NT>::kBytes;
    e = cudaFuncSetAttribute(k2, cudaFuncAttributeMaxDynamicSharedMemorySize, kSmem2);
    if (e != cudaSuccess) return e;
    k2<<<dim3(static_cast<unsigned>(slots), static_cast<unsigned>(out_ctas_y)), kOutThreads, kSmem2, stream>>>(*p, ws, vec);
    return cudaGetLastError();
}

template <typename T>
cudaError_t launch_seq(const fk_ssd_chunk_scan_params* p, cudaStream_t stream) {
    const dim3 grid(static_cast<unsigned>(fk::ceil_div(p->head_dim, kWarps)), p->heads, p->batch);
    if (p->d_state <= 32)
        seq_kernel<T, 1><<<grid, kThreads, 0, stream>>>(*p);
    else if (p->d_state <= 64)
        seq_kernel<T, 2><<<grid, kThreads, 0, stream>>>(*p);
    else if (p->d_state <= 128)
        seq_kernel<T, 4><<<grid, kThreads, 0, stream>>>(*p);
    else
        seq_kernel<T, 8><<<grid, kThreads, 0, stream>>>(*p);
    return cudaGetLastError();
}

template <typename T>
cudaError_t launch(const fk_ssd_chunk_scan_params* p, cudaStream_t stream) {
    if constexpr (std::is_same_v<T, float>) {
        return launch_seq<T>(p, stream);
    } else {
        if (p->d_state > 128) return launch_seq<T>(p, stream);
        return p->d_state <= 64 ? launch_tc<T, 64>(p, stream) : launch_tc<T, 128>(p, stream);
    }
}

}  // namespace

FK_OP_LAUNCHER(ssd_chunk_scan)(const fk_ssd_chunk_scan_params* p, cudaStream_t stream) {
    FK_REQUIRE(p != nullptr && stream != nullptr);
    FK_REQUIRE(p->tokens >= 0 && p->batch > 0 && p->batch <= 65535 && p->heads > 0 && p->heads <= 65535);
    FK_REQUIRE(p->ngroups > 0 && p->heads % p->ngroups == 0);
    FK_REQUIRE(p->head_dim >= 1 && p->head_dim <= FK_SSD_CHUNK_SCAN_MAX_HEADDIM);
    FK_REQUIRE(p->d_state >= 1 && p->d_state <= FK_SSD_CHUNK_SCAN_MAX_DSTATE);
    const int64_t width = static_cast<int64_t>(p->heads) * p->head_dim, bc = static_cast<int64_t>(p->ngroups) * p->d_state;
    FK_REQUIRE(p->x_stride >= width && p->out_stride >= width && p->dt_stride >= p->heads);
    FK_REQUIRE(p->b_stride >= bc && p->c_stride >= bc);
    FK_REQUIRE(p->cu_seqlens != nullptr && p->A != nullptr);
    FK_REQUIRE(p->tokens == 0 || (p->out && p->x && p->dt && p->B && p->C));
    FK_REQUIRE(!(p->dt_min > p->dt_max));
    FK_DISPATCH_FLOAT(p->dtype, T, { return launch<T>(p, stream); });
    return cudaSuccess;
}
