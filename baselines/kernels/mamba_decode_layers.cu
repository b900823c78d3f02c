// mamba_decode_layers baseline (L1). Contract: include/fk/ops/mamba_decode_layers.h. sm_90.
//
// Why one persistent kernel: Mamba-1's batch-1 decode step is bound by streaming its weights
// (mamba-2.8b: 82 MB per layer, 19.5 us at the H200's copy rate), but each layer is a chain of
// five dependent kernels (norm, in_proj + conv, x_proj, dt_proj + state update, out_proj) of
// which three are a few microseconds of pure latency; between and during them HBM idles, and
// the per-op step stayed at 63 % of the copy rate however each kernel was tuned (runs 44-82).
// Here weights never wait for activations: one producer thread per CTA streams the CTA's share
// of every layer's weights, in the order they are used, into a ring of shared-memory stages
// (bulk copies, ~200 KB per SM, ~26 MB across the GPU: about 6 us of HBM time), running ahead
// of the consumers while they sit in the latency-bound phases and the grid barriers between
// them. The consumers (8 warps) compute each phase from the ring:
//   N    every CTA normalises the whole residual row itself (2,560 values: cheaper than a
//        barrier), into shared memory;
//   IN   in_proj rows x[c], z[c] of the CTA's channel range c, then the conv step of those
//        channels (their x, z, xc stay in shared memory);                       grid barrier
//   XP   x_proj rows of the CTA's share of its 192 outputs, from the whole xc; grid barrier
//   SU   dt_proj rows of channel range c, then the state update of those channels (state,
//        A, D, dt_bias, x and z are the CTA's own);                            grid barrier
//   OUT  out_proj rows of the CTA's share of hidden, added into the residual;  grid barrier
// A warp owns whole rows of a stage (row r of a segment: warp r % 8); each lane keeps its
// 16-byte chunks of the phase's input vector in registers, so shared memory serves only the
// weights. Grid barriers are a counter in global memory (all CTAs are co-resident: one per SM,
// cooperative launch); activations crossing CTAs are read with ld.global.cg (L1 is not
// coherent across SMs).
#include <cstdlib>

#include "fk/ops/mamba_decode_layers.h"
#include "fk/common.cuh"
#include "fk/ssm.cuh"

#ifndef FK_SM90A
#define FK_SM90A 0
#endif

#if FK_SM90A
#include "fk/attention/sm90_sync.cuh"
#include "fk/skinny/pieces.cuh"
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
using fk::skinny::dot_acc;

// 7 + 1 warps: two per SM sub-partition, so a thread may use 255 registers (the lane vectors
// take 80; a ninth warp caps every thread at 168, which spilled).
constexpr int kConsumerWarps = 7;
constexpr int kConsumers = kConsumerWarps * 32;
constexpr int kThreads = kConsumers + 32;  // + the producer warp
constexpr int kStageBytes = FK_MAMBA_DECODE_STAGE_BYTES;
constexpr int kMaxStages = 16;
constexpr int kDefaultInflight = 2;
constexpr int kVecChunks = 20;  // 16-byte input chunks per lane: vectors of <= 5120 elements
constexpr int kStageChunks = 3;  // 16-byte chunks per consumer thread when a vector is staged
static_assert(kStageChunks * kConsumers * 8 >= 5120 && kVecChunks * 32 * 8 >= 5120, "vectors of up to 5120 elements (the launcher's limit)");
constexpr int kDState = 16;
constexpr int kStateLanes = 4;  // lanes per channel in the state update, 4 states each
constexpr int kBarConsumers = 1;  // named barrier id of the consumer warps

// CTA c's share [begin(c), begin(c + 1)) of n items over g CTAs.
__device__ __forceinline__ int share(int n, int c, int g) { return static_cast<int>(int64_t(n) * c / g); }

// What this CTA computes: channels [ch0, ch0 + nch) (in_proj's x and z rows, the conv and the
// state update, dt_proj rows), x_proj rows [xr0, xr0 + nx), out_proj rows [or0, or0 + no).
struct Shares {
    int ch0, nch, xr0, nx, or0, no;
    __device__ Shares(const fk_mamba_decode_layers_params& p) {
        const int c = blockIdx.x, g = gridDim.x, x = p.dt_rank + 2 * p.d_state;
        ch0 = share(p.inner, c, g);
        nch = share(p.inner, c + 1, g) - ch0;
        xr0 = share(x, c, g);
        nx = share(x, c + 1, g) - xr0;
        or0 = share(p.hidden, c, g);
        no = share(p.hidden, c + 1, g) - or0;
    }
};

