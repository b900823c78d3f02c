// mamba_decode_layers baseline (L1). Contract: include/fk/ops/mamba_decode_layers.h. sm_90.
//
// Why one persistent kernel: Mamba-1's batch-1 decode step is bound by streaming its weights
// (mamba-2.8b: 82 MB per layer, 19.5 us at the H200's copy rate), but per op each layer is a
// chain of five dependent kernels, three of them a few microseconds of pure latency, and HBM
// idles between them: the per-op step stayed at 63 % of the copy rate however each kernel was
// tuned (runs 44-82). Here one CTA per SM runs every layer, and the weights never wait for
// activations: a producer thread streams the CTA's share of every layer's weights, in the
// order they are used, into a ring of shared-memory stages (cp.async.bulk, ~200 KB per SM),
// running ahead through the grid barriers. Designed and measured as
// experiments/ssm/mamba_decode_persistent.cu (runs 88-95), whose lessons shape it:
//   * no consumer ever reads device memory itself, only the ring and L2-resident activations:
//     behind the GPU-wide stream a plain load waits in the same DRAM queues (~6 us), so each
//     layer's small operands and states come through the ring too (one stage per layer);
//   * at most two stages of copies in flight per CTA, not the whole ring (see produce): the
//     barriers' round trips return through the same path as the copies (runs 134-135);
//   * three grid barriers per layer: x_proj is reduced across CTAs by integer atomics on
//     32.32 fixed-point partial sums over each CTA's own channels (exact, so the result does
//     not depend on the order the CTAs arrive in), not by a fourth barrier and a gather;
//   * each lane's share of a phase's input vector lives in registers with a compile-time
//     chunk count (with a runtime count and a predicate per chunk the row loop became a chain
//     of branches, ~1 us per row: run 90), in f32 for in_proj (fewer conversions per chunk).
// Per layer, CTA c owns a range of channels (whole groups of 8, so every per-channel slice
// is 16-byte aligned for the bulk copies) and a range of out_proj rows:
//   P  its channels' parameters and states (one ring stage)
//   N  rms_norm of the residual, in every CTA (2,560 values: cheaper than a barrier)
//   IN in_proj's x rows of its channels, then their conv step
//   XP its channels' share of every x_proj output, added into fixed-point accumulators
//   B1 arrive, in_proj's z rows of its channels, B1 wait | dt_proj rows of its channels, their
//   state update -> y | B2 | out_proj rows of its share of hidden, added into the residual | B3
#include <cstdlib>

#include "fk/ops/mamba_decode_layers.h"
#include "fk/ops/causal_conv1d.h"
#include "fk/common.cuh"
#include "fk/ssm.cuh"

#ifndef FK_SM90A
#define FK_SM90A 0
#endif

#if FK_SM90A
#include "fk/attention/sm90_sync.cuh"
#endif

