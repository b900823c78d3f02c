// Mamba-1 batch-1 decode step as one persistent kernel, second design (issue 7: single-request
// decode >= 80 % of the weight-streaming roofline; the per-op step is at 63 % on the H200).
//
// A standalone program (no cargo): it builds random bf16 weights for a stack of Mamba-1 blocks
// on the GPU, runs one decode token through them with plain, obviously-correct reference
// kernels (one small kernel per step of the block, the roundings of the per-op path), then
// with the persistent kernel, compares every layer's intermediates (xc, x_proj's output, y),
// the final residual and both states, and times the persistent step (CUDA events, median).
//
// Why a second design (the first, `mamba_decode_layers` in cfed2fb..a53e69b, was wrong and at
// 46 us per layer): the exposed latency per layer must stay under ~5 us, so
//   * three grid barriers per layer, not four: x_proj is reduced across CTAs by integer
//     (fixed-point) atomics from each CTA's partial product over its own channels, so no
//     CTA needs the whole xc and the sum is exact and order-independent (deterministic);
//   * each CTA owns a contiguous channel range for in_proj (x and z rows), the conv, x_proj's
//     partial (x_proj transposed to [inner, X] once, so the CTA's slice is contiguous), dt_proj
//     and the state update, and a contiguous range of out_proj rows;
//   * one producer thread streams the CTA's weights in use order through a ring of shared-
//     memory stages (cp.async.bulk), never waiting for activations, so HBM keeps streaming
//     through the barriers; the consumer warps hold each phase's input vector in registers.
// Per layer: N (rms_norm of the residual, every CTA) -> IN (x, z rows) -> conv -> XP partial
// + atomics | B1 | dt_proj + state update -> y | B2 | OUT rows + residual add | B3.
//
// Build and run on an sm_90 GPU: nvcc -O3 -std=c++17 -gencode=arch=compute_90a,code=sm_90a
//   mamba_decode_persistent.cu -o mdp && ./mdp [layers=64] [check_layers=4] [model=2.8b|130m]
#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <type_traits>
#include <vector>

#include "bench_util.cuh"

using T = __nv_bfloat16;

constexpr int kN = 16;              // d_state
constexpr int kMaxLayers = 64;
constexpr int kConsumerWarps = 7;   // + 1 producer warp: 8 warps, 2 per SM sub-partition, 255 registers
constexpr int kConsumers = kConsumerWarps * 32;
constexpr int kThreads = kConsumers + 32;
constexpr int kStageBytes = 20480;
constexpr int kMaxStages = 16;
constexpr int kStageChunks = 3;     // 16-byte chunks per consumer when staging a vector (<= 5376 elements)
constexpr int kStateLanes = 4;      // lanes per channel in the state update
constexpr float kLog2e = 1.4426950408889634f;
constexpr int kMarks = 16;          // trace stamps per layer (see MARK)
constexpr double kFixedScale = 4294967296.0;  // x_proj partials as signed 32.32 fixed point

struct Layer {
    const T* norm_w;      // [H]
    const T* in_proj;     // [2D, H]
    const T* conv_w;      // [D, W]
    const T* conv_b;      // [D]
    const T* xpT;         // [D, X]  (x_proj transposed)
    const T* dt_proj;     // [D, R]
    const float* dt_bias; // [D]
    const float* A;       // [D, N]
    const float* Dskip;   // [D]
    const T* out_proj;    // [H, D]
    const T* out_proj_t;  // [D, H]  (out_proj transposed: a CTA's own channels' columns, contiguous)
    T* conv_state;        // [D, W-1]
    float* ssm_state;     // [D, N]
};

struct Params {
    int H, D, R, X, W, layers;
    float eps;
    const Layer* layer;            // [layers], device memory
    T* residual;                   // [H] in/out
    unsigned long long* acc;       // [layers][X] fixed-point x_proj sums, zeroed before the launch
    T* y;                          // [layers][D]
    T* xc;                         // [layers][D] (written for the comparison; a product op would not keep it)
    unsigned int* counter;         // grid barrier, zeroed before the launch
    long long* trace;              // [grid][layers][kMarks] clock64 stamps of CTA thread 0 and the producer, or null
    int barrier_mode;              // 0 fence + atomicAdd, 1 red.release, 2 none, 3 the weight stream alone (2, 3: timing only, wrong results)
    int split_b1;                  // 1: in_proj's z rows after x_proj, between B1's arrival and its wait
    int dyn;                       // rows claimed from grid-wide counters: 1 in_proj's z rows, 2 out_proj's rows (bits)
    unsigned* claims;              // [layers][2] claim counters, zeroed before the launch
    float* y_raw;                  // [D] y before the z gate (dyn & 1: gated when staged for out_proj)
    T* zg;                         // [D] in_proj's z (dyn & 1)
    int outch;                     // 1: out_proj split by channels (each CTA its own y's columns), summed in fixed point: no B2
    unsigned long long* acc_out;   // [layers][H] out_proj's fixed-point sums, zeroed before the launch
};

// ---------------------------------------------------------------------------------------------
// small device helpers
__device__ __forceinline__ float bf(T v) { return __bfloat162float(v); }
__device__ __forceinline__ T tb(float v) { return __float2bfloat16(v); }
__device__ __forceinline__ float rnd(float v) { return bf(tb(v)); }
__device__ __forceinline__ float silu(float x) { return x / (1.f + expf(-x)); }
__device__ __forceinline__ float softplus(float x) { return x > 20.f ? x : log1pf(expf(x)); }
__device__ __forceinline__ float warp_sum(float v) {
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}
__device__ __forceinline__ float dot8(uint4 w, uint4 x, float acc) {
    const __nv_bfloat162* a = reinterpret_cast<const __nv_bfloat162*>(&w);
    const __nv_bfloat162* b = reinterpret_cast<const __nv_bfloat162*>(&x);
#pragma unroll
    for (int e = 0; e < 4; ++e) {
        const float2 fa = __bfloat1622float2(a[e]), fb = __bfloat1622float2(b[e]);
        acc = fmaf(fa.x, fb.x, fmaf(fa.y, fb.y, acc));
    }
    return acc;
}
__device__ __forceinline__ uint32_t smem_addr(const void* p) { return static_cast<uint32_t>(__cvta_generic_to_shared(p)); }
__device__ __forceinline__ void mbar_init(uint32_t bar, uint32_t count) {
    asm volatile("mbarrier.init.shared::cta.b64 [%0], %1;\n" ::"r"(bar), "r"(count) : "memory");
}
__device__ __forceinline__ void mbar_arrive(uint32_t bar) {
    asm volatile("{\n.reg .b64 st;\nmbarrier.arrive.shared::cta.b64 st, [%0];\n}\n" ::"r"(bar) : "memory");
}
__device__ __forceinline__ void mbar_arrive_expect_tx(uint32_t bar, uint32_t bytes) {
    asm volatile("mbarrier.arrive.expect_tx.shared::cta.b64 _, [%0], %1;\n" ::"r"(bar), "r"(bytes) : "memory");
}
__device__ __forceinline__ void mbar_wait(uint32_t bar, uint32_t parity) {
    asm volatile(
        "{\n.reg .pred done;\n"
        "WAIT_%=:\n"
        "mbarrier.try_wait.parity.shared::cta.b64 done, [%0], %1;\n"
        "@!done bra WAIT_%=;\n}\n" ::"r"(bar),
        "r"(parity)
        : "memory");
}
__device__ __forceinline__ void bulk_load(uint32_t dst, const void* src, uint32_t bytes, uint32_t bar) {
    asm volatile("cp.async.bulk.shared::cluster.global.mbarrier::complete_tx::bytes [%0], [%1], %2, [%3];\n" ::"r"(dst),
                 "l"(reinterpret_cast<uint64_t>(src)), "r"(bytes), "r"(bar)
                 : "memory");
}
__device__ __forceinline__ unsigned ld_acquire(const unsigned* p) {
    unsigned v;
    asm volatile("ld.acquire.gpu.global.u32 %0, [%1];\n" : "=r"(v) : "l"(p) : "memory");
    return v;
}
__device__ __forceinline__ void red_release(unsigned* p) {
    asm volatile("red.release.gpu.global.add.u32 [%0], 1;\n" ::"l"(p) : "memory");
}
// bar.sync is .aligned: every lane of each warp must execute it together, so reconverge first.
__device__ __forceinline__ void consumers_sync() {
    __syncwarp();
    asm volatile("bar.sync 1, %0;\n" ::"n"(kConsumers) : "memory");
}

// Where a layer's time goes: clock64 at phase boundaries, by consumer thread 0 (marks 0-12)
// and by the producer (13: it may issue the layer's first stage, 14: it issued the last).
#define MARK(k)                                                                                      \
    do {                                                                                             \
        if (p.trace) p.trace[(int64_t(blockIdx.x) * p.layers + l) * kMarks + (k)] = clock64();       \
    } while (0)
#define MARK0(k)          \
    do {                  \
        if (tid == 0) MARK(k); \
    } while (0)

__device__ __forceinline__ int share(int n, int c, int g) { return static_cast<int>(int64_t(n) * c / g); }

struct Shares {
    int ch0, nch, or0, no;
    __device__ Shares(int c0, int nc, int o0, int n) : ch0(c0), nch(nc), or0(o0), no(n) {}
    __device__ Shares(const Params& p) {
        const int c = blockIdx.x, g = gridDim.x;
        // Whole groups of 8 channels: every per-channel array slice then starts 16-byte aligned
        // (bulk copies need it), the conv state's 6 bytes per channel included.
        ch0 = 8 * share(p.D / 8, c, g);
        nch = 8 * share(p.D / 8, c + 1, g) - ch0;
        or0 = share(p.H, c, g);
        no = share(p.H, c + 1, g) - or0;
    }
};