// One weight stream of a layer: `rows` rows of `row_bytes` from `base`, `rps` whole rows per
// stage. The producer and the consumers walk the same sequence of segments and stages.
enum SegmentKind { kInX, kInZ, kXProj, kDtProj, kOutProj, kSegments };
struct Segment {
    const unsigned char* base;
    uint32_t row_bytes;
    int rows, rps;
};
template <typename T>
__device__ __forceinline__ Segment segment(const fk_mamba_decode_layers_params& p, const fk_mamba_decode_layer& L, const Shares& s, int kind) {
    const auto at = [](const void* w, int64_t row, int64_t row_elems) {
        return static_cast<const unsigned char*>(w) + row * row_elems * int64_t(sizeof(T));
    };
    Segment g;
    switch (kind) {
        case kInX: g = {at(L.in_proj, s.ch0, p.hidden), uint32_t(p.hidden * sizeof(T)), s.nch, 0}; break;
        case kInZ: g = {at(L.in_proj, int64_t(p.inner) + s.ch0, p.hidden), uint32_t(p.hidden * sizeof(T)), s.nch, 0}; break;
        case kXProj: g = {at(L.x_proj, s.xr0, p.inner), uint32_t(p.inner * sizeof(T)), s.nx, 0}; break;
        case kDtProj: g = {at(L.dt_proj, s.ch0, p.dt_rank), uint32_t(p.dt_rank * sizeof(T)), s.nch, 0}; break;
        default: g = {at(L.out_proj, s.or0, p.inner), uint32_t(p.inner * sizeof(T)), s.no, 0}; break;
    }
    g.rps = kStageBytes / static_cast<int>(g.row_bytes);
    return g;
}

struct Ring {
    unsigned char* data;
    uint32_t data_addr, full, empty;  // shared addresses: stages, full and empty barriers
    int stages;
    __device__ __forceinline__ uint32_t full_bar(int slot) const { return full + 8u * slot; }
    __device__ __forceinline__ uint32_t empty_bar(int slot) const { return empty + 8u * slot; }
};

// The producer: every stage of every layer, in consumption order, as soon as its slot is free
// and fewer than `inflight` (0: no limit) of its copies are still on their way. Why a limit:
// copies in flight are a queue in front of every other memory access; the phases' own
// accesses (the barrier counter, the activation vectors) wait behind it, and they are the
// step's critical path.
template <typename T>
__device__ void produce(const fk_mamba_decode_layers_params& p, const Shares& s, const Ring& ring, int inflight) {
    uint32_t it = 0;
    for (int l = 0; l < p.layers; ++l) {
        for (int kind = 0; kind < kSegments; ++kind) {
            const Segment g = segment<T>(p, p.layer[l], s, kind);
            for (int r0 = 0; r0 < g.rows; r0 += g.rps, ++it) {
                const int slot = static_cast<int>(it % ring.stages);
                if (it >= static_cast<uint32_t>(ring.stages)) mbar_wait(ring.empty_bar(slot), ((it / ring.stages) - 1) & 1);
                if (inflight > 0 && it >= static_cast<uint32_t>(inflight)) {
                    const uint32_t landed = it - inflight;  // its slot is not refilled before `it` is issued
                    mbar_wait(ring.full_bar(static_cast<int>(landed % ring.stages)), (landed / ring.stages) & 1);
                }
                const uint32_t bytes = static_cast<uint32_t>(min(g.rps, g.rows - r0)) * g.row_bytes;
                mbar_arrive_expect_tx(ring.full_bar(slot), bytes);
                bulk_load(ring.data_addr + static_cast<uint32_t>(slot) * kStageBytes, g.base + int64_t(r0) * g.row_bytes, bytes, ring.full_bar(slot));
            }
        }
    }
}

template <typename T> using Chunk = fk::Packed<T, 8>;