namespace {

#if FK_SM90A
using fk::attn::bulk_load;
using fk::attn::mbar_arrive;
using fk::attn::mbar_arrive_expect_tx;
using fk::attn::mbar_init;
using fk::attn::mbar_init_fence;
using fk::attn::mbar_wait;
using fk::attn::named_bar_sync;

// 7 consumer warps + 1 producer warp: two warps per SM sub-partition, so a thread may use 255
// registers (the lane vectors take up to 80 and a row's hoisted loads as many again).
constexpr int kConsumerWarps = 7;
constexpr int kConsumers = kConsumerWarps * 32;
constexpr int kThreads = kConsumers + 32;
constexpr int kStageBytes = FK_MAMBA_DECODE_STAGE_BYTES;
constexpr int kMaxStages = 16;
constexpr int kStageChunks = 3;  // 16-byte chunks per consumer when a vector is staged
constexpr int kDState = 16;
constexpr int kStateLanes = 4;   // lanes per channel in the state update, 4 states each
constexpr int kBarConsumers = 1; // named barrier of the consumer warps
constexpr double kFixedScale = 4294967296.0;  // x_proj partial sums as signed 32.32 fixed point
static_assert(kStageChunks * kConsumers * 8 >= 5120, "staged vectors of up to 5120 elements");

using fk::pair_to_float2;
__device__ __forceinline__ uint4 lds16(const void* p) { return *static_cast<const uint4*>(p); }

__device__ __forceinline__ int share(int n, int c, int g) { return static_cast<int>(int64_t(n) * c / g); }

// What CTA c computes: channels [ch0, ch0 + nch) (whole groups of 8) and out_proj rows
// [or0, or0 + no).
struct Shares {
    int ch0, nch, or0, no;
    __device__ Shares(const fk_mamba_decode_layers_params& p) {
        const int c = blockIdx.x, g = gridDim.x;
        ch0 = 8 * share(p.inner / 8, c, g);
        nch = 8 * share(p.inner / 8, c + 1, g) - ch0;
        or0 = share(p.hidden, c, g);
        no = share(p.hidden, c + 1, g) - or0;
    }
};

// The layer's weight streams after its parameter stage, in use order (enum order); `rps` whole
// rows per stage. in_proj's z rows come after x_proj: a CTA arrives at B1 and multiplies its z
// rows before it waits there (z is needed only by the state update), so the barrier's latency
// and the spread of the CTAs' arrivals are spent streaming (run 100: 29.5 -> 28.1 us per layer).
enum { kInX, kXProj, kInZ, kDtProj, kOutProj, kSegments };
struct Segment {
    const unsigned char* base;
    int row_bytes, rows, rps;
};
template <typename T>
__device__ __forceinline__ Segment segment(const fk_mamba_decode_layers_params& p, const fk_mamba_decode_layer& L, const Shares& s, int kind) {
    const auto at = [](const void* w, int64_t row, int64_t elems) { return static_cast<const unsigned char*>(w) + row * elems * int64_t(sizeof(T)); };
    const int X = p.dt_rank + 2 * p.d_state;
    Segment g;
    switch (kind) {
        case kInX: g = {at(L.in_proj, s.ch0, p.hidden), p.hidden * 2, s.nch, 0}; break;
        case kInZ: g = {at(L.in_proj, int64_t(p.inner) + s.ch0, p.hidden), p.hidden * 2, s.nch, 0}; break;
        case kXProj: g = {at(L.x_proj_t, s.ch0, X), X * 2, s.nch, 0}; break;
        case kDtProj: g = {at(L.dt_proj, s.ch0, p.dt_rank), p.dt_rank * 2, s.nch, 0}; break;
        default: g = {at(L.out_proj, s.or0, p.inner), p.inner * 2, s.no, 0}; break;
    }
    g.rps = kStageBytes / g.row_bytes;
    return g;
}

// The layer's small operands, one stage: the norm weight, and this CTA's channels' conv
// weights and bias, dt_bias, D, A, SSM state and conv state (byte offsets; all 16-byte
// multiples since nch is a multiple of 8). The producer counts the bytes it copies itself
// (absent optional operands are not copied).
struct ParamStage {
    int nw, cw, cb, dtb, dsk, A, ss, cs;
    __device__ ParamStage(const fk_mamba_decode_layers_params& p, int nch, bool states) {
        nw = 0;
        cw = nw + p.hidden * 2;
        cb = cw + nch * p.conv_width * 2;
        dtb = cb + nch * 2;
        dsk = dtb + nch * 4;
        A = dsk + nch * 4;
        ss = A + nch * kDState * 4;
        cs = ss + (states ? nch * kDState * 4 : 0);
    }
};

struct Ring {
    unsigned char* data;
    uint32_t data_addr, full, empty;
    int stages;
    __device__ __forceinline__ uint32_t full_bar(uint32_t it) const { return full + 8u * (it % stages); }
    __device__ __forceinline__ uint32_t empty_bar(uint32_t it) const { return empty + 8u * (it % stages); }
    __device__ __forceinline__ uint32_t slot_addr(uint32_t it) const { return data_addr + (it % stages) * kStageBytes; }
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

// The producer (one thread): every stage of every layer in consumption order, each as soon as
// its slot has been handed back and, with `inflight` > 0, the stage `inflight` before it has
// landed. Why a cap below the ring's depth: the grid barriers' atomics and polls, and the
// activations read after them, return through the same path as the CTA's copies in flight; with
// the whole ring (10 stages, 200 KB) in flight they queued behind it. With at most 2 stages in
// flight (40 KB, about one SM's share of HBM at the loaded latency) mamba-2.8b's batch-1 decode
// took 1653-1655 us instead of 1846-1859, 80.3-80.9 % of the weight-streaming roofline (runs
// 135-136); 1 stage (a halved stream) ran 1814 us and 3 stages 1775.
template <typename T>
__device__ void produce(const fk_mamba_decode_layers_params& p, const fk_mamba_decode_layer* layers, const Shares& s, const Ring& ring, int slot_row,
                        int inflight) {
    const bool states = slot_row >= 0;
    const ParamStage ps(p, s.nch, states);
    const int taps = p.conv_width - 1;
    uint32_t it = 0;
    const auto claim = [&](uint32_t i) {
        if (i >= static_cast<uint32_t>(ring.stages)) mbar_wait(ring.empty_bar(i), ((i / ring.stages) - 1) & 1);
        if (inflight > 0 && i >= static_cast<uint32_t>(inflight)) {
            // Stage i - inflight's copies have landed. Its slot cannot have been re-armed yet
            // (that is stage i - inflight + stages, after this one), so the parity is unambiguous.
            const uint32_t landed = i - static_cast<uint32_t>(inflight);
            mbar_wait(ring.full_bar(landed), (landed / ring.stages) & 1);
        }
    };
    for (int l = 0; l < p.layers; ++l) {
        const fk_mamba_decode_layer& L = layers[l];
        claim(it);
        {
            const uint32_t dst = ring.slot_addr(it), bar = ring.full_bar(it);
            const int n = s.nch, c = s.ch0;
            // The bytes this stage's copies deliver (absent optional operands: no copy; the
            // consumers use 0 for them), announced before any copy is issued.
            const int bytes = p.hidden * 2 + n * p.conv_width * 2 + (L.conv_bias ? n * 2 : 0) + (L.dt_bias ? n * 4 : 0) + (L.D ? n * 4 : 0) +
                              n * kDState * 4 + (states ? n * kDState * 4 + n * taps * 2 : 0);
            mbar_arrive_expect_tx(bar, static_cast<uint32_t>(bytes));
            const auto copy = [&](int off, const void* src, int64_t elem_off, int elem_bytes, int nbytes) {
                if (src && nbytes > 0) bulk_load(dst + off, static_cast<const unsigned char*>(src) + elem_off * elem_bytes, static_cast<uint32_t>(nbytes), bar);
            };
            copy(ps.nw, L.norm_weight, 0, 2, p.hidden * 2);
            copy(ps.cw, L.conv_weight, int64_t(c) * p.conv_width, 2, n * p.conv_width * 2);
            copy(ps.cb, L.conv_bias, c, 2, n * 2);
            copy(ps.dtb, L.dt_bias, c, 4, n * 4);
            copy(ps.dsk, L.D, c, 4, n * 4);
            copy(ps.A, L.A, int64_t(c) * kDState, 4, n * kDState * 4);
            if (states) {
                const int64_t row = int64_t(slot_row) * p.inner + c;
                copy(ps.ss, L.ssm_state, row * kDState, 4, n * kDState * 4);
                copy(ps.cs, L.conv_state, row * taps, 2, n * taps * 2);
            }
            ++it;
        }
        for (int kind = 0; kind < kSegments; ++kind) {
            const Segment g = segment<T>(p, L, s, kind);
            for (int r0 = 0; r0 < g.rows; r0 += g.rps, ++it) {
                claim(it);
                const uint32_t bytes = static_cast<uint32_t>(min(g.rps, g.rows - r0) * g.row_bytes);
                mbar_arrive_expect_tx(ring.full_bar(it), bytes);
                bulk_load(ring.slot_addr(it), g.base + int64_t(r0) * g.row_bytes, bytes, ring.full_bar(it));
            }
        }
    }
}

// A lane's chunks lane, lane + 32, ... lane + 32(C-1) of a vector of 32C 16-byte chunks (in
// shared memory), held in registers for every row the warp multiplies; f32 (8C registers,
// fewer conversions per chunk) or packed (4C registers).
template <typename T, int C> struct LaneVectorF {
    float f[8 * C];
    __device__ __forceinline__ void load(const T* vec, int lane) {
#pragma unroll
        for (int c = 0; c < C; ++c) {
            const uint4 raw = lds16(vec + (c * 32 + lane) * 8);
            const uint32_t* u = reinterpret_cast<const uint32_t*>(&raw);
#pragma unroll
            for (int e = 0; e < 4; ++e) {
                const float2 v = pair_to_float2(u[e], T());
                f[8 * c + 2 * e] = v.x;
                f[8 * c + 2 * e + 1] = v.y;
            }
        }
    }
    // The warp's dot product of a row (shared memory) with the vector; every lane gets it. The
    // row's loads are issued first; four accumulators break the FMA chain.
    __device__ __forceinline__ float dot(const unsigned char* row, int lane) const {
        uint4 w[C];
#pragma unroll
        for (int c = 0; c < C; ++c) w[c] = lds16(row + (c * 32 + lane) * 16);
        float a[4] = {0.f, 0.f, 0.f, 0.f};
#pragma unroll
        for (int c = 0; c < C; ++c) {
            const uint32_t* u = reinterpret_cast<const uint32_t*>(&w[c]);
#pragma unroll
            for (int e = 0; e < 4; ++e) {
                const float2 v = pair_to_float2(u[e], T());
                a[(2 * e) % 4] = fmaf(v.x, f[8 * c + 2 * e], a[(2 * e) % 4]);
                a[(2 * e + 1) % 4] = fmaf(v.y, f[8 * c + 2 * e + 1], a[(2 * e + 1) % 4]);
            }
        }
        return fk::warp_sum((a[0] + a[1]) + (a[2] + a[3]));
    }
};
template <typename T, int C> struct LaneVector {
    uint4 v[C];
    __device__ __forceinline__ void load(const T* vec, int lane) {
#pragma unroll
        for (int c = 0; c < C; ++c) v[c] = lds16(vec + (c * 32 + lane) * 8);
    }
    __device__ __forceinline__ float dot(const unsigned char* row, int lane) const {
        uint4 w[C];
#pragma unroll
        for (int c = 0; c < C; ++c) w[c] = lds16(row + (c * 32 + lane) * 16);
        float a[4] = {0.f, 0.f, 0.f, 0.f};
#pragma unroll
        for (int c = 0; c < C; ++c) a[c % 4] = fk::dot16_acc<T>(w[c], v[c], a[c % 4]);
        return fk::warp_sum((a[0] + a[1]) + (a[2] + a[3]));
    }
};

// Row-per-warp GEMV over a segment's stages (segment row r is warp r % 7's): lane 0 stores the
// rounded sum at dst[r], or with `res` the rounded residual add res[r] + round(sum).
template <typename T, typename Vec>
__device__ __forceinline__ void consume_rows(const Segment& g, const Vec& x, const Ring& ring, uint32_t& it, int warp, int lane, T* dst,
                                             const T* res = nullptr) {
    for (int r0 = 0; r0 < g.rows; r0 += g.rps, ++it) {
        const unsigned char* stage = ring.wait(it);
        const int n = min(g.rps, g.rows - r0);
        for (int j = (warp - r0 % kConsumerWarps + kConsumerWarps) % kConsumerWarps; j < n; j += kConsumerWarps) {
            const float s = x.dot(stage + static_cast<size_t>(j) * g.row_bytes, lane);
            if (lane == 0) dst[r0 + j] = res ? fk::add_round(fk::from_float<T>(s), res[r0 + j]) : fk::from_float<T>(s);
        }
        ring.release(it, lane);
    }
}

// dt_proj: rows of dt_rank <= 256 elements. Four lanes per row, eight rows per warp pass (lane
// 4i + q: row i of the pass, chunks q, q + 4, ...): two shuffles per row where a warp per row
// paid five. dst[r] = the row's dot with dbc[:dt_rank], rounded to T, as f32.
template <typename T>
__device__ __forceinline__ void consume_dt(const Segment& g, const T* dbc, int r_chunks, const Ring& ring, uint32_t& it, int warp, int lane, float* dst) {
    const int q = lane & 3, ri = lane >> 2;
    uint4 xv[8];
#pragma unroll
    for (int k = 0; k < 8; ++k) xv[k] = q + 4 * k < r_chunks ? lds16(dbc + (q + 4 * k) * 8) : make_uint4(0, 0, 0, 0);
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
                    if (q + 4 * k < r_chunks) acc = fk::dot16_acc<T>(lds16(rp + (q + 4 * k) * 16), xv[k], acc);
            }
            acc += __shfl_xor_sync(0xffffffffu, acc, 1);
            acc += __shfl_xor_sync(0xffffffffu, acc, 2);
            if (q == 0 && row < n) dst[r0 + row] = fk::round_to<T>(acc);
        }
        ring.release(it, lane);
    }
}

