// sample baseline (L1). Contract and exact semantics: include/fk/ops/sample.h.
// Greedy / temperature / top-k / top-p sampling of one token per row, seeded by a
// counter-based RNG of each row's (seed, counter). Mirrors vLLM's Sampler (top-k then top-p on the
// top-k set, then a draw) without sorting. Needs sm_90: thread-block clusters + DSMEM.
//
// Why this design: a decode step samples [batch, 128256] logits; one SM streaming a row
// several times would cost tens of µs, so each row gets a cluster of 8 CTAs (512 threads).
// Each CTA reads its 1/8 of the row from global memory once and keeps z = x / T in shared
// memory (<= 128 KB at vocab 262144); every later pass runs from shared memory and the CTAs
// exchange only scalars (pushed into each other's shared memory) and 256-bin histograms
// (pulled), with one cluster barrier per exchange.
//  * greedy: one pass, (max, smallest index) reduced across the cluster.
//  * top-k threshold: a 256-bin histogram of z - M in value ranges 1/8 wide (spread out, so
//    shared-memory atomics rarely collide), then MSB-first radix select on an
//    order-preserving u32 key of z inside the chosen range, 8 bits per pass; stops as soon
//    as the selected bin is exactly what is needed. (Radix on the key from the first pass
//    piles real logits into a few exponent bins: 30 us of contended atomics at 128k.)
//  * top-p threshold: the same selection weighted by e = exp(z - M), restricted to the
//    top-k set; the target p * Z comes from the first pass's histogram total.
//  * draw: per-thread contiguous chunks, cluster + block exclusive scans of the kept mass,
//    and the one thread whose chunk holds u * Z walks it.
// Probabilities are summed in 2^-44 fixed point (u64): integer sums do not depend on the
// order of the atomics, so a row gives the same token on every run. Elements with
// z - M < -32 weigh < 0.22 units and round to 0; they are skipped by the top-p passes.
#include <cooperative_groups.h>
#include <float.h>
#include <math_constants.h>

#include "fk/common.cuh"
#include "fk/ops/sample.h"

namespace cg = cooperative_groups;