template <typename T> __device__ __forceinline__ Chunk<T> lds16(const void* p) {
    Chunk<T> v;
    const uint4 raw = *static_cast<const uint4*>(p);
    memcpy(&v, &raw, sizeof(v));
    return v;
}
// Another CTA's output: through L2 (ld.global.cg), never a stale L1 line.
template <typename T> __device__ __forceinline__ Chunk<T> ldcg16(const T* p) {
    Chunk<T> v;
    const uint4 raw = __ldcg(reinterpret_cast<const uint4*>(p));
    memcpy(&v, &raw, sizeof(v));
    return v;
}

// A lane's chunks lane, lane + 32, ... of a phase's input vector (in shared memory), held in
// registers for every row the warp multiplies.
template <typename T> struct LaneVector {
    Chunk<T> v[kVecChunks];
    int chunks;
    __device__ __forceinline__ void load(const T* vec, int n_chunks, int lane) {
        chunks = n_chunks;
#pragma unroll
        for (int c = 0; c < kVecChunks; ++c)
            if (c * 32 + lane < chunks) v[c] = lds16<T>(vec + (c * 32 + lane) * 8);
    }
    // The warp's dot product of a row (shared memory) with the vector; every lane gets it.
    __device__ __forceinline__ float dot(const unsigned char* row, int lane) const {
        float a0 = 0.f, a1 = 0.f;
#pragma unroll
        for (int c = 0; c < kVecChunks; c += 2) {
            if (c * 32 + lane < chunks) a0 = dot_acc(lds16<T>(row + (c * 32 + lane) * 16), v[c], a0);
            if ((c + 1) * 32 + lane < chunks) a1 = dot_acc(lds16<T>(row + ((c + 1) * 32 + lane) * 16), v[c + 1], a1);
        }
        return fk::warp_sum(a0 + a1);
    }
};

// The consumers' side of one segment: wait for each stage, multiply the warp's rows (segment
// row r belongs to warp r % 8), hand the slot back. `out(r, sum)` runs on lane 0.
template <typename T, typename Out>
__device__ __forceinline__ void consume(const Segment& g, const LaneVector<T>& x, const Ring& ring, uint32_t& it, int warp, int lane, Out out) {
    for (int r0 = 0; r0 < g.rows; r0 += g.rps, ++it) {
        const int slot = static_cast<int>(it % ring.stages);
        mbar_wait(ring.full_bar(slot), (it / ring.stages) & 1);
        const int n = min(g.rps, g.rows - r0);
        const unsigned char* stage = ring.data + static_cast<size_t>(slot) * kStageBytes;
        for (int j = (warp - r0 % kConsumerWarps + kConsumerWarps) % kConsumerWarps; j < n; j += kConsumerWarps) {
            const float sum = x.dot(stage + static_cast<size_t>(j) * g.row_bytes, lane);
            if (lane == 0) out(r0 + j, sum);
        }
        __syncwarp();
        if (lane == 0) mbar_arrive(ring.empty_bar(slot));
    }
}

// The consumer warps meet. bar.sync is the .aligned barrier: every lane of a warp must reach
// it together, but the compiler does not know the inline asm is a barrier and need not
// reconverge a warp whose lane 0 just took a branch (a store to `red`, the grid barrier's
// spin) before it: the lanes that arrive first would count for the whole warp. __syncwarp
// reconverges the warp first.
__device__ __forceinline__ void consumers_sync() {
    __syncwarp();
    named_bar_sync(kBarConsumers, kConsumers);
}

// All CTAs' consumers meet: writes before it (any thread of any CTA) are visible after it to
// loads that bypass L1. `target` counts arrivals expected so far (the launcher zeroed the
// counter).
__device__ __forceinline__ void grid_sync(unsigned int* counter, unsigned int& target) {
    consumers_sync();
    target += gridDim.x;
    if (threadIdx.x == 0) {
        __threadfence();
        atomicAdd(counter, 1u);
        unsigned int seen;
        do {
            asm volatile("ld.acquire.gpu.global.u32 %0, [%1];\n" : "=r"(seen) : "l"(counter) : "memory");
        } while (seen < target);
        __threadfence();
    }
    consumers_sync();
}

// Sum over the 256 consumer threads (every one gets it); `red` holds kConsumerWarps floats.
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