// bar.sync is .aligned: every lane of each warp must execute it together, so reconverge first.
__device__ __forceinline__ void consumers_sync() {
    __syncwarp();
    named_bar_sync(kBarConsumers, kConsumers);
}

__device__ __forceinline__ float consumers_sum(float v, float* red, int warp, int lane) {
    v = fk::warp_sum(v);
    if (lane == 0) red[warp] = v;
    consumers_sync();
    float s = 0.f;
#pragma unroll
    for (int w = 0; w < kConsumerWarps; ++w) s += red[w];
    consumers_sync();
    return s;
}

// All CTAs' consumers meet: writes and atomics before grid_arrive (any consumer of any CTA)
// are visible after grid_wait to loads through L2; work that does not depend on them may go
// between the two. `target` counts the arrivals expected so far (the launcher zeroed the counter).
__device__ __forceinline__ void grid_arrive(unsigned int* counter, unsigned int& target) {
    consumers_sync();
    target += gridDim.x;
    if (threadIdx.x == 0) {
        __threadfence();
        atomicAdd(counter, 1u);
    }
}
__device__ __forceinline__ void grid_wait(const unsigned int* counter, unsigned int target) {
    if (threadIdx.x == 0) {
        unsigned int seen;
        do {
            asm volatile("ld.acquire.gpu.global.u32 %0, [%1];\n" : "=r"(seen) : "l"(counter) : "memory");
        } while (seen < target);
    }
    consumers_sync();
}
__device__ __forceinline__ void grid_sync(unsigned int* counter, unsigned int& target) {
    grid_arrive(counter, target);
    grid_wait(counter, target);
}

