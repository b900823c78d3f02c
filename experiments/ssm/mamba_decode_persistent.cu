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
#include <vector>

#define CHECK(x)                                                                             \
    do {                                                                                     \
        cudaError_t e_ = (x);                                                                \
        if (e_ != cudaSuccess) {                                                             \
            std::fprintf(stderr, "%s:%d: %s\n", __FILE__, __LINE__, cudaGetErrorString(e_)); \
            std::exit(1);                                                                    \
        }                                                                                    \
    } while (0)

using T = __nv_bfloat16;

constexpr int kN = 16;              // d_state
constexpr int kMaxLayers = 64;
constexpr int kConsumerWarps = 7;   // + 1 producer warp: 8 warps, 2 per SM sub-partition, 255 registers
constexpr int kConsumers = kConsumerWarps * 32;
constexpr int kThreads = kConsumers + 32;
constexpr int kStageBytes = 20480;
constexpr int kMaxStages = 16;
constexpr int kVec = 20;            // 16-byte chunks of an input vector per lane: <= 5120 elements
constexpr int kStageChunks = 3;     // 16-byte chunks per consumer when staging a vector (<= 5376 elements)
constexpr int kStateLanes = 4;      // lanes per channel in the state update
constexpr float kLog2e = 1.4426950408889634f;
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
    int barrier_mode;              // 0 fence + atomicAdd, 1 red.release, 2 none (timing only: wrong results)
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

__device__ __forceinline__ int share(int n, int c, int g) { return static_cast<int>(int64_t(n) * c / g); }

struct Shares {
    int ch0, nch, or0, no;
    __device__ Shares(const Params& p) {
        const int c = blockIdx.x, g = gridDim.x;
        ch0 = share(p.D, c, g);
        nch = share(p.D, c + 1, g) - ch0;
        or0 = share(p.H, c, g);
        no = share(p.H, c + 1, g) - or0;
    }
};

enum { kInX, kInZ, kXp, kDt, kOut, kSegments };
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
        default: g = {at(L.out_proj, s.or0, p.D), p.D * 2, s.no, 0}; break;
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

__device__ void produce(const Params& p, const Shares& s, const Ring& ring) {
    uint32_t it = 0;
    for (int l = 0; l < p.layers; ++l) {
        const Layer L = p.layer[l];
        for (int kind = 0; kind < kSegments; ++kind) {
            const Segment g = segment(p, L, s, kind);
            for (int r0 = 0; r0 < g.rows; r0 += g.rps, ++it) {
                if (it >= static_cast<uint32_t>(ring.stages)) mbar_wait(ring.empty_bar(it), ((it / ring.stages) - 1) & 1);
                const uint32_t bytes = static_cast<uint32_t>(min(g.rps, g.rows - r0) * g.row_bytes);
                mbar_arrive_expect_tx(ring.full_bar(it), bytes);
                bulk_load(ring.data_addr + (it % ring.stages) * kStageBytes, g.base + int64_t(r0) * g.row_bytes, bytes, ring.full_bar(it));
            }
        }
    }
}

// A lane's chunks lane, lane + 32, ... of a vector of n16 16-byte chunks (in shared memory).
struct LaneVector {
    uint4 v[kVec];
    int n16;
    __device__ __forceinline__ void load(const T* vec, int chunks, int lane) {
        n16 = chunks;
#pragma unroll
        for (int c = 0; c < kVec; ++c) v[c] = (c * 32 + lane < chunks) ? *reinterpret_cast<const uint4*>(vec + (c * 32 + lane) * 8) : make_uint4(0, 0, 0, 0);
    }
    __device__ __forceinline__ float dot(const unsigned char* row, int lane) const {
        float a0 = 0.f, a1 = 0.f;
#pragma unroll
        for (int c = 0; c < kVec; c += 2) {
            if (c * 32 + lane < n16) a0 = dot8(*reinterpret_cast<const uint4*>(row + (c * 32 + lane) * 16), v[c], a0);
            if ((c + 1) * 32 + lane < n16) a1 = dot8(*reinterpret_cast<const uint4*>(row + ((c + 1) * 32 + lane) * 16), v[c + 1], a1);
        }
        return warp_sum(a0 + a1);
    }
};