// Copies n16 (<= kStageChunks * kConsumers) 16-byte chunks of another CTA's output into shared
// memory, all consumers, every load issued before the first store: one round trip, where a
// load-store loop paid one per iteration.
template <typename T> __device__ __forceinline__ void stage_vector(T* dst, const T* src, int n16, int tid) {
    Chunk<T> v[kStageChunks];
#pragma unroll
    for (int i = 0; i < kStageChunks; ++i)
        if (tid + i * kConsumers < n16) v[i] = ldcg16<T>(src + (tid + i * kConsumers) * 8);
#pragma unroll
    for (int i = 0; i < kStageChunks; ++i)
        if (tid + i * kConsumers < n16) memcpy(dst + (tid + i * kConsumers) * 8, &v[i], 16);
}

template <typename T>
__global__ void __launch_bounds__(kThreads, 1) mamba_decode_layers_kernel(const __grid_constant__ fk_mamba_decode_layers_params p, const int stages, const int inflight) {
    extern __shared__ __align__(128) unsigned char smem[];
    const int tid = threadIdx.x, warp = tid / 32, lane = tid % 32;
    const Shares sh(p);
    const int X = p.dt_rank + 2 * p.d_state, vec_elems = max(p.inner, X);
    const int cmax = (p.inner + gridDim.x - 1) / gridDim.x;  // channels per CTA, at most

    // Shared memory: ring | full, empty barriers | xn [hidden] | vec [max(inner, X)] |
    // xr, z, xc [cmax] | dt [cmax] f32 | red [7] f32 | res_own [omax].
    Ring ring;
    ring.data = smem;
    ring.stages = stages;
    unsigned char* cur = smem + static_cast<size_t>(stages) * kStageBytes;
    ring.data_addr = static_cast<uint32_t>(__cvta_generic_to_shared(smem));
    ring.full = static_cast<uint32_t>(__cvta_generic_to_shared(cur));
    ring.empty = ring.full + 8u * stages;
    cur += 16 * stages;
    T* xn = reinterpret_cast<T*>(cur);
    cur += (p.hidden * sizeof(T) + 15) / 16 * 16;
    T* vec = reinterpret_cast<T*>(cur);
    cur += (vec_elems * sizeof(T) + 15) / 16 * 16;
    T* xr = reinterpret_cast<T*>(cur);
    T* zl = xr + cmax;
    T* xcl = zl + cmax;
    cur += (3 * cmax * sizeof(T) + 15) / 16 * 16;
    float* dtl = reinterpret_cast<float*>(cur);
    float* red = dtl + cmax;
    T* res_own = reinterpret_cast<T*>(red + kConsumerWarps);  // the residual's out_proj rows

    if (tid == 0) {
        for (int b = 0; b < stages; ++b) {
            mbar_init(ring.full_bar(b), 1);
            mbar_init(ring.empty_bar(b), kConsumerWarps);
        }
        mbar_init_fence();
    }
    __syncthreads();
    if (warp == kConsumerWarps) {
        if (lane == 0) produce<T>(p, sh, ring, inflight);
        return;
    }

    const int slot_row = *p.state_index;
    const bool has_state = slot_row >= 0 && slot_row < p.state_rows;
    T* residual = static_cast<T*>(p.residual);
    T* xc_g = static_cast<T*>(p.xc);
    T* dbc_g = static_cast<T*>(p.dbc);
    T* y_g = static_cast<T*>(p.y);
    const int taps = p.conv_width - 1;
    unsigned int target = 0;
    uint32_t it = 0;
    LaneVector<T> x;

    for (int l = 0; l < p.layers; ++l) {
        const fk_mamba_decode_layer& L = p.layer[l];

        // This CTA's channels' own operands (parameters, and states only it touches) are
        // requested first: they are then in registers when the phases that use them start,
        // instead of a round trip each on the step's critical path. Conv: thread j, channel
        // ch0 + j. State update: 4 lanes per channel (below).
        const bool conv_live = tid < sh.nch;
        T* conv_st = nullptr;
        T conv_old[FK_CAUSAL_CONV1D_MAX_WIDTH - 1];
        float conv_w[FK_CAUSAL_CONV1D_MAX_WIDTH], conv_bias = 0.f;
        if (conv_live) {
            const int64_t d = sh.ch0 + tid;
            if (has_state) conv_st = static_cast<T*>(L.conv_state) + (int64_t(slot_row) * p.inner + d) * taps;
            const T* w = static_cast<const T*>(L.conv_weight) + d * p.conv_width;
#pragma unroll
            for (int t = 0; t < FK_CAUSAL_CONV1D_MAX_WIDTH; ++t) {
                if (t > taps) break;
                conv_w[t] = fk::to_float(w[t]);
                if (t < taps) conv_old[t] = conv_st ? conv_st[t] : fk::from_float<T>(0.f);
            }
            if (L.conv_bias) conv_bias = fk::to_float(static_cast<const T*>(L.conv_bias)[d]);
        }
        const int su = tid / kStateLanes, sl = tid % kStateLanes;
        const bool su_live = su < sh.nch;
        float4 s = make_float4(0.f, 0.f, 0.f, 0.f), a = s;
        float bias = 0.f, d_skip = 0.f;
        float* st = nullptr;
        if (su_live) {
            const int64_t d = sh.ch0 + su;
            if (has_state) {
                st = L.ssm_state + (int64_t(slot_row) * p.inner + d) * kDState + 4 * sl;
                s = __ldcs(reinterpret_cast<const float4*>(st));
            }
            a = *reinterpret_cast<const float4*>(L.A + d * kDState + 4 * sl);
            bias = L.dt_bias ? L.dt_bias[d] : 0.f;
            d_skip = L.D ? L.D[d] : 0.f;
        }

        // N: xn = rms_norm(residual) with rms_norm's roundings, in every CTA. Every chunk of
        // the residual and of the norm weight is requested before any is used (one round trip).
        const int hch = p.hidden / 8;
        Chunk<T> rv[kStageChunks], wv[kStageChunks];
#pragma unroll
        for (int i = 0; i < kStageChunks; ++i) {
            const int q = tid + i * kConsumers;
            if (q < hch) {
                rv[i] = ldcg16<T>(residual + q * 8);
                wv[i] = fk::skinny::ld_act<T, 8>(static_cast<const T*>(L.norm_weight) + q * 8);
            }
        }
        float ss = 0.f;
#pragma unroll
        for (int i = 0; i < kStageChunks; ++i) {
            const int q = tid + i * kConsumers;
            if (q >= hch) continue;
#pragma unroll
            for (int e = 0; e < 8; ++e) {
                const float f = fk::to_float(rv[i].v[e]);
                ss += f * f;
                // This CTA's out_proj rows of the residual, kept for OUT's add (no reload).
                const int n = q * 8 + e - sh.or0;
                if (n >= 0 && n < sh.no) res_own[n] = rv[i].v[e];
            }
        }
        const float rstd = rsqrtf(consumers_sum(ss, red, warp, lane) / static_cast<float>(p.hidden) + p.eps);
#pragma unroll
        for (int i = 0; i < kStageChunks; ++i) {
            const int q = tid + i * kConsumers;
            if (q >= hch) continue;
            Chunk<T> o;
#pragma unroll
            for (int e = 0; e < 8; ++e) o.v[e] = fk::from_float<T>(fk::round_to<T>(fk::to_float(rv[i].v[e]) * rstd) * fk::to_float(wv[i].v[e]));
            memcpy(xn + q * 8, &o, 16);
        }
        consumers_sync();

        // IN: x and z rows of this CTA's channels, then their conv step.
        x.load(xn, hch, lane);
        consume(segment<T>(p, L, sh, kInX), x, ring, it, warp, lane, [&](int r, float v) { xr[r] = fk::from_float<T>(v); });
        consume(segment<T>(p, L, sh, kInZ), x, ring, it, warp, lane, [&](int r, float v) { zl[r] = fk::from_float<T>(v); });
        consumers_sync();
        if (conv_live) {
            // causal_conv1d_update's step (skinny's conv epilogue: the same arithmetic).
            float acc = conv_bias;
#pragma unroll
            for (int t = 0; t < FK_CAUSAL_CONV1D_MAX_WIDTH - 1; ++t) {
                if (t >= taps) break;
                acc = fmaf(conv_w[t], fk::to_float(conv_old[t]), acc);
            }
            acc = fmaf(conv_w[taps], fk::to_float(xr[tid]), acc);
            const T out = fk::from_float<T>(fk::silu(acc));
            xcl[tid] = out;
            xc_g[sh.ch0 + tid] = out;
            if (conv_st) {
#pragma unroll
                for (int t = 0; t + 1 < FK_CAUSAL_CONV1D_MAX_WIDTH - 1; ++t) {
                    if (t + 1 >= taps) break;
                    conv_st[t] = conv_old[t + 1];
                }
                conv_st[taps - 1] = xr[tid];
            }
        }
        grid_sync(p.barrier, target);

        // XP: this CTA's x_proj rows, from the whole xc.
        stage_vector<T>(vec, xc_g, p.inner / 8, tid);
        consumers_sync();
        x.load(vec, p.inner / 8, lane);
        consume(segment<T>(p, L, sh, kXProj), x, ring, it, warp, lane, [&](int r, float v) { dbc_g[sh.xr0 + r] = fk::from_float<T>(v); });
        grid_sync(p.barrier, target);

        // SU: dt_proj rows of this CTA's channels, then their state update.
        stage_vector<T>(vec, dbc_g, X / 8, tid);
        consumers_sync();
        x.load(vec, p.dt_rank / 8, lane);
        consume(segment<T>(p, L, sh, kDtProj), x, ring, it, warp, lane, [&](int r, float v) { dtl[r] = fk::round_to<T>(v); });
        consumers_sync();
        float yv = 0.f;
        float xv = 0.f, zv = 0.f;
        if (su_live) {
            // selective_state_update's vector kernel (dt_proj form), four states per lane.
            float dt = dtl[su] + bias;
            dt = fk::softplus(dt);
            xv = fk::to_float(xcl[su]);
            zv = fk::to_float(zl[su]);
            const float dtx = dt * xv;
            const T* bv = vec + p.dt_rank + 4 * sl;
            const T* cv = vec + p.dt_rank + p.d_state + 4 * sl;
            const float av[4] = {a.x, a.y, a.z, a.w};
            float* sv = &s.x;
#pragma unroll
            for (int e = 0; e < 4; ++e) {
                const float dA = exp2f(dt * av[e] * fk::kLog2e);
                sv[e] = fmaf(dA, sv[e], dtx * fk::to_float(bv[e]));
                yv = fmaf(sv[e], fk::to_float(cv[e]), yv);
            }
            if (st) __stcs(reinterpret_cast<float4*>(st), s);
        }
#pragma unroll
        for (int off = kStateLanes / 2; off > 0; off /= 2) yv += __shfl_xor_sync(0xffffffffu, yv, off, kStateLanes);
        if (su_live && sl == 0) {
            yv = fmaf(d_skip, xv, yv);
            yv *= fk::silu(zv);
            y_g[sh.ch0 + su] = fk::from_float<T>(yv);
        }
        grid_sync(p.barrier, target);

        // OUT: this CTA's out_proj rows, added into the residual (fused_add_rms_norm's add).
        stage_vector<T>(vec, y_g, p.inner / 8, tid);
        consumers_sync();
        x.load(vec, p.inner / 8, lane);
        consume(segment<T>(p, L, sh, kOutProj), x, ring, it, warp, lane, [&](int r, float v) {
            const int64_t n = sh.or0 + r;
            residual[n] = fk::add_round(fk::from_float<T>(v), res_own[r]);
        });
        if (l + 1 < p.layers) grid_sync(p.barrier, target);
    }
}