// n16 chunks of a vector other CTAs wrote, into shared memory: every load (through L2) first.
__device__ __forceinline__ void stage_vector(void* dst, const void* src, int n16, int tid) {
    uint4 v[kStageChunks];
#pragma unroll
    for (int i = 0; i < kStageChunks; ++i)
        if (tid + i * kConsumers < n16) v[i] = __ldcg(static_cast<const uint4*>(src) + tid + i * kConsumers);
#pragma unroll
    for (int i = 0; i < kStageChunks; ++i)
        if (tid + i * kConsumers < n16) static_cast<uint4*>(dst)[tid + i * kConsumers] = v[i];
}

// Shared memory: ring | full, empty barriers | xn [hidden] | vec [inner] | dbc [X] |
// xr, z, xc [cmax] | dt [cmax] f32 | red [8] f32 | res_own [omax].
inline int64_t fixed_smem_bytes(int hidden, int inner, int x, int cmax, int omax, int elem) {
    const auto up16 = [](int64_t b) { return (b + 15) / 16 * 16; };
    return up16(int64_t(hidden) * elem) + up16(int64_t(inner) * elem) + up16(int64_t(x) * elem) + up16(3 * int64_t(cmax) * elem) + (cmax + 8) * 4 +
           int64_t(omax) * elem;
}