enum { kInX, kInZ, kXp, kDt, kOut, kSegments };
// The segment streamed i-th in a layer. With split_b1 the z rows come after x_proj: a CTA
// arrives at B1 and multiplies its z rows before it waits there, so the barrier's latency and
// the other CTAs' late arrivals are spent streaming (z is needed only by the state update).
__device__ __forceinline__ bool claimed(const Params& p, int kind) {
    return (kind == kInZ && (p.dyn & 1)) || (kind == kOut && (p.dyn & 2));
}
__device__ __forceinline__ int segment_at(const Params& p, int i) {
    static_assert(kInZ == 1 && kXp == 2, "split order swaps positions 1 and 2");
    return p.split_b1 && (i == 1 || i == 2) ? 3 - i : i;  // kInX, kXp, kInZ, kDt, kOut
}

// The layer's small operands, one stage at the start of every layer, so that no consumer ever
// reads device memory itself: behind a GPU-wide stream of bulk copies a plain load waits in
// the same DRAM queues (~26 MB in flight: ~6 us at 4.2 TB/s), and run 88's first form paid
// that per dependent load (37 us per layer even without barriers).
struct ParamStage {
    int nw, cw, cb, dtb, dsk, A, ss, cs, bytes;  // byte offsets in the stage, and the total
    __device__ ParamStage(const Params& p, int nch) {
        nw = 0;
        cw = nw + p.H * 2;
        cb = cw + nch * p.W * 2;
        dtb = cb + nch * 2;
        dsk = dtb + nch * 4;
        A = dsk + nch * 4;
        ss = A + nch * kN * 4;
        cs = ss + nch * kN * 4;
        bytes = cs + nch * (p.W - 1) * 2;
    }
};
struct Segment {
    const unsigned char* base;
    int row_bytes, rows, rps;  // rps: whole rows per stage
};
__device__ __forceinline__ Segment segment(const Params& p, const Layer& L, const Shares& s, int kind) {
    const auto at = [](const T* w, int64_t row, int64_t elems) { return reinterpret_cast<const unsigned char*>(w + row * elems); };
    Segment g;
    switch (kind) {
        case kInX: g = {at(L.in_proj, s.ch0, p.H), p.H * 2, s.nch, 0}; break;
        case kInZ: g = {at(L.in_proj, int64_t(p.D) + s.ch0, p.H), p.H * 2, s.nch, 0}; break;
        case kXp: g = {at(L.xpT, s.ch0, p.X), p.X * 2, s.nch, 0}; break;
        case kDt: g = {at(L.dt_proj, s.ch0, p.R), p.R * 2, s.nch, 0}; break;
        default:
            g = p.outch ? Segment{at(L.out_proj_t, s.ch0, p.H), p.H * 2, s.nch, 0} : Segment{at(L.out_proj, s.or0, p.D), p.D * 2, s.no, 0};
            break;
    }
    g.rps = kStageBytes / g.row_bytes;
    return g;
}

struct Ring {
    unsigned char* data;
    uint32_t data_addr, full, empty;
    int stages;
    __device__ __forceinline__ uint32_t full_bar(uint32_t it) const { return full + 8u * (it % stages); }
    __device__ __forceinline__ uint32_t empty_bar(uint32_t it) const { return empty + 8u * (it % stages); }
    __device__ __forceinline__ const unsigned char* wait(uint32_t it) const {
        mbar_wait(full_bar(it), (it / stages) & 1);
        return data + static_cast<size_t>(it % stages) * kStageBytes;
    }
    // Every consumer warp hands every stage back once (the empty barrier counts warps).
    __device__ __forceinline__ void release(uint32_t it, int lane) const {
        __syncwarp();
        if (lane == 0) mbar_arrive(empty_bar(it));
    }
};

// Waits until stage `it` may be refilled, and (inflight > 0) until at most inflight - 1 of
// the producer's earlier stages are still on their way.
__device__ __forceinline__ void producer_slot(const Ring& ring, uint32_t it, int inflight) {
    if (it >= static_cast<uint32_t>(ring.stages)) mbar_wait(ring.empty_bar(it), ((it / ring.stages) - 1) & 1);
    if (inflight > 0 && it >= static_cast<uint32_t>(inflight)) {
        const uint32_t landed = it - inflight;
        mbar_wait(ring.full_bar(landed), (landed / ring.stages) & 1);
    }
}

__device__ __forceinline__ void prefetch_l2(const void* src, uint32_t bytes) {
    asm volatile("cp.async.bulk.prefetch.L2.global [%0], %1;\n" ::"l"(reinterpret_cast<uint64_t>(src)), "r"(bytes) : "memory");
}

// The big weight segments in stream order: per layer in_proj x rows, z rows, out_proj rows.
// Prefetching big segment i + ahead into L2 while segment i goes into the ring keeps HBM busy
// when the ring is full, i.e. while the consumers sit in the step's latency-bound phases
// (run 91: ~14 us of them per layer against ~6 us of stream the ring can hold).
__device__ __forceinline__ void prefetch_big_segment(const Params& p, const Layer* layers, const Shares& s, int i) {
    if (i >= 3 * p.layers) return;
    const Segment g = segment(p, layers[i / 3], s, i % 3 == 0 ? kInX : i % 3 == 1 ? kInZ : kOut);
    for (int r0 = 0; r0 < g.rows; r0 += g.rps) prefetch_l2(g.base + int64_t(r0) * g.row_bytes, static_cast<uint32_t>(min(g.rps, g.rows - r0) * g.row_bytes));
}

// The ring's stages in order, walked ahead of the ring by the L2 prefetch window: stage by
// stage (a layer's parameter copies, then each segment's row blocks), so that what sits in L2
// is a bounded number of stages (window x 132 SMs x 20 KB), not run 92's whole segments
// (26-52 MB each: L2 thrashed).
struct StageWalk {
    int l = 0, kind = -1, r0 = 0;  // kind -1: the layer's parameter stage
    // Prefetches the next stage's bytes into L2; false when every stage has been walked.
    __device__ bool prefetch_next(const Params& p, const Layer* layers, const Shares& s, const ParamStage& ps) {
        for (;;) {
            if (l >= p.layers) return false;
            const Layer& L = layers[l];
            if (kind < 0) {
                const int n = s.nch, c = s.ch0;
                prefetch_l2(L.norm_w, p.H * 2);
                prefetch_l2(L.conv_w + int64_t(c) * p.W, n * p.W * 2);
                prefetch_l2(L.conv_b + c, n * 2);
                prefetch_l2(L.dt_bias + c, n * 4);
                prefetch_l2(L.Dskip + c, n * 4);
                prefetch_l2(L.A + int64_t(c) * kN, n * kN * 4);
                prefetch_l2(L.ssm_state + int64_t(c) * kN, n * kN * 4);
                prefetch_l2(L.conv_state + int64_t(c) * (p.W - 1), n * (p.W - 1) * 2);
                kind = 0;
                r0 = 0;
                return true;
            }
            const Segment g = segment(p, L, s, segment_at(p, kind));
            if (r0 < g.rows) {
                prefetch_l2(g.base + int64_t(r0) * g.row_bytes, static_cast<uint32_t>(min(g.rps, g.rows - r0) * g.row_bytes));
                r0 += g.rps;
                return true;
            }
            r0 = 0;
            if (++kind == kSegments) {
                kind = -1;
                ++l;
            }
        }
    }
};

// A segment whose rows any CTA may compute: the producer claims blocks of g.rps rows from a
// grid-wide counter, one per stage, until none are left, and tells the consumers which block
// each stage holds (meta[slot], -1: the segment is done, a stage with no bytes). The SMs whose
// consumers keep up claim more, so the CTAs finish the segment together instead of in the order
// the static shares' streams happened to be served (the arrival spread at the next barrier).
// Claims are issued four ahead: an atomic's round trip behind the stream (~1 us) would otherwise
// pace the producer. Same-address atomics of one thread return increasing values, so the first
// claim past the end means every later one is too.
__device__ uint32_t produce_claimed(const Ring& ring, uint32_t it, int inflight, int* meta, unsigned* counter, const Segment& g) {
    const unsigned blocks = static_cast<unsigned>((g.rows + g.rps - 1) / g.rps);
    unsigned q0 = atomicAdd(counter, 1u), q1 = atomicAdd(counter, 1u), q2 = atomicAdd(counter, 1u), q3 = atomicAdd(counter, 1u);
    for (;; ++it) {
        const unsigned b = q0;
        q0 = q1;
        q1 = q2;
        q2 = q3;
        producer_slot(ring, it, inflight);
        const uint32_t bar = ring.full_bar(it);
        if (b >= blocks) {
            meta[it % ring.stages] = -1;
            mbar_arrive(bar);  // release: the consumers' wait on this phase sees meta
            return it + 1;
        }
        q3 = atomicAdd(counter, 1u);
        meta[it % ring.stages] = static_cast<int>(b);
        const int r0 = static_cast<int>(b) * g.rps;
        const uint32_t bytes = static_cast<uint32_t>(min(g.rps, g.rows - r0) * g.row_bytes);
        mbar_arrive_expect_tx(bar, bytes);
        bulk_load(ring.data_addr + (it % ring.stages) * kStageBytes, g.base + int64_t(r0) * g.row_bytes, bytes, bar);
    }
}