// Copies in flight per CTA (see produce): FK_MAMBA_DECODE_INFLIGHT (0 = no limit) for sweeps.
int inflight_limit() {
    static const int v = [] {
        const char* e = std::getenv("FK_MAMBA_DECODE_INFLIGHT");
        return e ? std::max(0, std::atoi(e)) : kDefaultInflight;
    }();
    return v;
}

template <typename T> cudaError_t launch(const fk_mamba_decode_layers_params* p, cudaStream_t stream) {
    int dev = 0, sms = 0, optin = 0;
    cudaError_t e = cudaGetDevice(&dev);
    if (e == cudaSuccess) e = cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, dev);
    if (e == cudaSuccess) e = cudaDeviceGetAttribute(&optin, cudaDevAttrMaxSharedMemoryPerBlockOptin, dev);
    if (e != cudaSuccess) return e;
    // The state update gives each channel 4 lanes, the conv one thread, of the consumers.
    const int cmax = (p->inner + sms - 1) / sms;
    if (cmax * kStateLanes > kConsumers) return cudaErrorNotSupported;
    const int x = p->dt_rank + 2 * p->d_state;
    const int64_t fixed = (p->hidden * sizeof(T) + 15) / 16 * 16 + (std::max(p->inner, x) * sizeof(T) + 15) / 16 * 16 +
                          (3 * cmax * sizeof(T) + 15) / 16 * 16 + (cmax + kConsumerWarps) * 4 + (p->hidden + sms - 1) / sms * sizeof(T);
    const int stages = static_cast<int>(std::min<int64_t>(kMaxStages, (optin - fixed) / (kStageBytes + 16)));
    if (stages < 2) return cudaErrorNotSupported;
    const size_t smem = static_cast<size_t>(stages) * (kStageBytes + 16) + fixed;
    auto kernel = mamba_decode_layers_kernel<T>;
    if ((e = cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(smem))) != cudaSuccess) return e;
    int per_sm = 0;
    if ((e = cudaOccupancyMaxActiveBlocksPerMultiprocessor(&per_sm, kernel, kThreads, smem)) != cudaSuccess) return e;
    if (per_sm < 1) return cudaErrorCooperativeLaunchTooLarge;
    if ((e = cudaMemsetAsync(p->barrier, 0, sizeof(unsigned int), stream)) != cudaSuccess) return e;
    cudaLaunchConfig_t cfg = {};
    cfg.gridDim = dim3(static_cast<unsigned>(sms));
    cfg.blockDim = dim3(kThreads);
    cfg.dynamicSmemBytes = smem;
    cfg.stream = stream;
    cudaLaunchAttribute attr[1];
    attr[0].id = cudaLaunchAttributeCooperative;
    attr[0].val.cooperative = 1;
    cfg.attrs = attr;
    cfg.numAttrs = 1;
    return cudaLaunchKernelEx(&cfg, kernel, *p, stages, inflight_limit());
}
#endif  // FK_SM90A