// HC, DC: 16-byte chunks per lane of the hidden (hidden / 256) and inner (inner / 256) vectors.
template <typename T, int HC, int DC>
__global__ void __launch_bounds__(kThreads, 1) mamba_decode_layers_kernel(const __grid_constant__ fk_mamba_decode_layers_params p, const int stages,
                                                                           const int inflight) {
    extern __shared__ __align__(128) unsigned char smem[];
    __shared__ fk_mamba_decode_layer layers[FK_MAMBA_DECODE_MAX_LAYERS];  // read once, not per layer from the parameter bank
    const int tid = threadIdx.x, warp = tid / 32, lane = tid % 32;
    const Shares sh(p);
    const int X = p.dt_rank + 2 * p.d_state, taps = p.conv_width - 1;
    const int cmax = 8 * ((p.inner / 8 + gridDim.x - 1) / gridDim.x);
    const int slot_row = *p.state_index;
    const bool states = slot_row >= 0 && slot_row < p.state_rows;  // else a padding row: zero states, none written

    Ring ring;
    ring.data = smem;
    ring.stages = stages;
    unsigned char* cur = smem + static_cast<size_t>(stages) * kStageBytes;
    ring.data_addr = static_cast<uint32_t>(__cvta_generic_to_shared(smem));
    ring.full = static_cast<uint32_t>(__cvta_generic_to_shared(cur));
    ring.empty = ring.full + 8u * stages;
    cur += 16 * stages;
    const auto take = [&](int64_t bytes) {
        unsigned char* at = cur;
        cur += (bytes + 15) / 16 * 16;
        return at;
    };
    T* xn = reinterpret_cast<T*>(take(int64_t(p.hidden) * sizeof(T)));
    T* vec = reinterpret_cast<T*>(take(int64_t(p.inner) * sizeof(T)));
    T* dbc = reinterpret_cast<T*>(take(int64_t(X) * sizeof(T)));
    T* xr = reinterpret_cast<T*>(take(3 * int64_t(cmax) * sizeof(T)));
    T* zl = xr + cmax;
    T* xcl = zl + cmax;
    float* dtl = reinterpret_cast<float*>(cur);
    float* red = dtl + cmax;
    T* res_own = reinterpret_cast<T*>(red + 8);

    for (int i = tid; i < p.layers; i += blockDim.x) layers[i] = p.layer[i];
    if (tid == 0) {
        for (int b = 0; b < stages; ++b) {
            mbar_init(ring.full + 8u * b, 1);
            mbar_init(ring.empty + 8u * b, kConsumerWarps);
        }
        mbar_init_fence();
    }
    __syncthreads();
    if (warp == kConsumerWarps) {
        if (lane == 0) produce<T>(p, layers, sh, ring, states ? slot_row : -1, inflight);
        return;
    }

    T* residual = static_cast<T*>(p.residual);
    T* y_g = static_cast<T*>(p.y);
    const int hch = p.hidden / 8;
    const ParamStage ps(p, sh.nch, states);
    unsigned int target = 0;
    uint32_t it = 0;

    for (int l = 0; l < p.layers; ++l) {
        const fk_mamba_decode_layer& L = layers[l];
        // The residual (other CTAs wrote it: through L2) is requested before anything waits.
        uint4 rv[kStageChunks];
#pragma unroll
        for (int i = 0; i < kStageChunks; ++i) {
            const int q = tid + i * kConsumers;
            if (q < hch) rv[i] = __ldcg(reinterpret_cast<const uint4*>(residual) + q);
        }
        // P: this CTA's channels' parameters and states.
        const uint32_t pit = it++;
        const unsigned char* pst = ring.wait(pit);
        const bool conv_live = tid < sh.nch;
        // (the last tap in a scalar of its own: cw[taps] would put the array in local memory)
        float cw[FK_CAUSAL_CONV1D_MAX_WIDTH - 1] = {}, clast = 0.f, cb = 0.f;
        T cold[FK_CAUSAL_CONV1D_MAX_WIDTH - 1];
        if (conv_live) {
            const T* w = reinterpret_cast<const T*>(pst + ps.cw) + tid * p.conv_width;
            const T* cs = reinterpret_cast<const T*>(pst + ps.cs) + tid * taps;
#pragma unroll
            for (int t = 0; t < FK_CAUSAL_CONV1D_MAX_WIDTH - 1; ++t)
                if (t < taps) {
                    cw[t] = fk::to_float(w[t]);
                    cold[t] = states ? cs[t] : fk::from_float<T>(0.f);
                }
            clast = fk::to_float(w[taps]);
            if (L.conv_bias) cb = fk::to_float(reinterpret_cast<const T*>(pst + ps.cb)[tid]);
        }
        const int su = tid / kStateLanes, sl = tid % kStateLanes;
        const bool su_live = su < sh.nch;
        float4 st = make_float4(0.f, 0.f, 0.f, 0.f), a4 = st;
        float dtb = 0.f, dsk = 0.f;
        if (su_live) {
            if (states) st = reinterpret_cast<const float4*>(pst + ps.ss)[su * (kDState / 4) + sl];
            a4 = reinterpret_cast<const float4*>(pst + ps.A)[su * (kDState / 4) + sl];
            if (L.dt_bias) dtb = reinterpret_cast<const float*>(pst + ps.dtb)[su];
            if (L.D) dsk = reinterpret_cast<const float*>(pst + ps.dsk)[su];
        }

        // N: xn = rms_norm(residual) with rms_norm's roundings; this CTA's out_proj rows of
        // the residual are kept for OUT's add.
        float ss = 0.f;
#pragma unroll
        for (int i = 0; i < kStageChunks; ++i) {
            const int q = tid + i * kConsumers;
            if (q >= hch) continue;
            const T* r = reinterpret_cast<const T*>(&rv[i]);
#pragma unroll
            for (int e = 0; e < 8; ++e) {
                const float f = fk::to_float(r[e]);
                ss = fmaf(f, f, ss);
                const int n = q * 8 + e - sh.or0;
                if (n >= 0 && n < sh.no) res_own[n] = r[e];
            }
        }
        const float rstd = rsqrtf(consumers_sum(ss, red, warp, lane) / static_cast<float>(p.hidden) + p.eps);
#pragma unroll
        for (int i = 0; i < kStageChunks; ++i) {
            const int q = tid + i * kConsumers;
            if (q >= hch) continue;
            const T* r = reinterpret_cast<const T*>(&rv[i]);
            const T* w = reinterpret_cast<const T*>(pst + ps.nw) + q * 8;
            uint4 o;
            T* ov = reinterpret_cast<T*>(&o);
#pragma unroll
            for (int e = 0; e < 8; ++e) ov[e] = fk::from_float<T>(fk::round_to<T>(fk::to_float(r[e]) * rstd) * fk::to_float(w[e]));
            reinterpret_cast<uint4*>(xn)[q] = o;
        }
        ring.release(pit, lane);
        consumers_sync();

        // IN: x rows of this CTA's channels.
        {
            LaneVectorF<T, HC> x;
            x.load(xn, lane);
            consume_rows<T>(segment<T>(p, L, sh, kInX), x, ring, it, warp, lane, xr);
        }
        consumers_sync();

        // The conv step of this CTA's channels (causal_conv1d_update's arithmetic).
        if (conv_live) {
            const int64_t d = sh.ch0 + tid;
            float acc = cb;
#pragma unroll
            for (int t = 0; t < FK_CAUSAL_CONV1D_MAX_WIDTH - 1; ++t)
                if (t < taps) acc = fmaf(cw[t], fk::to_float(cold[t]), acc);
            acc = fmaf(clast, fk::to_float(xr[tid]), acc);
            const T out = fk::from_float<T>(fk::silu(acc));
            xcl[tid] = out;
            static_cast<T*>(p.xc)[d] = out;
            if (states) {
                T* cs = static_cast<T*>(L.conv_state) + (int64_t(slot_row) * p.inner + d) * taps;
#pragma unroll
                for (int t = 0; t + 1 < FK_CAUSAL_CONV1D_MAX_WIDTH - 1; ++t)
                    if (t + 1 < taps) cs[t] = cold[t + 1];
                cs[taps - 1] = xr[tid];
            }
        }
        consumers_sync();

        // XP: this CTA's channels' share of every x_proj output (thread t: output t), added in
        // fixed point. (Two outputs per thread over half the rows each, met in shared memory,
        // was 1 us per layer slower: run 95.)
        {
            const Segment g = segment<T>(p, L, sh, kXProj);
            float part[4] = {0.f, 0.f, 0.f, 0.f};
            for (int r0 = 0; r0 < g.rows; r0 += g.rps, ++it) {
                const T* stage = reinterpret_cast<const T*>(ring.wait(it));
                const int n = min(g.rps, g.rows - r0);
                if (tid < X) {
                    int i = 0;
                    for (; i + 4 <= n; i += 4) {
#pragma unroll
                        for (int u = 0; u < 4; ++u) part[u] = fmaf(fk::to_float(stage[(i + u) * X + tid]), fk::to_float(xcl[r0 + i + u]), part[u]);
                    }
                    for (; i < n; ++i) part[0] = fmaf(fk::to_float(stage[i * X + tid]), fk::to_float(xcl[r0 + i]), part[0]);
                }
                ring.release(it, lane);
            }
            if (tid < X && g.rows > 0) {
                const float v = (part[0] + part[1]) + (part[2] + part[3]);
                const long long q = __double2ll_rn(static_cast<double>(v) * kFixedScale);
                atomicAdd(p.acc + int64_t(l) * X + tid, static_cast<unsigned long long>(q));
            }
        }
        grid_arrive(p.barrier, target);  // B1: x_proj's sums complete
        {
            // z rows of this CTA's channels while the other CTAs arrive. The vector is loaded
            // again from xn (still in place): kept live through conv and x_proj it would hold
            // 80 registers for a reload of 10 shared-memory loads per lane.
            LaneVectorF<T, HC> x;
            x.load(xn, lane);
            consume_rows<T>(segment<T>(p, L, sh, kInZ), x, ring, it, warp, lane, zl);
        }
        grid_wait(p.barrier, target);

        // dt_proj rows of this CTA's channels, then their state update
        // (selective_state_update's vector kernel, dt_proj form, four states per lane).
        if (tid < X) {
            const long long q = static_cast<long long>(__ldcg(p.acc + int64_t(l) * X + tid));
            const T v = fk::from_float<T>(static_cast<float>(static_cast<double>(q) / kFixedScale));
            dbc[tid] = v;
            if (blockIdx.x == 0) static_cast<T*>(p.dbc)[tid] = v;
        }
        consumers_sync();
        consume_dt<T>(segment<T>(p, L, sh, kDtProj), dbc, p.dt_rank / 8, ring, it, warp, lane, dtl);
        consumers_sync();
        float yv = 0.f, xv = 0.f, zv = 0.f;
        if (su_live) {
            const float dt = fk::softplus(dtl[su] + dtb);
            xv = fk::to_float(xcl[su]);
            zv = fk::to_float(zl[su]);
            const float dtx = dt * xv;
            const float av[4] = {a4.x, a4.y, a4.z, a4.w};
            float* sv = &st.x;
#pragma unroll
            for (int e = 0; e < 4; ++e) {
                const float dA = exp2f(dt * av[e] * fk::kLog2e);
                sv[e] = fmaf(dA, sv[e], dtx * fk::to_float(dbc[p.dt_rank + 4 * sl + e]));
                yv = fmaf(sv[e], fk::to_float(dbc[p.dt_rank + kDState + 4 * sl + e]), yv);
            }
            if (states) {
                float* dst = L.ssm_state + (int64_t(slot_row) * p.inner + sh.ch0 + su) * kDState + 4 * sl;
                *reinterpret_cast<float4*>(dst) = st;
            }
        }
#pragma unroll
        for (int off = kStateLanes / 2; off > 0; off /= 2) yv += __shfl_xor_sync(0xffffffffu, yv, off, kStateLanes);
        if (su_live && sl == 0) {
            yv = fmaf(dsk, xv, yv);
            yv *= fk::silu(zv);
            y_g[sh.ch0 + su] = fk::from_float<T>(yv);
        }
        grid_sync(p.barrier, target);  // B2: y complete

        // OUT: this CTA's out_proj rows, added into the residual (fused_add_rms_norm's add).
        stage_vector(vec, y_g, p.inner / 8, tid);
        consumers_sync();
        {
            LaneVector<T, DC> x;
            x.load(vec, lane);
            consume_rows<T>(segment<T>(p, L, sh, kOutProj), x, ring, it, warp, lane, residual + sh.or0, res_own);
        }
        if (l + 1 < p.layers) grid_sync(p.barrier, target);  // B3: the residual complete
    }
}