__device__ void produce(const Params& p, const Layer* layers, const Shares& s, const Ring& ring, int inflight, int ahead, int window, int* meta) {
    uint32_t it = 0;
    const ParamStage ps(p, s.nch);
    StageWalk walk;
    uint32_t walked = 0;
    // Before claiming stage `it` (which may wait for a slot), stages [it, it + window) are
    // requested into L2, so HBM keeps streaming while the ring is full.
    const auto run_ahead = [&](uint32_t i) {
        while (!p.dyn && walked < i + static_cast<uint32_t>(window) && walk.prefetch_next(p, layers, s, ps)) ++walked;
    };
    for (int i = 1; i <= ahead; ++i) prefetch_big_segment(p, layers, s, i);
    for (int l = 0; l < p.layers; ++l) {
        const Layer& L = layers[l];
        {
            run_ahead(it);
            producer_slot(ring, it, inflight);
            MARK(13);
            const uint32_t dst = ring.data_addr + (it % ring.stages) * kStageBytes, bar = ring.full_bar(it);
            mbar_arrive_expect_tx(bar, static_cast<uint32_t>(ps.bytes));
            const auto copy = [&](int off, const void* src, int bytes) {
                if (bytes > 0) bulk_load(dst + off, src, static_cast<uint32_t>(bytes), bar);
            };
            const int n = s.nch, c = s.ch0;
            copy(ps.nw, L.norm_w, p.H * 2);
            copy(ps.cw, L.conv_w + int64_t(c) * p.W, n * p.W * 2);
            copy(ps.cb, L.conv_b + c, n * 2);
            copy(ps.dtb, L.dt_bias + c, n * 4);
            copy(ps.dsk, L.Dskip + c, n * 4);
            copy(ps.A, L.A + int64_t(c) * kN, n * kN * 4);
            copy(ps.ss, L.ssm_state + int64_t(c) * kN, n * kN * 4);
            copy(ps.cs, L.conv_state + int64_t(c) * (p.W - 1), n * (p.W - 1) * 2);
            ++it;
        }
        for (int pos = 0; pos < kSegments; ++pos) {
            const int kind = segment_at(p, pos);
            if (claimed(p, kind)) {
                const Shares whole{0, p.D, 0, p.H};  // the segment's rows of every CTA
                it = produce_claimed(ring, it, inflight, meta, p.claims + 2 * l + (kind == kOut), segment(p, L, whole, kind));
                continue;
            }
            const Segment g = segment(p, L, s, kind);
            if (ahead > 0 && (kind == kInX || kind == kInZ || kind == kOut))
                prefetch_big_segment(p, layers, s, 3 * l + (kind == kInX ? 0 : kind == kInZ ? 1 : 2) + ahead);
            for (int r0 = 0; r0 < g.rows; r0 += g.rps, ++it) {
                run_ahead(it);
                producer_slot(ring, it, inflight);
                const uint32_t bytes = static_cast<uint32_t>(min(g.rps, g.rows - r0) * g.row_bytes);
                mbar_arrive_expect_tx(ring.full_bar(it), bytes);
                bulk_load(ring.data_addr + (it % ring.stages) * kStageBytes, g.base + int64_t(r0) * g.row_bytes, bytes, ring.full_bar(it));
            }
        }
        MARK(14);
    }
}

// A lane's chunks lane, lane + 32, ..., lane + 32(C-1) of a vector of 32C 16-byte chunks (in
// shared memory), in registers for every row the warp multiplies. C is a compile-time count
// (run 90: with a runtime count and a predicate per chunk the row loop became a chain of
// branches and dependent loads, ~1 us per row): every Mamba-1 width is a multiple of 256.
template <int C> struct LaneVector {
    uint4 v[C];
    __device__ __forceinline__ void load(const T* vec, int lane) {
#pragma unroll
        for (int c = 0; c < C; ++c) v[c] = *reinterpret_cast<const uint4*>(vec + (c * 32 + lane) * 8);
    }
    // The warp's dot product of a row (shared memory) with the vector; every lane gets it. All
    // the row's loads are issued first, and four accumulators break the FMA chain.
    __device__ __forceinline__ float dot(const unsigned char* row, int lane) const {
        uint4 w[C];
#pragma unroll
        for (int c = 0; c < C; ++c) w[c] = *reinterpret_cast<const uint4*>(row + (c * 32 + lane) * 16);
        float a[4] = {0.f, 0.f, 0.f, 0.f};
#pragma unroll
        for (int c = 0; c < C; ++c) a[c % 4] = dot8(w[c], v[c], a[c % 4]);
        return warp_sum((a[0] + a[1]) + (a[2] + a[3]));
    }
};

// The same with the vector converted to f32 once (8C registers): a chunk's dot then costs
// 8 conversions fewer (17 instructions instead of 25); used where registers allow (in_proj).
template <int C> struct LaneVectorF {
    float f[8 * C];
    __device__ __forceinline__ void load(const T* vec, int lane) {
#pragma unroll
        for (int c = 0; c < C; ++c) {
            const uint4 raw = *reinterpret_cast<const uint4*>(vec + (c * 32 + lane) * 8);
            const uint32_t* u = reinterpret_cast<const uint32_t*>(&raw);
#pragma unroll
            for (int e = 0; e < 4; ++e) {
                f[8 * c + 2 * e] = __uint_as_float(u[e] << 16);
                f[8 * c + 2 * e + 1] = __uint_as_float(u[e] & 0xffff0000u);
            }
        }
    }
    __device__ __forceinline__ float dot(const unsigned char* row, int lane) const {
        uint4 w[C];
#pragma unroll
        for (int c = 0; c < C; ++c) w[c] = *reinterpret_cast<const uint4*>(row + (c * 32 + lane) * 16);
        float a[4] = {0.f, 0.f, 0.f, 0.f};
#pragma unroll
        for (int c = 0; c < C; ++c) {
            const uint32_t* u = reinterpret_cast<const uint32_t*>(&w[c]);
#pragma unroll
            for (int e = 0; e < 4; ++e) {
                a[(2 * e) % 4] = fmaf(__uint_as_float(u[e] << 16), f[8 * c + 2 * e], a[(2 * e) % 4]);
                a[(2 * e + 1) % 4] = fmaf(__uint_as_float(u[e] & 0xffff0000u), f[8 * c + 2 * e + 1], a[(2 * e + 1) % 4]);
            }
        }
        return warp_sum((a[0] + a[1]) + (a[2] + a[3]));
    }
};

// Row-per-warp GEMV over a segment's stages: segment row r is warp r % 7's; lane 0 stores
// (or, with `res`, adds into it) the rounded sum at dst[r].
template <typename Vec>
__device__ __forceinline__ void consume_rows(const Segment& g, const Vec& x, const Ring& ring, uint32_t& it, int warp, int lane, T* dst,
                                             const T* res = nullptr) {
    for (int r0 = 0; r0 < g.rows; r0 += g.rps, ++it) {
        const unsigned char* stage = ring.wait(it);
        const int n = min(g.rps, g.rows - r0);
        for (int j = (warp - r0 % kConsumerWarps + kConsumerWarps) % kConsumerWarps; j < n; j += kConsumerWarps) {
            const float s = x.dot(stage + static_cast<size_t>(j) * g.row_bytes, lane);
            if (lane == 0) dst[r0 + j] = res ? tb(bf(res[r0 + j]) + rnd(s)) : tb(s);
        }
        ring.release(it, lane);
    }
}

// out_proj by channels: the stages hold out_proj_t's rows of this CTA's channels ([hidden]
// each); thread t accumulates hidden chunks t, t + 224 (8 outputs each) over those rows,
// weighted by the channel's y, then adds its partial sums into the grid's fixed-point sums.
__device__ __forceinline__ void out_by_channels(const Segment& g, const T* yown, const Ring& ring, uint32_t& it, int lane, unsigned long long* acc, int n8,
                                                int tid) {
    float part[2][8] = {};
    for (int r0 = 0; r0 < g.rows; r0 += g.rps, ++it) {
        const unsigned char* stage = ring.wait(it);
        const int n = min(g.rps, g.rows - r0);
        for (int j = 0; j < n; ++j) {
            const float yj = bf(yown[r0 + j]);
#pragma unroll
            for (int k = 0; k < 2; ++k) {
                const int q = tid + k * kConsumers;
                if (q >= n8) continue;
                const uint4 w = *reinterpret_cast<const uint4*>(stage + static_cast<size_t>(j) * g.row_bytes + q * 16);
                const __nv_bfloat162* h = reinterpret_cast<const __nv_bfloat162*>(&w);
#pragma unroll
                for (int e = 0; e < 4; ++e) {
                    const float2 f = __bfloat1622float2(h[e]);
                    part[k][2 * e] = fmaf(yj, f.x, part[k][2 * e]);
                    part[k][2 * e + 1] = fmaf(yj, f.y, part[k][2 * e + 1]);
                }
            }
        }
        ring.release(it, lane);
    }
    if (g.rows == 0) return;
#pragma unroll
    for (int k = 0; k < 2; ++k) {
        const int q = tid + k * kConsumers;
        if (q >= n8) continue;
#pragma unroll
        for (int e = 0; e < 8; ++e)
            atomicAdd(acc + q * 8 + e, static_cast<unsigned long long>(__double2ll_rn(static_cast<double>(part[k][e]) * kFixedScale)));
    }
}

// The consumer side of produce_claimed: stages until the segment's end marker; row r of the
// segment goes to dst[r] (with `res`: the rounded residual add, as consume_rows).
template <typename Vec>
__device__ __forceinline__ void consume_claimed(const Segment& g, const Vec& x, const Ring& ring, uint32_t& it, const int* meta, int warp, int lane, T* dst,
                                                const T* res = nullptr) {
    for (;; ++it) {
        const unsigned char* stage = ring.wait(it);
        const int b = meta[it % ring.stages];
        if (b < 0) {
            ring.release(it++, lane);
            return;
        }
        const int r0 = b * g.rps, n = min(g.rps, g.rows - r0);
        for (int j = (warp - r0 % kConsumerWarps + kConsumerWarps) % kConsumerWarps; j < n; j += kConsumerWarps) {
            const float s = x.dot(stage + static_cast<size_t>(j) * g.row_bytes, lane);
            if (lane == 0) dst[r0 + j] = res ? tb(bf(res[r0 + j]) + rnd(s)) : tb(s);
        }
        ring.release(it, lane);
    }
}