bool aligned16(const void* ptr) { return reinterpret_cast<uintptr_t>(ptr) % 16 == 0; }

}  // namespace

FK_OP_LAUNCHER(mamba_decode_layers)(const fk_mamba_decode_layers_params* p, cudaStream_t stream) {
    FK_REQUIRE(p != nullptr && stream != nullptr);
    FK_REQUIRE(p->layers >= 1 && p->layers <= FK_MAMBA_DECODE_MAX_LAYERS);
    FK_REQUIRE(p->dtype == FK_DTYPE_BF16 || p->dtype == FK_DTYPE_F16);
    FK_REQUIRE(p->d_state == 16 && p->conv_width >= 2 && p->conv_width <= FK_CAUSAL_CONV1D_MAX_WIDTH);
    FK_REQUIRE(p->hidden > 0 && p->inner > 0 && p->dt_rank > 0 && p->hidden % 8 == 0 && p->inner % 8 == 0 && p->dt_rank % 8 == 0);
    // Rows fit a stage; input vectors fit the lanes' registers (32 chunks of 8 per lane).
    FK_REQUIRE(int64_t(p->hidden) * 2 <= FK_MAMBA_DECODE_STAGE_BYTES && int64_t(p->inner) * 2 <= FK_MAMBA_DECODE_STAGE_BYTES);
    FK_REQUIRE(p->hidden <= 5120 && p->inner <= 5120 && p->dt_rank <= 5120);
    FK_REQUIRE(p->state_rows >= 1 && p->state_index != nullptr && p->barrier != nullptr);
    FK_REQUIRE(aligned16(p->residual) && aligned16(p->xc) && aligned16(p->dbc) && aligned16(p->y));
    for (int l = 0; l < p->layers; ++l) {
        const fk_mamba_decode_layer& L = p->layer[l];
        FK_REQUIRE(L.norm_weight && L.in_proj && L.conv_weight && L.x_proj && L.dt_proj && L.A && L.out_proj && L.conv_state && L.ssm_state);
        FK_REQUIRE(aligned16(L.norm_weight) && aligned16(L.in_proj) && aligned16(L.x_proj) && aligned16(L.dt_proj) && aligned16(L.out_proj) &&
                   aligned16(L.A) && aligned16(L.ssm_state));
    }
#if FK_SM90A
    if (p->dtype == FK_DTYPE_BF16) return launch<__nv_bfloat16>(p, stream);
    return launch<__half>(p, stream);
#else
    return cudaErrorNotSupported;
#endif
}