using KernelFn = void (*)(const fk_mamba_decode_layers_params, const int, const int);

// The instantiated widths: every Mamba-1 checkpoint (hidden 768 .. 2560, inner = 2 hidden),
// and hidden 256 (tests: fewer channel groups than SMs).
template <typename T> KernelFn kernel_for(int hidden, int inner) {
    if (inner != 2 * hidden || hidden % 256) return nullptr;
    switch (hidden / 256) {
        case 1: return mamba_decode_layers_kernel<T, 1, 2>;
        case 3: return mamba_decode_layers_kernel<T, 3, 6>;
        case 4: return mamba_decode_layers_kernel<T, 4, 8>;
        case 6: return mamba_decode_layers_kernel<T, 6, 12>;
        case 8: return mamba_decode_layers_kernel<T, 8, 16>;
        case 10: return mamba_decode_layers_kernel<T, 10, 20>;
        default: return nullptr;
    }
}

// Stage copies in flight per CTA (see produce): 2, or FK_MAMBA_DECODE_INFLIGHT (an A/B knob;
// 0 = as many as the ring holds). Always below the ring's depth.
int inflight_stages(int stages) {
    int n = 2;
    if (const char* v = std::getenv("FK_MAMBA_DECODE_INFLIGHT")) n = std::atoi(v);
    return n <= 0 || n >= stages ? 0 : n;
}