namespace {

constexpr int kCluster = 8;
constexpr int kThreads = 512;
constexpr int kWarps = kThreads / 32;
constexpr int kBins = 256;
constexpr float kFix = 17592186044416.0f;  // 2^44
constexpr int kMaxVocab = 262144;

typedef unsigned long long u64;

struct Shared {
    u64 xch[2][kCluster];           // scalars pushed by each rank, by barrier parity
    unsigned hcnt[2][kBins];        // local histograms, by barrier parity (peers pull them)
    u64 hmass[2][kBins];
    u64 wtot[kWarps];               // block-reduction scratch
    float wmax[kWarps];
    int widx[kWarps];
    u64 total;                      // broadcast slots
    u64 sel_above, sel_w;
    unsigned sel_bin, sel_cnt;
};

__device__ __forceinline__ unsigned key_of(float z) {
    const unsigned u = __float_as_uint(z);
    return (u & 0x80000000u) ? ~u : (u | 0x80000000u);
}

__device__ __forceinline__ float sanitize(float x) {
    if (x != x) return -CUDART_INF_F;  // NaN -> -inf
    return x == CUDART_INF_F ? FLT_MAX : x;
}

// Fixed-point weight of a logit at distance d = z - M <= 0 (the draw computes it the same
// way from a stored expf(d)).
__device__ __forceinline__ u64 weight_of(float d) { return __float2ull_rn(expf(d) * kFix); }

// Exclusive prefix sum over all threads of the block (in thread order); *total gets the sum.
__device__ __forceinline__ u64 block_exclusive_scan(Shared& sh, u64 v, u64* total) {
    const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
    u64 inc = v;
#pragma unroll
    for (int o = 1; o < 32; o <<= 1) {
        const u64 t = __shfl_up_sync(0xffffffffu, inc, o);
        if (lane >= o) inc += t;
    }
    __syncthreads();  // wtot may still be read by a previous reduction
    if (lane == 31) sh.wtot[warp] = inc;
    __syncthreads();
    u64 before = 0, all = 0;
#pragma unroll
    for (int w = 0; w < kWarps; ++w) {
        const u64 t = sh.wtot[w];
        before += w < warp ? t : 0;
        all += t;
    }
    *total = all;
    return before + inc - v;
}

__device__ __forceinline__ float block_max(Shared& sh, float v) {
    const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
    __syncthreads();
    if (lane == 0) sh.wmax[warp] = v;
    __syncthreads();
    float m = sh.wmax[0];
#pragma unroll
    for (int w = 1; w < kWarps; ++w) m = fmaxf(m, sh.wmax[w]);
    return m;
}

// Push one u64 per rank to every rank, barrier, return all of them (by rank) in xch[par].
__device__ __forceinline__ const u64* exchange(Shared& sh, cg::cluster_group& cluster, int& ph, u64 v) {
    const int par = ph & 1;
    if (threadIdx.x < kCluster) *cluster.map_shared_rank(&sh.xch[par][cluster.block_rank()], threadIdx.x) = v;
    cluster.sync();
    ++ph;
    return sh.xch[par];
}

// The row's logits [lo, lo + n) as floats, f(local index, value) for each; 16-byte loads
// when the row allows it.
template <typename T, typename F> __device__ __forceinline__ void for_each_logit(const T* base, int n, F&& f) {
    constexpr int P = 16 / int(sizeof(T));
    int done = 0;
    if ((reinterpret_cast<uintptr_t>(base) & 15) == 0) {
        const int npk = n / P;
#pragma unroll 4
        for (int pk = threadIdx.x; pk < npk; pk += kThreads) {
            const fk::Packed<T, P> v = reinterpret_cast<const fk::Packed<T, P>*>(base)[pk];
#pragma unroll
            for (int e = 0; e < P; ++e) f(pk * P + e, fk::to_float(v.v[e]));
        }
        done = npk * P;
    }
    for (int i = done + threadIdx.x; i < n; i += kThreads) f(i, fk::to_float(base[i]));
}

// A threshold in the descending order of z: keep element i iff
//   bin(d_i) < b1, or bin(d_i) == b1 and key(z_i) >= key_lo,
// where bin(d) = min(255, floor(-8 d)) cuts z - M into value ranges 1/8 wide (bin 255 holds
// everything below M - 31.875). Both orders agree (a larger key has a larger z, hence a bin
// no larger), so this is "z >= some value" for a value that need not be materialised.
// {256, 0} keeps everything.
struct Cut {
    int b1;
    unsigned key_lo;
};

__device__ __forceinline__ int value_bin(float d) {
    const float x = -8.f * d;  // d <= 0, possibly -inf
    return x < 255.f ? int(x) : 255;
}

__device__ __forceinline__ bool kept(const Cut& c, int bin, unsigned key) {
    return bin < c.b1 || (bin == c.b1 && key >= c.key_lo);
}

// The cut that keeps the fewest leading (largest-z) elements among the candidates (kept by
// `base`; with MASS also z - M >= -32, the others weigh 0) whose weight reaches the target:
// k for counts; for MASS, ceil(p * total candidate mass) in 2^-44 units. Pass 1 histograms
// the 256 value bins (well spread for real logits, so the shared-memory atomics rarely
// collide); passes 2-5 radix-select the 32-bit key 8 bits at a time inside the chosen bin.
// Each pass ends as soon as the selected bin is exactly what is needed. Every CTA of the
// cluster computes the same cut from the same summed histograms.
template <bool MASS>
__device__ __forceinline__ Cut select_cut(Shared& sh, cg::cluster_group& cluster, int& ph, const float* zs, int n, float M, Cut base,
                          u64 target, float top_p) {
    const int tid = threadIdx.x;
    int b1 = 0;
    unsigned prefix = 0;
    u64 above = 0;
    for (int shift = 32;; shift -= 8) {  // 32: the value-bin pass; then key bits [shift, shift + 8)
        const int par = ph & 1;
        if (tid < kBins) {
            sh.hcnt[par][tid] = 0;
            if (MASS) sh.hmass[par][tid] = 0;
        }
        __syncthreads();
        for (int i = tid; i < n; i += kThreads) {
            const float z = zs[i];
            const float d = z - M;
            const unsigned k = key_of(z);
            const int vb = value_bin(d);
            if (!kept(base, vb, k) || (MASS && !(d >= -32.f))) continue;
            unsigned digit;
            if (shift == 32) {
                digit = unsigned(vb);
            } else {
                if (vb != b1 || (shift < 24 && (k >> (shift + 8)) != prefix)) continue;
                digit = (k >> shift) & 0xff;
            }
            atomicAdd(&sh.hcnt[par][digit], 1u);
            if (MASS) atomicAdd(&sh.hmass[par][digit], weight_of(d));
        }
        __syncthreads();
        cluster.sync();  // every CTA's histogram is complete and visible
        ++ph;
        // Thread t takes the t-th bin in descending z: value bin t, or key digit 255 - t.
        const unsigned bin = shift == 32 ? unsigned(tid) : unsigned(kBins - 1 - tid);
        u64 w = 0;
        unsigned cnt = 0;
        if (tid < kBins) {
#pragma unroll
            for (int r = 0; r < kCluster; ++r) {
                cnt += *cluster.map_shared_rank(&sh.hcnt[par][bin], r);
                if (MASS) w += *cluster.map_shared_rank(&sh.hmass[par][bin], r);
            }
            if (!MASS) w = cnt;
        }
        u64 total;
        const u64 higher = block_exclusive_scan(sh, w, &total);  // weight of the bins before
        if (MASS && shift == 32) {
            // p * Z, rounded up, within [1, Z] (Z >= 2^44: the maximum has weight 1).
            const double t = ceil(double(top_p) * double(total));
            target = t < 1.0 ? 1ull : (t >= double(total) ? total : u64(t));
        }
        if (tid < kBins && w > 0 && above + higher < target && target <= above + higher + w) {
            sh.sel_bin = bin;
            sh.sel_above = above + higher;
            sh.sel_w = w;
            sh.sel_cnt = cnt;
        }
        __syncthreads();
        const unsigned sel = sh.sel_bin;
        const u64 sel_w = sh.sel_w;
        const bool last = sh.sel_cnt == 1 || sh.sel_above + sel_w == target;
        above = sh.sel_above;
        if (shift == 32) {
            b1 = int(sel);
            if (last) return Cut{b1, 0u};
        } else {
            prefix = (prefix << 8) | sel;
            if (last || shift == 0) return Cut{b1, prefix << shift};
        }
    }
}

template <typename T>
__global__ void __cluster_dims__(kCluster, 1, 1) __launch_bounds__(kThreads, 3) sample_kernel(const fk_sample_params p, int slice) {
    extern __shared__ __align__(16) float zs[];
    __shared__ Shared sh;
    cg::cluster_group cluster = cg::this_cluster();
    const int rank = int(cluster.block_rank());
    const int tid = threadIdx.x;
    const int64_t r = blockIdx.x / kCluster;
    const float temp = p.temperature[r], top_p = p.top_p[r];
    const int top_k = p.top_k[r];
    // Uniform across the cluster: every CTA leaves here before any cluster barrier.
    if (temp != temp || temp == CUDART_INF_F || top_k < 0 || !(top_p > 0.f && top_p <= 1.f)) {
        if (rank == 0 && tid == 0) {
            p.out[r] = -1;
            fk::status_report(p.status, r);
        }
        return;
    }
    const int lo = rank * slice;
    const int n = max(0, min(int(p.vocab) - lo, slice));
    const T* const base = static_cast<const T*>(p.logits) + r * p.logits_stride + lo;
    int ph = 0;

    if (temp <= 0.f || top_k == 1) {
        float best = -CUDART_INF_F;
        int bi = INT_MAX;
        for_each_logit<T>(base, n, [&](int i, float x) {
            x = sanitize(x);
            if (x > best || (x == best && lo + i < bi)) {
                best = x;
                bi = lo + i;
            }
        });
        // Block argmax, smallest index on ties.
#pragma unroll
        for (int o = 16; o > 0; o >>= 1) {
            const float ob = __shfl_xor_sync(0xffffffffu, best, o);
            const int oi = __shfl_xor_sync(0xffffffffu, bi, o);
            if (ob > best || (ob == best && oi < bi)) {
                best = ob;
                bi = oi;
            }
        }
        if (tid % 32 == 0) {
            sh.wmax[tid / 32] = best;
            sh.widx[tid / 32] = bi;
        }
        __syncthreads();
        if (tid == 0) {
            for (int w = 1; w < kWarps; ++w)
                if (sh.wmax[w] > best || (sh.wmax[w] == best && sh.widx[w] < bi)) {
                    best = sh.wmax[w];
                    bi = sh.widx[w];
                }
            *cluster.map_shared_rank(&sh.xch[0][rank], 0) = (u64(__float_as_uint(best)) << 32) | unsigned(bi);
        }
        cluster.sync();
        if (rank == 0 && tid == 0) {
            float vb = -CUDART_INF_F;
            int ib = INT_MAX;
            for (int q = 0; q < kCluster; ++q) {
                const float v = __uint_as_float(unsigned(sh.xch[0][q] >> 32));
                const int i = int(unsigned(sh.xch[0][q]));
                if (v > vb || (v == vb && i < ib)) {
                    vb = v;
                    ib = i;
                }
            }
            p.out[r] = ib == INT_MAX ? 0 : ib;
        }
        return;
    }

    // z = x / T in shared memory; M = max z over the row.
    float mloc = -CUDART_INF_F;
    for_each_logit<T>(base, n, [&](int i, float x) {
        float z = __fdiv_rn(sanitize(x), temp);
        if (z == CUDART_INF_F) z = FLT_MAX;
        if (z == 0.f) z = 0.f;  // -0 -> +0: one key per value
        zs[i] = z;
        mloc = fmaxf(mloc, z);
    });
    mloc = block_max(sh, mloc);  // also orders the zs stores before the reads below
    const u64* mx = exchange(sh, cluster, ph, u64(key_of(mloc)));
    unsigned mkey = 0;
    for (int q = 0; q < kCluster; ++q) mkey = max(mkey, unsigned(mx[q]));
    const float M = __uint_as_float((mkey & 0x80000000u) ? (mkey & 0x7fffffffu) : ~mkey);
    if (M == -CUDART_INF_F) {  // every logit is -inf
        if (rank == 0 && tid == 0) p.out[r] = 0;
        return;
    }

    const Cut all{256, 0u};
    Cut ck = all, cp = all;
    if (top_k > 0 && top_k < p.vocab) ck = select_cut<false>(sh, cluster, ph, zs, n, M, all, u64(top_k), 1.f);
    if (top_p < 1.f) cp = select_cut<true>(sh, cluster, ph, zs, n, M, ck, 0ull, top_p);
    auto keep = [&](float z) {
        const int vb = value_bin(z - M);
        const unsigned k = key_of(z);
        return kept(ck, vb, k) && kept(cp, vb, k);
    };

    // Draw: kept mass per thread over a contiguous chunk (odd length: conflict-free reads).
    const int chunk = ((n + kThreads - 1) / kThreads) | 1;
    const int c0 = min(n, tid * chunk), c1 = min(n, c0 + chunk);
    // zs[i] becomes e_i (0 if dropped), so the walk below needs no exp.
    u64 mine = 0;
    for (int i = c0; i < c1; ++i) {
        const float z = zs[i];
        const float e = keep(z) ? expf(z - M) : 0.f;
        zs[i] = e;
        mine += __float2ull_rn(e * kFix);
    }
    u64 cta_mass;
    const u64 before_thread = block_exclusive_scan(sh, mine, &cta_mass);
    const u64* masses = exchange(sh, cluster, ph, cta_mass);
    u64 Z = 0, before_cta = 0;
    for (int q = 0; q < kCluster; ++q) {
        Z += masses[q];
        before_cta += q < rank ? masses[q] : 0;
    }
    const int64_t* rng = p.rng + 2 * r;
    const double u = fk_sample_uniform(rng[0], rng[1]);
    u64 U = u64(u * double(Z));
    if (U >= Z) U = Z - 1;  // Z >= 2^44 > 0
    const u64 start = before_cta + before_thread;
    if (start <= U && U < start + mine) {
        u64 cum = start;
        int pick = c1 - 1;
        for (int i = c0; i < c1; ++i) {
            cum += __float2ull_rn(zs[i] * kFix);
            if (cum > U) {
                pick = i;
                break;
            }
        }
        p.out[r] = lo + pick;
    }
}

template <typename T> cudaError_t launch(const fk_sample_params* p, cudaStream_t stream) {
    const int slice = int((p->vocab + kCluster - 1) / kCluster + 7) / 8 * 8;
    const int smem = slice * int(sizeof(float));
    cudaError_t e = cudaFuncSetAttribute(sample_kernel<T>, cudaFuncAttributeMaxDynamicSharedMemorySize, smem);
    if (e != cudaSuccess) return e;
    sample_kernel<T><<<static_cast<unsigned>(p->batch * kCluster), kThreads, smem, stream>>>(*p, slice);
    return cudaGetLastError();
}

}  // namespace

FK_OP_LAUNCHER(sample)(const fk_sample_params* p, cudaStream_t stream) {
    FK_REQUIRE(p != nullptr && stream != nullptr);
    FK_REQUIRE(p->batch >= 0 && p->batch <= 65535 && p->vocab >= 1 && p->vocab <= kMaxVocab);
    FK_REQUIRE(p->logits_stride >= p->vocab);
    cudaError_t e = fk::status_reset(p->status, stream);
    if (e != cudaSuccess) return e;
    if (p->batch == 0) return cudaSuccess;
    FK_REQUIRE(p->out && p->logits && p->temperature && p->top_k && p->top_p && p->rng);
    FK_DISPATCH_FLOAT(p->dtype, T, { return launch<T>(p, stream); });
    return cudaErrorInvalidValue;
}