// dt_proj: rows of R <= 256 elements (r_chunks <= 32 16-byte chunks). Four lanes per row, eight
// rows per warp pass (lane 4i + q: row i of the pass, chunks q, q + 4, ...): two shuffles per row
// where a warp per row paid five (run 91: 1.4 us for 40 rows). dst[r] = the rounded dot, f32.
__device__ __forceinline__ void consume_dt(const Segment& g, const T* dbc, int r_chunks, const Ring& ring, uint32_t& it, int warp, int lane, float* dst) {
    const int q = lane & 3, ri = lane >> 2;
    uint4 xv[8];
#pragma unroll
    for (int k = 0; k < 8; ++k) xv[k] = q + 4 * k < r_chunks ? *reinterpret_cast<const uint4*>(dbc + (q + 4 * k) * 8) : make_uint4(0, 0, 0, 0);
    for (int r0 = 0; r0 < g.rows; r0 += g.rps, ++it) {
        const unsigned char* stage = ring.wait(it);
        const int n = min(g.rps, g.rows - r0);
        for (int base = 8 * warp; base < n; base += 8 * kConsumerWarps) {
            const int row = base + ri;
            float acc = 0.f;
            if (row < n) {
                const unsigned char* rp = stage + static_cast<size_t>(row) * g.row_bytes;
#pragma unroll
                for (int k = 0; k < 8; ++k)
                    if (q + 4 * k < r_chunks) acc = dot8(*reinterpret_cast<const uint4*>(rp + (q + 4 * k) * 16), xv[k], acc);
            }
            acc += __shfl_xor_sync(0xffffffffu, acc, 1);
            acc += __shfl_xor_sync(0xffffffffu, acc, 2);
            if (q == 0 && row < n) dst[r0 + row] = rnd(acc);
        }
        ring.release(it, lane);
    }
}

__device__ __forceinline__ float consumers_sum(float v, float* red, int warp, int lane) {
    v = warp_sum(v);
    if (lane == 0) red[warp] = v;
    consumers_sync();
    float s = 0.f;
#pragma unroll
    for (int w = 0; w < kConsumerWarps; ++w) s += red[w];
    consumers_sync();
    return s;
}

// y = y_raw * silu(z) (the state update's gate, same roundings) for the whole vector, into
// shared memory; `keep` (one CTA) also gets it in global memory for the comparison.
__device__ __forceinline__ void stage_gated_y(T* dst, const float* y_raw, const T* z, int n8, int tid, T* keep) {
    float4 ya[kStageChunks], yb[kStageChunks];
    uint4 zv[kStageChunks];
#pragma unroll
    for (int i = 0; i < kStageChunks; ++i) {
        const int q = tid + i * kConsumers;
        if (q < n8) {
            ya[i] = __ldcg(reinterpret_cast<const float4*>(y_raw) + 2 * q);
            yb[i] = __ldcg(reinterpret_cast<const float4*>(y_raw) + 2 * q + 1);
            zv[i] = __ldcg(reinterpret_cast<const uint4*>(z) + q);
        }
    }
#pragma unroll
    for (int i = 0; i < kStageChunks; ++i) {
        const int q = tid + i * kConsumers;
        if (q >= n8) continue;
        const float yf[8] = {ya[i].x, ya[i].y, ya[i].z, ya[i].w, yb[i].x, yb[i].y, yb[i].z, yb[i].w};
        const T* zt = reinterpret_cast<const T*>(&zv[i]);
        uint4 o;
        T* ov = reinterpret_cast<T*>(&o);
#pragma unroll
        for (int e = 0; e < 8; ++e) ov[e] = tb(yf[e] * silu(bf(zt[e])));
        reinterpret_cast<uint4*>(dst)[q] = o;
        if (keep) reinterpret_cast<uint4*>(keep)[q] = o;
    }
}

// rv (8 values per chunk) += the rounded fixed-point sums qa (4 x 2 u64 per chunk): the
// residual add of out_proj's output, with the per-op path's roundings.
__device__ __forceinline__ void residual_add_fixed(uint4 (&rv)[kStageChunks], const uint4 (&qa)[kStageChunks][4], int hch, int tid) {
#pragma unroll
    for (int i = 0; i < kStageChunks; ++i) {
        if (tid + i * kConsumers >= hch) continue;
        T* r = reinterpret_cast<T*>(&rv[i]);
        const long long* q = reinterpret_cast<const long long*>(&qa[i][0]);
#pragma unroll
        for (int e = 0; e < 8; ++e) r[e] = tb(bf(r[e]) + rnd(static_cast<float>(static_cast<double>(q[e]) / kFixedScale)));
    }
}

// A grid barrier in two halves, so that work that does not depend on it can go between.
__device__ __forceinline__ void grid_arrive(const Params& p, unsigned& target) {
    consumers_sync();
    target += gridDim.x;
    if (threadIdx.x == 0 && p.barrier_mode != 2) {
        if (p.barrier_mode == 0) {
            __threadfence();
            atomicAdd(p.counter, 1u);
        } else {
            red_release(p.counter);
        }
    }
}
__device__ __forceinline__ void grid_wait(const Params& p, unsigned target) {
    if (threadIdx.x == 0 && p.barrier_mode != 2)
        while (ld_acquire(p.counter) < target) {
        }
    consumers_sync();
}
__device__ __forceinline__ void grid_barrier(const Params& p, unsigned& target) {
    grid_arrive(p, target);
    grid_wait(p, target);
}

// n16 chunks of a vector other CTAs wrote, into shared memory: all loads (through L2) first.
__device__ __forceinline__ void stage_vector(T* dst, const T* src, int n16, int tid) {
    uint4 v[kStageChunks];
#pragma unroll
    for (int i = 0; i < kStageChunks; ++i)
        if (tid + i * kConsumers < n16) v[i] = __ldcg(reinterpret_cast<const uint4*>(src) + tid + i * kConsumers);
#pragma unroll
    for (int i = 0; i < kStageChunks; ++i)
        if (tid + i * kConsumers < n16) reinterpret_cast<uint4*>(dst)[tid + i * kConsumers] = v[i];
}