template <typename T> cudaError_t launch(const fk_mamba_decode_layers_params* p, cudaStream_t stream) {
    const KernelFn kernel = kernel_for<T>(p->hidden, p->inner);
    if (!kernel) return cudaErrorNotSupported;
    int dev = 0, sms = 0, optin = 0;
    cudaError_t e = cudaGetDevice(&dev);
    if (e == cudaSuccess) e = cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, dev);
    if (e == cudaSuccess) e = cudaDeviceGetAttribute(&optin, cudaDevAttrMaxSharedMemoryPerBlockOptin, dev);
    if (e != cudaSuccess) return e;
    const int x = p->dt_rank + 2 * p->d_state;
    const int cmax = 8 * ((p->inner / 8 + sms - 1) / sms), omax = (p->hidden + sms - 1) / sms;
    // The state update gives each channel 4 lanes, x_proj each output a thread, and a
    // layer's parameters must fit one stage.
    const int64_t param_bytes = int64_t(p->hidden) * 2 + int64_t(cmax) * (p->conv_width * 2 + 2 + 4 + 4 + 2 * kDState * 4 + (p->conv_width - 1) * 2);
    if (cmax * kStateLanes > kConsumers || x > kConsumers || param_bytes > kStageBytes) return cudaErrorNotSupported;
    cudaFuncAttributes attr;
    if ((e = cudaFuncGetAttributes(&attr, kernel)) != cudaSuccess) return e;
    const int64_t fixed = fixed_smem_bytes(p->hidden, p->inner, x, cmax, omax, sizeof(T));
    const int stages = static_cast<int>(std::min<int64_t>(kMaxStages, (optin - int64_t(attr.sharedSizeBytes) - fixed) / (kStageBytes + 16)));
    if (stages < 2) return cudaErrorNotSupported;
    const size_t smem = static_cast<size_t>(stages) * (kStageBytes + 16) + static_cast<size_t>(fixed);
    if ((e = cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(smem))) != cudaSuccess) return e;
    int per_sm = 0;
    if ((e = cudaOccupancyMaxActiveBlocksPerMultiprocessor(&per_sm, kernel, kThreads, smem)) != cudaSuccess) return e;
    if (per_sm < 1) return cudaErrorCooperativeLaunchTooLarge;
    if ((e = cudaMemsetAsync(p->acc, 0, sizeof(unsigned long long) * size_t(p->layers) * x, stream)) != cudaSuccess) return e;
    if ((e = cudaMemsetAsync(p->barrier, 0, sizeof(unsigned int), stream)) != cudaSuccess) return e;
    cudaLaunchConfig_t cfg = {};
    cfg.gridDim = dim3(static_cast<unsigned>(sms));
    cfg.blockDim = dim3(kThreads);
    cfg.dynamicSmemBytes = smem;
    cfg.stream = stream;
    cudaLaunchAttribute la[1];
    la[0].id = cudaLaunchAttributeCooperative;
    la[0].val.cooperative = 1;
    cfg.attrs = la;
    cfg.numAttrs = 1;
    return cudaLaunchKernelEx(&cfg, kernel, *p, stages, inflight_stages(stages));
}
#endif  // FK_SM90A