// Row-per-warp GEMV over a segment's stages: segment row r is warp r % 7's. out(r, sum) on lane 0.
template <typename Out>
__device__ __forceinline__ void consume_rows(const Segment& g, const LaneVector& x, const Ring& ring, uint32_t& it, int warp, int lane, Out out) {
    for (int r0 = 0; r0 < g.rows; r0 += g.rps, ++it) {
        const unsigned char* stage = ring.wait(it);
        const int n = min(g.rps, g.rows - r0);
        for (int j = (warp - r0 % kConsumerWarps + kConsumerWarps) % kConsumerWarps; j < n; j += kConsumerWarps) {
            const float s = x.dot(stage + static_cast<size_t>(j) * g.row_bytes, lane);
            if (lane == 0) out(r0 + j, s);
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

__device__ __forceinline__ void grid_barrier(const Params& p, unsigned& target) {
    consumers_sync();
    target += gridDim.x;
    if (threadIdx.x == 0 && p.barrier_mode != 2) {
        if (p.barrier_mode == 0) {
            __threadfence();
            atomicAdd(p.counter, 1u);
        } else {
            red_release(p.counter);
        }
        while (ld_acquire(p.counter) < target) {
        }
    }
    consumers_sync();
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

__global__ void __launch_bounds__(kThreads, 1) mamba_decode_persistent(const Params p, int stages) {
    extern __shared__ __align__(128) unsigned char smem[];
    const int tid = threadIdx.x, warp = tid / 32, lane = tid % 32;
    const Shares sh(p);
    const int cmax = (p.D + gridDim.x - 1) / gridDim.x, omax = (p.H + gridDim.x - 1) / gridDim.x;
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

    if (tid == 0) {
        for (int b = 0; b < stages; ++b) {
            mbar_init(ring.full + 8u * b, 1);
            mbar_init(ring.empty + 8u * b, kConsumerWarps);
        }
        asm volatile("fence.mbarrier_init.release.cluster;\n" ::: "memory");
    }
    __syncthreads();
    if (warp == kConsumerWarps) {
        if (lane == 0) produce(p, sh, ring);
        return;
    }

    unsigned target = 0;
    uint32_t it = 0;
    LaneVector x;
    const int hch = p.H / 8;

    for (int l = 0; l < p.layers; ++l) {
        const Layer L = p.layer[l];
        // This CTA's channels' parameters and states, requested first (no round trip later).
        const bool conv_live = tid < sh.nch;
        // (the last tap in a scalar of its own: cw[taps] would put the array in local memory)
        float cw[3] = {0.f, 0.f, 0.f}, clast = 0.f, cb = 0.f;
        T cold[3];
        if (conv_live) {
            const int d = sh.ch0 + tid;
#pragma unroll
            for (int t = 0; t < 3; ++t)
                if (t < taps) cw[t] = bf(L.conv_w[d * p.W + t]);
            clast = bf(L.conv_w[d * p.W + taps]);
#pragma unroll
            for (int t = 0; t < 3; ++t)
                if (t < taps) cold[t] = L.conv_state[d * taps + t];
            cb = bf(L.conv_b[d]);
        }
        const int su = tid / kStateLanes, sl = tid % kStateLanes;
        const bool su_live = su < sh.nch;
        float4 st = make_float4(0.f, 0.f, 0.f, 0.f), a4 = st;
        float dtb = 0.f, dsk = 0.f;
        if (su_live) {
            const int d = sh.ch0 + su;
            st = *reinterpret_cast<const float4*>(L.ssm_state + d * kN + 4 * sl);
            a4 = *reinterpret_cast<const float4*>(L.A + d * kN + 4 * sl);
            dtb = L.dt_bias[d];
            dsk = L.Dskip[d];
        }

        // N: rms_norm of the residual (every CTA, all loads first).
        uint4 rv[kStageChunks], wv[kStageChunks];
#pragma unroll
        for (int i = 0; i < kStageChunks; ++i) {
            const int q = tid + i * kConsumers;
            if (q < hch) {
                rv[i] = __ldcg(reinterpret_cast<const uint4*>(p.residual) + q);
                wv[i] = __ldg(reinterpret_cast<const uint4*>(L.norm_w) + q);
            }
        }
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
            const T* w = reinterpret_cast<const T*>(&wv[i]);
            uint4 o;
            T* ov = reinterpret_cast<T*>(&o);
#pragma unroll
            for (int e = 0; e < 8; ++e) ov[e] = tb(rnd(bf(r[e]) * rstd) * bf(w[e]));
            reinterpret_cast<uint4*>(xn)[q] = o;
        }
        consumers_sync();

        // IN: x and z rows of this CTA's channels.
        x.load(xn, hch, lane);
        consume_rows(segment(p, L, sh, kInX), x, ring, it, warp, lane, [&](int r, float v) { xr[r] = tb(v); });
        consume_rows(segment(p, L, sh, kInZ), x, ring, it, warp, lane, [&](int r, float v) { zl[r] = tb(v); });
        consumers_sync();

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
            T* cs = L.conv_state + d * taps;
#pragma unroll
            for (int t = 0; t + 1 < 3; ++t)
                if (t + 1 < taps) cs[t] = cold[t + 1];
            cs[taps - 1] = xr[tid];
        }
        consumers_sync();

        // XP: this CTA's channels' share of every x_proj output, added in fixed point.
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
        grid_barrier(p, target);  // B1: x_proj complete

        // dt_proj + state update of this CTA's channels.
        if (tid < p.X) {
            const long long q = static_cast<long long>(__ldcg(p.acc + int64_t(l) * p.X + tid));
            dbc[tid] = tb(static_cast<float>(static_cast<double>(q) / kFixedScale));
        }
        consumers_sync();
        x.load(dbc, p.R / 8, lane);
        consume_rows(segment(p, L, sh, kDt), x, ring, it, warp, lane, [&](int r, float v) { dtl[r] = rnd(v); });
        consumers_sync();
        float yv = 0.f, xv = 0.f, zv = 0.f;
        if (su_live) {
            const float dt = softplus(dtl[su] + dtb);
            xv = bf(xcl[su]);
            zv = bf(zl[su]);
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
            yv *= silu(zv);
            p.y[int64_t(l) * p.D + sh.ch0 + su] = tb(yv);
        }
        grid_barrier(p, target);  // B2: y complete

        // OUT: this CTA's out_proj rows, added into the residual.
        stage_vector(vec, p.y + int64_t(l) * p.D, p.D / 8, tid);
        consumers_sync();
        x.load(vec, p.D / 8, lane);
        consume_rows(segment(p, L, sh, kOut), x, ring, it, warp, lane,
                     [&](int r, float v) { p.residual[sh.or0 + r] = tb(bf(res_own[r]) + rnd(v)); });
        if (l + 1 < p.layers) grid_barrier(p, target);  // B3: residual complete
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
        L = {nw, inp, cw, cbias, xpT, dtw, dtb, A, Ds, outp, cs, ss};
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
    const int G = sms, cmax = (D + G - 1) / G, omax = (H + G - 1) / G;
    const int64_t fixed = (H * 2 + 15) / 16 * 16 + (D * 2 + 15) / 16 * 16 + (X * 2 + 15) / 16 * 16 + (3 * cmax * 2 + 15) / 16 * 16 +
                          (cmax + 8) * 4 + omax * 2 + 16;
    const int stages = static_cast<int>(std::min<int64_t>(kMaxStages, (optin - fixed) / (kStageBytes + 16)));
    const size_t smem = static_cast<size_t>(stages) * (kStageBytes + 16) + fixed;
    if (cmax * kStateLanes > kConsumers || X > kConsumers || H / 8 > kStageChunks * kConsumers || D / 8 > kStageChunks * kConsumers ||
        H / 8 > kVec * 32 || D / 8 > kVec * 32 || stages < 2) {
        std::fprintf(stderr, "shape outside the kernel's limits\n");
        return 2;
    }
    CHECK(cudaFuncSetAttribute(mamba_decode_persistent, cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(smem)));
    cudaStream_t stream;
    CHECK(cudaStreamCreate(&stream));
    Params p{H, D, R, X, W, layers, eps, d_layers, res, acc, y, xc, counter, 0};
    const auto launch = [&](int nlayers, int mode) {
        Params q = p;
        q.layers = nlayers;
        q.barrier_mode = mode;
        CHECK(cudaMemsetAsync(acc, 0, int64_t(nlayers) * X * sizeof(unsigned long long), stream));
        CHECK(cudaMemsetAsync(counter, 0, sizeof(unsigned), stream));
        void* args[] = {&q, const_cast<int*>(&stages)};
        CHECK(cudaLaunchCooperativeKernel(reinterpret_cast<void*>(mamba_decode_persistent), dim3(G), dim3(kThreads), args, smem, stream));
        CHECK(cudaGetLastError());
    };

    std::printf("{\"device\": \"%s\", \"sms\": %d, \"model\": \"%s\", \"H\": %d, \"D\": %d, \"R\": %d, \"layers\": %d, \"stages\": %d, \"smem\": %zu,\n",
                prop.name, sms, small ? "mamba-130m" : "mamba-2.8b", H, D, R, layers, stages, smem);

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
    const size_t copy_bytes = size_t(1) << 30;
    void *c0, *c1;
    CHECK(cudaMalloc(&c0, copy_bytes));
    CHECK(cudaMalloc(&c1, copy_bytes));
    std::vector<float> ct;
    for (int r = 0; r < 12; ++r) {
        CHECK(cudaEventRecord(e0, stream));
        CHECK(cudaMemcpyAsync(c1, c0, copy_bytes, cudaMemcpyDeviceToDevice, stream));
        CHECK(cudaEventRecord(e1, stream));
        CHECK(cudaEventSynchronize(e1));
        float ms;
        CHECK(cudaEventElapsedTime(&ms, e0, e1));
        if (r >= 2) ct.push_back(ms);
    }
    std::sort(ct.begin(), ct.end());
    const double copy_gbs = 2.0 * copy_bytes / (ct[ct.size() / 2] * 1e-3) / 1e9;
    CHECK(cudaFree(c0));
    CHECK(cudaFree(c1));
    const double roofline_us = weight_bytes / (copy_gbs * 1e9) * 1e6;
    std::printf("\"copy_gbs\": %.1f, \"weight_bytes\": %.0f, \"roofline_us\": %.1f,\n\"timing\": [\n", copy_gbs, weight_bytes, roofline_us);

    // ---- timing: the whole launch (two memsets + the kernel), every mode
    const char* names[] = {"fence_atomic", "red_release", "no_barrier(wrong results)"};
    for (int mode = 0; mode < 3; ++mode) {
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
                    names[mode], med, t.front(), t.back(), med / layers, roofline_us / med, mode < 2 ? "," : "");
    }
    std::printf("]}\n");
    for (void* q : b.owned) CHECK(cudaFree(q));
    return all_ok ? 0 : 1;
}