// HC, DC: 16-byte chunks per lane of the hidden (H / 256) and inner (D / 256) vectors.
// DYN, OUTCH: p.dyn and p.outch as compile-time constants (their registers are spent only
// where they are used). (Run 102's TAG variant, tagged data polled in place of B2 and B3, was
// wrong and slower; it is in this file's history, 61ad24f.)
template <int HC, int DC, int DYN, int OUTCH>
__global__ void __launch_bounds__(kThreads, 1) mamba_decode_persistent(const Params p, int stages, int inflight, int ahead, int window) {
    extern __shared__ __align__(128) unsigned char smem[];
    __shared__ Layer layers[kMaxLayers];  // the layers' pointers, read once
    __shared__ int meta[kMaxStages];      // claimed segments: the row block each stage holds
    const int tid = threadIdx.x, warp = tid / 32, lane = tid % 32;
    const Shares sh(p);
    const int cmax = 8 * ((p.D / 8 + gridDim.x - 1) / gridDim.x), omax = (p.H + gridDim.x - 1) / gridDim.x;
    const int taps = p.W - 1;

    Ring ring;
    ring.data = smem;
    ring.stages = stages;
    unsigned char* cur = smem + static_cast<size_t>(stages) * kStageBytes;
    ring.data_addr = smem_addr(smem);
    ring.full = smem_addr(cur);
    ring.empty = ring.full + 8u * stages;
    cur += 16 * stages;
    T* xn = reinterpret_cast<T*>(cur);            // [H]
    cur += (p.H * 2 + 15) / 16 * 16;
    T* vec = reinterpret_cast<T*>(cur);           // [D]
    cur += (p.D * 2 + 15) / 16 * 16;
    T* dbc = reinterpret_cast<T*>(cur);           // [X]
    cur += (p.X * 2 + 15) / 16 * 16;
    T* xr = reinterpret_cast<T*>(cur);            // [cmax] in_proj x
    T* zl = xr + cmax;                            // [cmax] in_proj z
    T* xcl = zl + cmax;                           // [cmax] conv output
    cur += (3 * cmax * 2 + 15) / 16 * 16;
    float* dtl = reinterpret_cast<float*>(cur);   // [cmax]
    float* red = dtl + cmax;                      // [8]
    T* res_own = reinterpret_cast<T*>(red + 8);   // [omax]
    (void)omax;

    for (int i = tid; i < p.layers; i += blockDim.x) layers[i] = p.layer[i];
    if (tid == 0) {
        for (int b = 0; b < stages; ++b) {
            mbar_init(ring.full + 8u * b, 1);
            mbar_init(ring.empty + 8u * b, kConsumerWarps);
        }
        asm volatile("fence.mbarrier_init.release.cluster;\n" ::: "memory");
    }
    __syncthreads();
    if (warp == kConsumerWarps) {
        if (lane == 0) produce(p, layers, sh, ring, inflight, ahead, window, meta);
        return;
    }

    unsigned target = 0;
    uint32_t it = 0;
    const ParamStage ps(p, sh.nch);
    if (p.barrier_mode == 3) {  // the ring alone: every stage waited for and handed back, no compute
        for (int l = 0; l < p.layers; ++l) {
            ring.wait(it);
            ring.release(it++, lane);
            for (int pos = 0; pos < kSegments; ++pos) {
                if (claimed(p, segment_at(p, pos))) {
                    for (bool more = true; more; ++it) {
                        ring.wait(it);
                        more = meta[it % ring.stages] >= 0;
                        ring.release(it, lane);
                    }
                    continue;
                }
                const Segment g = segment(p, layers[l], sh, segment_at(p, pos));
                for (int r0 = 0; r0 < g.rows; r0 += g.rps, ++it) {
                    ring.wait(it);
                    ring.release(it, lane);
                }
            }
        }
        return;
    }
    const int hch = p.H / 8;

    uint4 rv[kStageChunks];  // the residual entering the layer (OUTCH: carried from the layer before)
    for (int l = 0; l < p.layers; ++l) {
        MARK0(0);
        if (tid == 0 && p.trace) {  // mark 15: the SM this CTA runs on (MDP_TRACE_FILE's per-CTA analysis)
            unsigned smid;
            asm volatile("mov.u32 %0, %%smid;" : "=r"(smid));
            p.trace[(int64_t(blockIdx.x) * p.layers + l) * kMarks + 15] = smid;
        }
        const Layer& L = layers[l];
        // The residual (other CTAs wrote it: through L2) is requested before anything waits.
        const bool sum_res = OUTCH && l > 0;  // rv + the layer before's out_proj sums
        uint4 qa[kStageChunks][4];
#pragma unroll
        for (int i = 0; i < kStageChunks; ++i) {
            const int q = tid + i * kConsumers;
            if (q >= hch) continue;
            if (sum_res) {
#pragma unroll
                for (int k = 0; k < 4; ++k) qa[i][k] = __ldcg(reinterpret_cast<const uint4*>(p.acc_out + int64_t(l - 1) * p.H) + 4 * q + k);
            } else {
                rv[i] = __ldcg(reinterpret_cast<const uint4*>(p.residual) + q);
            }
        }
        // This CTA's channels' parameters and states, from the layer's parameter stage.
        const uint32_t pit = it++;
        const unsigned char* pst = ring.wait(pit);
        if (sum_res) residual_add_fixed(rv, qa, hch, tid);
        MARK0(1);
        const bool conv_live = tid < sh.nch;
        // (the last tap in a scalar of its own: cw[taps] would put the array in local memory)
        float cw[3] = {0.f, 0.f, 0.f}, clast = 0.f, cb = 0.f;
        T cold[3];
        if (conv_live) {
            const T* w = reinterpret_cast<const T*>(pst + ps.cw) + tid * p.W;
            const T* cs = reinterpret_cast<const T*>(pst + ps.cs) + tid * taps;
#pragma unroll
            for (int t = 0; t < 3; ++t)
                if (t < taps) {
                    cw[t] = bf(w[t]);
                    cold[t] = cs[t];
                }
            clast = bf(w[taps]);
            cb = bf(reinterpret_cast<const T*>(pst + ps.cb)[tid]);
        }
        const int su = tid / kStateLanes, sl = tid % kStateLanes;
        const bool su_live = su < sh.nch;
        float4 st = make_float4(0.f, 0.f, 0.f, 0.f), a4 = st;
        float dtb = 0.f, dsk = 0.f;
        if (su_live) {
            st = reinterpret_cast<const float4*>(pst + ps.ss)[su * (kN / 4) + sl];
            a4 = reinterpret_cast<const float4*>(pst + ps.A)[su * (kN / 4) + sl];
            dtb = reinterpret_cast<const float*>(pst + ps.dtb)[su];
            dsk = reinterpret_cast<const float*>(pst + ps.dsk)[su];
        }

        // N: rms_norm of the residual (every CTA, all loads first).
        float ss = 0.f;
#pragma unroll
        for (int i = 0; i < kStageChunks; ++i) {
            const int q = tid + i * kConsumers;
            if (q >= hch) continue;
            const T* r = reinterpret_cast<const T*>(&rv[i]);
#pragma unroll
            for (int e = 0; e < 8; ++e) {
                const float f = bf(r[e]);
                ss = fmaf(f, f, ss);
                const int n = q * 8 + e - sh.or0;
                if (n >= 0 && n < sh.no) res_own[n] = r[e];
            }
        }
        const float rstd = rsqrtf(consumers_sum(ss, red, warp, lane) / static_cast<float>(p.H) + p.eps);
#pragma unroll
        for (int i = 0; i < kStageChunks; ++i) {
            const int q = tid + i * kConsumers;
            if (q >= hch) continue;
            const T* r = reinterpret_cast<const T*>(&rv[i]);
            const T* w = reinterpret_cast<const T*>(pst + ps.nw) + q * 8;
            uint4 o;
            T* ov = reinterpret_cast<T*>(&o);
#pragma unroll
            for (int e = 0; e < 8; ++e) ov[e] = tb(rnd(bf(r[e]) * rstd) * bf(w[e]));
            reinterpret_cast<uint4*>(xn)[q] = o;
        }
        ring.release(pit, lane);
        consumers_sync();
        MARK0(2);

        // IN: x and z rows of this CTA's channels.
        {
            LaneVectorF<HC> x;
            x.load(xn, lane);
            consume_rows(segment(p, L, sh, kInX), x, ring, it, warp, lane, xr);
            if (!p.split_b1) consume_rows(segment(p, L, sh, kInZ), x, ring, it, warp, lane, zl);
        }
        consumers_sync();
        MARK0(3);

        // conv step of this CTA's channels.
        if (conv_live) {
            const int d = sh.ch0 + tid;
            float acc = cb;
#pragma unroll
            for (int t = 0; t < 3; ++t)
                if (t < taps) acc = fmaf(cw[t], bf(cold[t]), acc);
            acc = fmaf(clast, bf(xr[tid]), acc);
            const T out = tb(silu(acc));
            xcl[tid] = out;
            p.xc[int64_t(l) * p.D + d] = out;
            T* cs = L.conv_state + int64_t(d) * taps;
#pragma unroll
            for (int t = 0; t + 1 < 3; ++t)
                if (t + 1 < taps) cs[t] = cold[t + 1];
            cs[taps - 1] = xr[tid];
        }
        consumers_sync();
        MARK0(4);

        // XP: this CTA's channels' share of every x_proj output, added in fixed point. (Two
        // outputs per thread over half the rows each, met in shared memory, was 1 us per layer
        // slower in run 95.)
        {
            const Segment g = segment(p, L, sh, kXp);
            float part[4] = {0.f, 0.f, 0.f, 0.f};
            for (int r0 = 0; r0 < g.rows; r0 += g.rps, ++it) {
                const T* stage = reinterpret_cast<const T*>(ring.wait(it));
                const int n = min(g.rps, g.rows - r0);
                if (tid < p.X) {
                    int i = 0;
                    for (; i + 4 <= n; i += 4) {
#pragma unroll
                        for (int u = 0; u < 4; ++u) part[u] = fmaf(bf(stage[(i + u) * p.X + tid]), bf(xcl[r0 + i + u]), part[u]);
                    }
                    for (; i < n; ++i) part[0] = fmaf(bf(stage[i * p.X + tid]), bf(xcl[r0 + i]), part[0]);
                }
                ring.release(it, lane);
            }
            if (tid < p.X && g.rows > 0) {
                const float v = (part[0] + part[1]) + (part[2] + part[3]);
                const long long q = __double2ll_rn(static_cast<double>(v) * kFixedScale);
                atomicAdd(p.acc + int64_t(l) * p.X + tid, static_cast<unsigned long long>(q));
            }
        }
        MARK0(5);
        grid_arrive(p, target);  // B1: x_proj complete
        if (p.split_b1) {
            LaneVectorF<HC> x;
            x.load(xn, lane);
            if (DYN & 1) consume_claimed(segment(p, L, Shares(0, p.D, 0, p.H), kInZ), x, ring, it, meta, warp, lane, p.zg);
            else consume_rows(segment(p, L, sh, kInZ), x, ring, it, warp, lane, zl);
        }
        grid_wait(p, target);
        if (DYN & 2) {
            // out_proj's rows may be any of hidden: the whole pre-norm residual, kept from N in
            // registers, goes where xn was (xn's last reader, the z rows, is done).
            consumers_sync();
#pragma unroll
            for (int i = 0; i < kStageChunks; ++i) {
                const int q = tid + i * kConsumers;
                if (q < hch) reinterpret_cast<uint4*>(xn)[q] = rv[i];
            }
        }
        MARK0(6);

        // dt_proj + state update of this CTA's channels.
        if (tid < p.X) {
            const long long q = static_cast<long long>(__ldcg(p.acc + int64_t(l) * p.X + tid));
            dbc[tid] = tb(static_cast<float>(static_cast<double>(q) / kFixedScale));
        }
        consumers_sync();
        consume_dt(segment(p, L, sh, kDt), dbc, p.R / 8, ring, it, warp, lane, dtl);
        consumers_sync();
        MARK0(7);
        float yv = 0.f, xv = 0.f, zv = 0.f;
        if (su_live) {
            const float dt = softplus(dtl[su] + dtb);
            xv = bf(xcl[su]);
            if (!(DYN & 1)) zv = bf(zl[su]);
            const float dtx = dt * xv;
            const float av[4] = {a4.x, a4.y, a4.z, a4.w};
            float* sv = &st.x;
#pragma unroll
            for (int e = 0; e < 4; ++e) {
                const float dA = exp2f(dt * av[e] * kLog2e);
                sv[e] = fmaf(dA, sv[e], dtx * bf(dbc[p.R + 4 * sl + e]));
                yv = fmaf(sv[e], bf(dbc[p.R + kN + 4 * sl + e]), yv);
            }
            *reinterpret_cast<float4*>(L.ssm_state + (sh.ch0 + su) * kN + 4 * sl) = st;
        }
        yv += __shfl_xor_sync(0xffffffffu, yv, 1);
        yv += __shfl_xor_sync(0xffffffffu, yv, 2);
        if (su_live && sl == 0) {
            yv = fmaf(dsk, xv, yv);
            if (DYN & 1) {
                p.y_raw[sh.ch0 + su] = yv;  // gated where it is staged: z may be any CTA's
            } else {
                yv *= silu(zv);
                const T yt = tb(yv);
                p.y[int64_t(l) * p.D + sh.ch0 + su] = yt;
                if (OUTCH) xr[su] = yt;  // (xr's last reader, the conv step, is done)
            }
        }
        MARK0(8);
        if (OUTCH) {
            consumers_sync();
            MARK0(9);
            MARK0(10);
            out_by_channels(segment(p, L, sh, kOut), xr, ring, it, lane, p.acc_out + int64_t(l) * p.H, p.H / 8, tid);
            MARK0(11);
            grid_barrier(p, target);  // B3: out_proj's sums complete
            MARK0(12);
            continue;
        }
        grid_barrier(p, target);  // B2: y complete
        MARK0(9);

        // OUT: this CTA's out_proj rows, added into the residual.
        if (DYN & 1) stage_gated_y(vec, p.y_raw, p.zg, p.D / 8, tid, blockIdx.x == 0 ? p.y + int64_t(l) * p.D : nullptr);
        else stage_vector(vec, p.y + int64_t(l) * p.D, p.D / 8, tid);
        consumers_sync();
        MARK0(10);
        {
            LaneVector<DC> x;
            x.load(vec, lane);
            if (DYN & 2) consume_claimed(segment(p, L, Shares(0, p.D, 0, p.H), kOut), x, ring, it, meta, warp, lane, p.residual, xn);
            else consume_rows(segment(p, L, sh, kOut), x, ring, it, warp, lane, p.residual + sh.or0, res_own);
        }
        MARK0(11);
        if (l + 1 < p.layers) grid_barrier(p, target);  // B3: residual complete
        MARK0(12);
    }
    if (OUTCH) {  // the last layer's residual add; CTA c writes chunks c, c + grid, ...
        uint4 qa[kStageChunks][4];
#pragma unroll
        for (int i = 0; i < kStageChunks; ++i) {
            const int q = tid + i * kConsumers;
            if (q < hch)
#pragma unroll
                for (int k = 0; k < 4; ++k) qa[i][k] = __ldcg(reinterpret_cast<const uint4*>(p.acc_out + int64_t(p.layers - 1) * p.H) + 4 * q + k);
        }
        residual_add_fixed(rv, qa, hch, tid);
#pragma unroll
        for (int i = 0; i < kStageChunks; ++i) {
            const int q = tid + i * kConsumers;
            if (q < hch && q % gridDim.x == blockIdx.x) reinterpret_cast<uint4*>(p.residual)[q] = rv[i];
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Reference: one plain kernel per step, the per-op path's roundings.
__global__ void ref_norm(const T* res, const T* w, int H, float eps, T* xn) {
    __shared__ float part[32];
    float ss = 0.f;
    for (int i = threadIdx.x; i < H; i += blockDim.x) ss += bf(res[i]) * bf(res[i]);
    ss = warp_sum(ss);
    if (threadIdx.x % 32 == 0) part[threadIdx.x / 32] = ss;
    __syncthreads();
    float tot = 0.f;
    for (int i = 0; i < (int)blockDim.x / 32; ++i) tot += part[i];
    const float rstd = rsqrtf(tot / H + eps);
    for (int i = threadIdx.x; i < H; i += blockDim.x) xn[i] = tb(rnd(bf(res[i]) * rstd) * bf(w[i]));
}
// out[r] = round(W[r,:] . x) (+ residual add when res != nullptr). One warp per row.
__global__ void ref_gemv(const T* W, const T* x, int rows, int K, T* out, T* res) {
    const int r = blockIdx.x * (blockDim.x / 32) + threadIdx.x / 32, lane = threadIdx.x % 32;
    if (r >= rows) return;
    float s = 0.f;
    for (int k = lane; k < K; k += 32) s += bf(W[int64_t(r) * K + k]) * bf(x[k]);
    s = warp_sum(s);
    if (lane == 0) {
        if (res) res[r] = tb(bf(res[r]) + rnd(s));
        else out[r] = tb(s);
    }
}
__global__ void ref_conv(const T* xz, const T* w, const T* b, int D, int W, T* state, T* xc) {
    const int d = blockIdx.x * blockDim.x + threadIdx.x;
    if (d >= D) return;
    const int taps = W - 1;
    float acc = bf(b[d]);
    for (int t = 0; t < taps; ++t) acc += bf(w[d * W + t]) * bf(state[d * taps + t]);
    acc += bf(w[d * W + taps]) * bf(xz[d]);
    xc[d] = tb(silu(acc));
    for (int t = 0; t + 1 < taps; ++t) state[d * taps + t] = state[d * taps + t + 1];
    state[d * taps + taps - 1] = xz[d];
}
__global__ void ref_xproj(const T* xpT, const T* xc, int D, int X, T* dbc) {
    const int j = blockIdx.x * blockDim.x + threadIdx.x;
    if (j >= X) return;
    double s = 0.0;
    for (int d = 0; d < D; ++d) s += double(bf(xpT[int64_t(d) * X + j])) * double(bf(xc[d]));
    dbc[j] = tb(static_cast<float>(s));
}
__global__ void ref_state(const T* dbc, const T* dtw, const float* dt_bias, const float* A, const float* Ds, const T* xc,
                          const T* xz, int D, int R, float* state, T* y) {
    const int d = blockIdx.x * blockDim.x + threadIdx.x;
    if (d >= D) return;
    float dtr = 0.f;
    for (int k = 0; k < R; ++k) dtr += bf(dtw[int64_t(d) * R + k]) * bf(dbc[k]);
    const float dt = softplus(rnd(dtr) + dt_bias[d]);
    const float xv = bf(xc[d]), zv = bf(xz[D + d]);
    float acc = 0.f;
    for (int n = 0; n < kN; ++n) {
        const float dA = exp2f(dt * A[d * kN + n] * kLog2e);
        const float s = fmaf(dA, state[d * kN + n], dt * xv * bf(dbc[R + n]));
        state[d * kN + n] = s;
        acc = fmaf(s, bf(dbc[R + kN + n]), acc);
    }
    acc = fmaf(Ds[d], xv, acc);
    y[d] = tb(acc * silu(zv));
}

// ---------------------------------------------------------------------------------------------
// Random init (hash of seed and index), on the device.
__device__ __forceinline__ float hash_uniform(uint64_t seed, uint64_t i) {  // [-1, 1)
    uint64_t z = seed * 0x9E3779B97F4A7C15ull + i + 0x632BE59BD9B4E019ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    return static_cast<float>(z >> 40) / 8388608.f - 1.f;
}
__global__ void init_bf16(T* p, int64_t n, uint64_t seed, float scale, float offset) {
    for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
        p[i] = tb(offset + scale * hash_uniform(seed, i));
}
// kind 0: uniform(offset +- scale); 1: A = -(n+1)(1 + 0.1u); 2: dt_bias = softplus^-1(U(0.001, 0.1))
__global__ void transpose(const T* in, int rows, int cols, T* out) {  // out[c][r] = in[r][c]
    for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < int64_t(rows) * cols; i += int64_t(gridDim.x) * blockDim.x)
        out[(i % cols) * rows + i / cols] = in[i];
}
__global__ void init_f32(float* p, int64_t n, uint64_t seed, float scale, float offset, int kind) {
    for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
        const float u = hash_uniform(seed, i);
        if (kind == 0) p[i] = offset + scale * u;
        else if (kind == 1) p[i] = -static_cast<float>(i % kN + 1) * (1.f + 0.1f * u);
        else {
            const float dt = 0.001f + (0.1f - 0.001f) * 0.5f * (u + 1.f);
            p[i] = logf(expm1f(dt));
        }
    }
}

// ---------------------------------------------------------------------------------------------
struct Buffers {
    std::vector<Layer> layers;  // host copies of device pointers
    std::vector<void*> owned;
};
template <typename U> U* dalloc(Buffers& b, size_t n) {
    void* p = nullptr;
    CHECK(cudaMalloc(&p, n * sizeof(U)));
    b.owned.push_back(p);
    return static_cast<U*>(p);
}

static double rel_l2(const std::vector<float>& a, const std::vector<float>& ref, double* max_abs, bool* finite) {
    double num = 0, den = 0, m = 0;
    *finite = true;
    for (size_t i = 0; i < a.size(); ++i) {
        if (!std::isfinite(a[i])) *finite = false;
        const double d = double(a[i]) - double(ref[i]);
        num += d * d;
        den += double(ref[i]) * double(ref[i]);
        m = std::max(m, std::fabs(d));
    }
    *max_abs = m;
    return std::sqrt(num / std::max(den, 1e-30));
}
static std::vector<float> fetch_bf16(const T* d, size_t n) {
    std::vector<T> h(n);
    CHECK(cudaMemcpy(h.data(), d, n * sizeof(T), cudaMemcpyDeviceToHost));
    std::vector<float> f(n);
    for (size_t i = 0; i < n; ++i) f[i] = __bfloat162float(h[i]);
    return f;
}
static std::vector<float> fetch_f32(const float* d, size_t n) {
    std::vector<float> f(n);
    CHECK(cudaMemcpy(f.data(), d, n * sizeof(float), cudaMemcpyDeviceToHost));
    return f;
}

int main(int argc, char** argv) {
    const int layers = argc > 1 ? std::atoi(argv[1]) : 64;
    const int check_layers = argc > 2 ? std::atoi(argv[2]) : 4;
    const bool small = argc > 3 && std::strcmp(argv[3], "130m") == 0;
    const int H = small ? 768 : 2560, D = 2 * H, R = small ? 48 : 160, W = 4, X = R + 2 * kN;
    const float eps = 1e-5f;
    if (layers < 1 || layers > kMaxLayers || check_layers < 1 || check_layers > layers) {
        std::fprintf(stderr, "usage: mdp [layers 1..64] [check_layers 1..layers] [2.8b|130m]\n");
        return 2;
    }
    int dev = 0, sms = 0, optin = 0;
    CHECK(cudaGetDevice(&dev));
    CHECK(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, dev));
    CHECK(cudaDeviceGetAttribute(&optin, cudaDevAttrMaxSharedMemoryPerBlockOptin, dev));
    cudaDeviceProp prop;
    CHECK(cudaGetDeviceProperties(&prop, dev));

    Buffers b;
    uint64_t seed = 1;
    const auto ib = [&](T* p, int64_t n, float scale, float offset) {
        init_bf16<<<1024, 256>>>(p, n, seed++, scale, offset);
        CHECK(cudaGetLastError());
    };
    const auto if32 = [&](float* p, int64_t n, float scale, float offset, int kind) {
        init_f32<<<1024, 256>>>(p, n, seed++, scale, offset, kind);
        CHECK(cudaGetLastError());
    };
    // Two copies of the states: one for the reference, one for the persistent kernel.
    std::vector<T*> conv_ref(layers);
    std::vector<float*> ssm_ref(layers);
    double weight_bytes = 0;
    for (int l = 0; l < layers; ++l) {
        Layer L;
        T* nw = dalloc<T>(b, H); ib(nw, H, 0.1f, 1.f);
        T* inp = dalloc<T>(b, int64_t(2) * D * H); ib(inp, int64_t(2) * D * H, std::sqrt(3.f / H), 0.f);
        T* cw = dalloc<T>(b, D * W); ib(cw, D * W, 0.5f, 0.f);
        T* cbias = dalloc<T>(b, D); ib(cbias, D, 0.1f, 0.f);
        T* xpT = dalloc<T>(b, int64_t(D) * X); ib(xpT, int64_t(D) * X, std::sqrt(3.f / D), 0.f);
        T* dtw = dalloc<T>(b, int64_t(D) * R); ib(dtw, int64_t(D) * R, std::sqrt(3.f / R), 0.f);
        float* dtb = dalloc<float>(b, D); if32(dtb, D, 0.f, 0.f, 2);
        float* A = dalloc<float>(b, D * kN); if32(A, D * kN, 0.f, 0.f, 1);
        float* Ds = dalloc<float>(b, D); if32(Ds, D, 0.f, 1.f, 0);
        T* outp = dalloc<T>(b, int64_t(H) * D); ib(outp, int64_t(H) * D, 0.5f * std::sqrt(3.f / D), 0.f);
        T* cs = dalloc<T>(b, D * (W - 1)); ib(cs, D * (W - 1), 1.f, 0.f);
        float* ss = dalloc<float>(b, D * kN); if32(ss, D * kN, 0.5f, 0.f, 0);
        conv_ref[l] = dalloc<T>(b, D * (W - 1));
        ssm_ref[l] = dalloc<float>(b, D * kN);
        CHECK(cudaMemcpy(conv_ref[l], cs, D * (W - 1) * sizeof(T), cudaMemcpyDeviceToDevice));
        CHECK(cudaMemcpy(ssm_ref[l], ss, D * kN * sizeof(float), cudaMemcpyDeviceToDevice));
        T* outT = dalloc<T>(b, int64_t(H) * D);
        transpose<<<1024, 256>>>(outp, H, D, outT);
        CHECK(cudaGetLastError());
        L = {nw, inp, cw, cbias, xpT, dtw, dtb, A, Ds, outp, outT, cs, ss};
        b.layers.push_back(L);
        // parameters once, both states read and written (what the product's decode roofline counts)
        weight_bytes += 2.0 * (H + 2.0 * D * H + D * W + D + double(D) * X + double(D) * R + double(H) * D) + 4.0 * (D + D * kN + D) +
                        2.0 * (2.0 * D * (W - 1) + 4.0 * D * kN);
    }
    Layer* d_layers = dalloc<Layer>(b, layers);
    CHECK(cudaMemcpy(d_layers, b.layers.data(), layers * sizeof(Layer), cudaMemcpyHostToDevice));
    T* res0 = dalloc<T>(b, H); ib(res0, H, 1.f, 0.f);
    T* res = dalloc<T>(b, H);
    T* res_ref = dalloc<T>(b, H);
    unsigned long long* acc = dalloc<unsigned long long>(b, int64_t(layers) * X);
    T* y = dalloc<T>(b, int64_t(layers) * D);
    T* xc = dalloc<T>(b, int64_t(layers) * D);
    unsigned* counter = dalloc<unsigned>(b, 1);
    // reference scratch
    T* xn_r = dalloc<T>(b, H);
    T* xz_r = dalloc<T>(b, 2 * D);
    T* xc_r = dalloc<T>(b, int64_t(layers) * D);
    T* dbc_r = dalloc<T>(b, int64_t(layers) * X);
    T* y_r = dalloc<T>(b, int64_t(layers) * D);
    CHECK(cudaDeviceSynchronize());

    // Launch configuration.
    const int G = sms, cmax = 8 * ((D / 8 + G - 1) / G), omax = (H + G - 1) / G;
    const int64_t fixed = (H * 2 + 15) / 16 * 16 + (D * 2 + 15) / 16 * 16 + (X * 2 + 15) / 16 * 16 + (3 * cmax * 2 + 15) / 16 * 16 +
                          (cmax + 8) * 4 + omax * 2 + 16;
    // The kernel for this shape's vector widths (chunks per lane: H / 256, D / 256).
    const int dyn = std::getenv("MDP_DYN") ? std::atoi(std::getenv("MDP_DYN")) : 0;
    const int outch = std::getenv("MDP_OUTCH") ? std::atoi(std::getenv("MDP_OUTCH")) : 0;
    void (*kernel)(const Params, int, int, int, int) = nullptr;
    const auto pick = [&](auto hc, auto dc) -> void (*)(const Params, int, int, int, int) {
        if (outch) return dyn == 0 ? mamba_decode_persistent<decltype(hc)::value, decltype(dc)::value, 0, 1> : nullptr;
        switch (dyn) {
            case 0: return mamba_decode_persistent<decltype(hc)::value, decltype(dc)::value, 0, 0>;
            case 1: return mamba_decode_persistent<decltype(hc)::value, decltype(dc)::value, 1, 0>;
            case 2: return mamba_decode_persistent<decltype(hc)::value, decltype(dc)::value, 2, 0>;
            case 3: return mamba_decode_persistent<decltype(hc)::value, decltype(dc)::value, 3, 0>;
            default: return nullptr;
        }
    };
    if (H == 2560 && D == 5120) kernel = pick(std::integral_constant<int, 10>(), std::integral_constant<int, 20>());
    else if (H == 768 && D == 1536) kernel = pick(std::integral_constant<int, 3>(), std::integral_constant<int, 6>());
    if (!kernel) {
        std::fprintf(stderr, "no kernel instantiated for H %d, D %d\n", H, D);
        return 2;
    }
    cudaFuncAttributes fattr;
    CHECK(cudaFuncGetAttributes(&fattr, kernel));
    const int stages = static_cast<int>(std::min<int64_t>(kMaxStages, (optin - int64_t(fattr.sharedSizeBytes) - fixed) / (kStageBytes + 16)));
    const int inflight = std::getenv("MDP_INFLIGHT") ? std::atoi(std::getenv("MDP_INFLIGHT")) : 0;
    const int ahead = std::getenv("MDP_AHEAD") ? std::atoi(std::getenv("MDP_AHEAD")) : 0;  // big segments prefetched into L2
    const int window = std::getenv("MDP_WINDOW") ? std::atoi(std::getenv("MDP_WINDOW")) : 0;  // stages prefetched into L2 ahead of the ring
    const size_t smem = static_cast<size_t>(stages) * (kStageBytes + 16) + fixed;
    const int64_t param_bytes = H * 2 + int64_t(cmax) * (W * 2 + 2 + 4 + 4 + 2 * kN * 4 + (W - 1) * 2);
    if (param_bytes > kStageBytes || cmax * kStateLanes > kConsumers || X > kConsumers || H / 8 > kStageChunks * kConsumers || D / 8 > kStageChunks * kConsumers ||
        R / 8 > 32 || X % 2 || X * 4 > D * 2 || stages < 2) {
        std::fprintf(stderr, "shape outside the kernel's limits\n");
        return 2;
    }
    CHECK(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(smem)));
    cudaStream_t stream;
    CHECK(cudaStreamCreate(&stream));
    long long* trace = dalloc<long long>(b, int64_t(G) * layers * kMarks);
    // (claimed z rows are consumed only between B1's halves)
    const int split_b1 = (dyn & 1) || (std::getenv("MDP_SPLIT_B1") && std::atoi(std::getenv("MDP_SPLIT_B1")));
    unsigned* claims = dalloc<unsigned>(b, int64_t(layers) * 2);
    float* y_raw = dalloc<float>(b, D);
    T* zg = dalloc<T>(b, D);
    unsigned long long* acc_out = dalloc<unsigned long long>(b, int64_t(layers) * H);
    Params p{H, D, R, X, W, layers, eps, d_layers, res, acc, y, xc, counter, nullptr, 0, split_b1, dyn, claims, y_raw, zg, outch, acc_out};
    const auto launch = [&](int nlayers, int mode) {
        Params q = p;
        q.layers = nlayers;
        q.barrier_mode = mode;
        CHECK(cudaMemsetAsync(acc, 0, int64_t(nlayers) * X * sizeof(unsigned long long), stream));
        CHECK(cudaMemsetAsync(counter, 0, sizeof(unsigned), stream));
        CHECK(cudaMemsetAsync(claims, 0, int64_t(nlayers) * 2 * sizeof(unsigned), stream));
        CHECK(cudaMemsetAsync(acc_out, 0, int64_t(nlayers) * q.H * 8, stream));
        void* args[] = {&q, const_cast<int*>(&stages), const_cast<int*>(&inflight), const_cast<int*>(&ahead), const_cast<int*>(&window)};
        CHECK(cudaLaunchCooperativeKernel(reinterpret_cast<void*>(kernel), dim3(G), dim3(kThreads), args, smem, stream));
        CHECK(cudaGetLastError());
    };

    std::printf("{\"device\": \"%s\", \"sms\": %d, \"model\": \"%s\", \"H\": %d, \"D\": %d, \"R\": %d, \"layers\": %d, \"stages\": %d, \"inflight\": %d, \"ahead\": %d, \"window\": %d, \"split_b1\": %d, \"dyn\": %d, \"outch\": %d, \"smem\": %zu,\n",
                prop.name, sms, small ? "mamba-130m" : "mamba-2.8b", H, D, R, layers, stages, inflight, ahead, window, split_b1, dyn, outch, smem);

    // ---- correctness over check_layers layers
    CHECK(cudaMemcpy(res, res0, H * sizeof(T), cudaMemcpyDeviceToDevice));
    CHECK(cudaMemcpy(res_ref, res0, H * sizeof(T), cudaMemcpyDeviceToDevice));
    for (int l = 0; l < check_layers; ++l) {
        const Layer& L = b.layers[l];
        ref_norm<<<1, 256, 0, stream>>>(res_ref, L.norm_w, H, eps, xn_r);
        ref_gemv<<<(2 * D + 7) / 8, 256, 0, stream>>>(L.in_proj, xn_r, 2 * D, H, xz_r, nullptr);
        ref_conv<<<(D + 127) / 128, 128, 0, stream>>>(xz_r, L.conv_w, L.conv_b, D, W, conv_ref[l], xc_r + int64_t(l) * D);
        ref_xproj<<<(X + 63) / 64, 64, 0, stream>>>(L.xpT, xc_r + int64_t(l) * D, D, X, dbc_r + int64_t(l) * X);
        ref_state<<<(D + 127) / 128, 128, 0, stream>>>(dbc_r + int64_t(l) * X, L.dt_proj, L.dt_bias, L.A, L.Dskip, xc_r + int64_t(l) * D, xz_r, D, R,
                                                       ssm_ref[l], y_r + int64_t(l) * D);
        ref_gemv<<<(H + 7) / 8, 256, 0, stream>>>(L.out_proj, y_r + int64_t(l) * D, H, D, nullptr, res_ref);
        CHECK(cudaGetLastError());
    }
    launch(check_layers, 0);
    CHECK(cudaStreamSynchronize(stream));
    bool all_ok = true;
    std::printf("\"check\": [\n");
    for (int l = 0; l < check_layers; ++l) {
        double m1, m2, m3, m4, m5;
        bool f1, f2, f3, f4, f5;
        const double exc = rel_l2(fetch_bf16(xc + int64_t(l) * D, D), fetch_bf16(xc_r + int64_t(l) * D, D), &m1, &f1);
        std::vector<unsigned long long> hacc(X);
        CHECK(cudaMemcpy(hacc.data(), acc + int64_t(l) * X, X * 8, cudaMemcpyDeviceToHost));
        std::vector<float> dbc(X);
        for (int j = 0; j < X; ++j) dbc[j] = __bfloat162float(__float2bfloat16(float(double(static_cast<long long>(hacc[j])) / kFixedScale)));
        const double edbc = rel_l2(dbc, fetch_bf16(dbc_r + int64_t(l) * X, X), &m2, &f2);
        const double ey = rel_l2(fetch_bf16(y + int64_t(l) * D, D), fetch_bf16(y_r + int64_t(l) * D, D), &m3, &f3);
        const double ess = rel_l2(fetch_f32(b.layers[l].ssm_state, D * kN), fetch_f32(ssm_ref[l], D * kN), &m4, &f4);
        const double ecs = rel_l2(fetch_bf16(b.layers[l].conv_state, D * (W - 1)), fetch_bf16(conv_ref[l], D * (W - 1)), &m5, &f5);
        // bf16 outputs computed in another summation order: a rounding flip is 2^-8 relative.
        const bool ok = f1 && f2 && f3 && f4 && f5 && exc < 1e-2 && edbc < 1e-2 && ey < 2e-2 && ess < 1e-2 && ecs < 1e-2;
        all_ok = all_ok && ok;
        std::printf("  {\"layer\": %d, \"xc\": %.3e, \"dbc\": %.3e, \"y\": %.3e, \"ssm_state\": %.3e, \"conv_state\": %.3e, \"max_abs_y\": %.3e, \"ok\": %s}%s\n", l,
                    exc, edbc, ey, ess, ecs, m3, ok ? "true" : "false", l + 1 < check_layers ? "," : "");
    }
    double mres;
    bool fres;
    const double eres = rel_l2(fetch_bf16(res, H), fetch_bf16(res_ref, H), &mres, &fres);
    const bool res_ok = fres && eres < 3e-2;
    all_ok = all_ok && res_ok;
    std::printf("],\n\"residual\": {\"rel_l2\": %.3e, \"max_abs\": %.3e, \"finite\": %s}, \"correct\": %s,\n", eres, mres, fres ? "true" : "false",
                all_ok ? "true" : "false");

    // ---- copy rate in the same process (read + write bytes per second, as the benches count it)
    cudaEvent_t e0, e1;
    CHECK(cudaEventCreate(&e0));
    CHECK(cudaEventCreate(&e1));
    const double copy_gbs = copy_rate_gbps(stream, size_t(1) << 30, 12, 2);
    const double roofline_us = weight_bytes / (copy_gbs * 1e9) * 1e6;
    std::printf("\"copy_gbs\": %.1f, \"weight_bytes\": %.0f, \"roofline_us\": %.1f,\n\"timing\": [\n", copy_gbs, weight_bytes, roofline_us);

    // ---- timing: the whole launch (two memsets + the kernel), every mode
    const char* names[] = {"fence_atomic", "red_release", "no_barrier(wrong results)", "stream_only(wrong results)"};
    for (int mode = 0; mode < 4; ++mode) {
        std::vector<float> t;
        for (int r = 0; r < 25; ++r) {
            CHECK(cudaMemcpyAsync(res, res0, H * sizeof(T), cudaMemcpyDeviceToDevice, stream));
            CHECK(cudaEventRecord(e0, stream));
            launch(layers, mode);
            CHECK(cudaEventRecord(e1, stream));
            CHECK(cudaEventSynchronize(e1));
            float ms;
            CHECK(cudaEventElapsedTime(&ms, e0, e1));
            if (r >= 5) t.push_back(ms * 1000.f);
        }
        std::sort(t.begin(), t.end());
        const double med = t[t.size() / 2];
        std::printf("  {\"barrier\": \"%s\", \"median_us\": %.1f, \"min_us\": %.1f, \"max_us\": %.1f, \"us_per_layer\": %.2f, \"roofline_frac\": %.3f}%s\n",
                    names[mode], med, t.front(), t.back(), med / layers, roofline_us / med, mode < 3 ? "," : "");
    }
    std::printf("],\n");

    // ---- where a layer's time goes (one traced launch, fence_atomic barriers)
    {
        CHECK(cudaMemsetAsync(trace, 0, int64_t(G) * layers * kMarks * 8, stream));
        p.trace = trace;
        launch(layers, 0);
        p.trace = nullptr;
        CHECK(cudaStreamSynchronize(stream));
        std::vector<long long> h(int64_t(G) * layers * kMarks);
        CHECK(cudaMemcpy(h.data(), trace, h.size() * 8, cudaMemcpyDeviceToHost));
        int khz = 0;
        CHECK(cudaDeviceGetAttribute(&khz, cudaDevAttrClockRate, dev));
        // The whole trace, raw: int64 [grid][layers][16] (marks 0-14 clock64, 15 the SM id).
        if (const char* f = std::getenv("MDP_TRACE_FILE")) {
            if (FILE* o = std::fopen(f, "wb")) {
                std::fwrite(h.data(), 8, h.size(), o);
                std::fclose(o);
            }
        }
        const double us_per_clk = 1e3 / khz;
        const char* seg[] = {"params_wait", "norm", "in_proj", "conv", "x_proj", "B1", "dt_proj", "state_update", "B2", "y_stage", "out_proj", "B3"};
        const int l0 = std::min(4, layers - 1), l1 = std::max(l0 + 1, layers - 4);
        std::printf("\"trace_layers\": [%d, %d], \"phase_us\": {", l0, l1);
        for (int k = 0; k < 12; ++k) {
            double sum = 0, mx = 0;
            int n = 0;
            for (int c = 0; c < G; ++c)
                for (int l = l0; l < l1; ++l) {
                    const long long* m = &h[(int64_t(c) * layers + l) * kMarks];
                    const double v = (m[k + 1] - m[k]) * us_per_clk;
                    sum += v;
                    mx = std::max(mx, v);
                    ++n;
                }
            std::printf("\"%s\": [%.2f, %.2f]%s", seg[k], sum / n, mx, k < 11 ? ", " : "");
        }
        double lead = 0, span = 0, layer = 0;
        int n = 0;
        for (int c = 0; c < G; ++c)
            for (int l = l0; l < l1; ++l) {
                const long long* m = &h[(int64_t(c) * layers + l) * kMarks];
                lead += (m[0] - m[13]) * us_per_clk;      // how long before the consumers the producer started the layer
                span += (m[14] - m[13]) * us_per_clk;     // how long the producer took to issue the layer
                layer += (m[kMarks * 1 + 0] - m[0]) * us_per_clk;
                ++n;
            }
        std::printf("}, \"producer_lead_us\": %.2f, \"producer_issue_span_us\": %.2f, \"layer_us\": %.2f}\n", lead / n, span / n, layer / n);
    }
    for (void* q : b.owned) CHECK(cudaFree(q));
    return all_ok ? 0 : 1;
}