bool aligned16(const void* ptr) { return reinterpret_cast<uintptr_t>(ptr) % 16 == 0; }

}  // namespace

FK_OP_LAUNCHER(mamba_decode_layers)(const fk_mamba_decode_layers_params* p, cudaStream_t stream) {
    FK_REQUIRE(p != nullptr && stream != nullptr);
    FK_REQUIRE(p->layers >= 1 && p->layers <= FK_MAMBA_DECODE_MAX_LAYERS);
    FK_REQUIRE(p->dtype == FK_DTYPE_BF16 || p->dtype == FK_DTYPE_F16);
    FK_REQUIRE(p->d_state == 16 && p->conv_width >= 2 && p->conv_width <= FK_CAUSAL_CONV1D_MAX_WIDTH);
    FK_REQUIRE(p->hidden > 0 && p->hidden % 256 == 0 && p->inner == 2 * p->hidden && p->dt_rank > 0 && p->dt_rank % 8 == 0 && p->dt_rank <= 192);
    FK_REQUIRE(int64_t(p->inner) * 2 <= FK_MAMBA_DECODE_STAGE_BYTES);
    FK_REQUIRE(p->state_rows >= 1 && p->state_index != nullptr && p->barrier != nullptr && p->acc != nullptr);
    FK_REQUIRE(aligned16(p->residual) && aligned16(p->xc) && aligned16(p->dbc) && aligned16(p->y));
    for (int l = 0; l < p->layers; ++l) {
        const fk_mamba_decode_layer& L = p->layer[l];
        FK_REQUIRE(L.norm_weight && L.in_proj && L.conv_weight && L.x_proj_t && L.dt_proj && L.A && L.out_proj && L.conv_state && L.ssm_state);
        FK_REQUIRE(aligned16(L.norm_weight) && aligned16(L.in_proj) && aligned16(L.conv_weight) && aligned16(L.x_proj_t) && aligned16(L.dt_proj) &&
                   aligned16(L.out_proj) && aligned16(L.A) && aligned16(L.ssm_state) && aligned16(L.conv_state));
        FK_REQUIRE((!L.conv_bias || aligned16(L.conv_bias)) && (!L.dt_bias || aligned16(L.dt_bias)) && (!L.D || aligned16(L.D)));
    }
#if FK_SM90A
    if (p->dtype == FK_DTYPE_BF16) return launch<__nv_bfloat16>(p, stream);
    return launch<__half>(p, stream);
#else
    return cudaErrorNotSupported;
#endif
}
