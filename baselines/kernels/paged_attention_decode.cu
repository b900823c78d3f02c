// paged_attention_decode baseline (L1). Contract: include/fk/ops/paged_attention_decode.h.
// One query token per sequence over its paged NHD KV cache, flash-decoding style (vLLM's
// PagedAttention / FlashInfer's BatchDecodeWithPagedKVCache semantics). Needs sm_80+
// (cp.async); tuned on the H100.
//
// Why this design: decode attention is a pure stream over K and V (2 FLOP per byte per
// query head), so what matters is keeping bytes in flight on every SM and spending few
// instructions per byte. The previous kernel walked one token at a time per warp with a
// dependent warp reduction per head (34% of copy bandwidth at batch 32 x 4k). Here:
//   * Pass 1, grid (kv_heads x head-chunks, splits, seqs), 128 threads. The CTA owns one kv
//     head and up to G of its query heads (GQA: every K/V row is read once per group).
//   * K and V tiles of 32 tokens go global -> shared memory with cp.async (16-byte chunks,
//     zero-filled for tokens past the end or on a bad block id) through a 4-stage ring
//     (64 KB: 3 CTAs per SM), so ~3 tiles per CTA are in flight while one is consumed.
//     Block ids are fetched one tile ahead; power-of-two block sizes divide by shifting.
//   * Scores: a token's row is read from shared memory by a group of 8 lanes (16 for G = 8)
//     holding q in registers; 3 shuffle levels finish the G dot products. Measured on the
//     H100: at 16 lanes per token the shuffles outnumbered the FMAs and the kernel was
//     instruction-issue bound at ~65% of copy bandwidth.
//   * Online softmax per tile: one warp per head, lane = token, exp2 domain. (Doing it
//     redundantly in every warp to save a barrier was slower: more instructions.)
//   * P.V: thread = (16-byte chunk of the head dim, token group); each thread keeps G x 8
//     fp32 accumulators; token groups are merged through shared memory once at the end.
//   * One split writes the output directly; otherwise each split writes (unnormalised
//     output, max, sum) to the workspace and a small combine kernel merges the splits.
// The host chooses the splits (DecodeSplits::for_device) from host-known maxima only, so a
// CUDA graph can replay the same launch while seq_lens change on the device.
// Experiments and their numbers: experiments/decode/.
// f16/bf16 with head_dim <= 128 and GQA groups <= 16 (Llama, Mixtral, ...) run the
// tensor-core kernel of include/fk/attention/decode_mma.cuh instead; this one keeps fp32
// caches, head_dim 256 and larger groups.
#include "fk/attention/decode_mma.cuh"
#include "fk/common.cuh"
#include "fk/ops/paged_attention_decode.h"

#include <math_constants.h>
#include <stdlib.h>

#include <type_traits>

// Experiment knobs (experiments/decode/build.sh sweeps them); the defaults are the measured best.
#ifndef FK_DECODE_THREADS
#define FK_DECODE_THREADS 128
#endif
#ifndef FK_DECODE_RING_KB  // shared-memory budget of the K/V ring
#define FK_DECODE_RING_KB 64
#endif
#ifndef FK_DECODE_MIN_CTAS  // __launch_bounds__ minimum CTAs per SM (0: none)
#define FK_DECODE_MIN_CTAS 0
#endif
#if FK_DECODE_MIN_CTAS > 0
#define FK_DECODE_BOUNDS __launch_bounds__(FK_DECODE_THREADS, FK_DECODE_MIN_CTAS)
#else
#define FK_DECODE_BOUNDS __launch_bounds__(FK_DECODE_THREADS)
#endif

namespace {

constexpr int kThreads = FK_DECODE_THREADS;
constexpr int kWarps = kThreads / 32;
constexpr int kTile = 32;  // tokens per pipeline stage; = warp size (softmax: lane = token)
constexpr float kLog2e = 1.4426950408889634f;

constexpr int cmin(int a, int b) { return a < b ? a : b; }
constexpr int cmax(int a, int b) { return a > b ? a : b; }

template <typename T, int D, int G> struct Geo {
    static constexpr int kEpc = 16 / int(sizeof(T));          // elements per 16-byte chunk
    static constexpr int kCh = D / kEpc;                      // chunks per K/V row (8..64)
    // Lanes per token in the score phase: as few as keep q in <= 64 registers per lane
    // (fewer lanes = fewer shuffle levels per dot product; the shuffles, not the FMAs, were
    // the largest instruction count), but >= 8 so each quarter-warp reads one contiguous
    // 128-byte run of a row (no bank conflicts).
    static constexpr int kLpt = cmin(32, cmin(kCh, cmax(8, kCh * kEpc * G / 64)));
    static constexpr int kCpl = kCh / kLpt;                   // chunks per lane (scores)
    static constexpr int kTpw = 32 / kLpt;                    // tokens per warp step
    static constexpr int kSteps = kTile / kWarps / kTpw;      // warp steps per tile
    static constexpr int kNtg = kThreads / kCh;               // token groups (P.V)
    static constexpr int kIssue = kTile * kCh / kThreads;     // K (and V) 16-byte copies per thread per tile
    static constexpr int kStageElems = 2 * kTile * D;         // K tile then V tile
    static constexpr int kStageBytes = kStageElems * int(sizeof(T));
    static constexpr int kStagesFit = (FK_DECODE_RING_KB * 1024) / kStageBytes;
    static constexpr int kStages = kStagesFit < 2 ? 2 : (kStagesFit > 4 ? 4 : kStagesFit);
    static constexpr int kRedBytes = kNtg * G * D * 4;        // end-of-split merge buffer
    static constexpr int kSmem = kStages * kStageBytes > kRedBytes ? kStages * kStageBytes : kRedBytes;
    static constexpr int kHeadsPerWarp = (G + kWarps - 1) / kWarps;
    static_assert(kCh % kLpt == 0 && kSteps >= 1 && kTile % (kWarps * kTpw) == 0, "geometry");
    static_assert(kThreads % kCh == 0 && kTile % kNtg == 0 && (kTile * kCh) % kThreads == 0, "geometry");
};

__device__ __forceinline__ void cp_async16(void* smem, const void* gmem, bool fill) {
    const unsigned s = static_cast<unsigned>(__cvta_generic_to_shared(smem));
    const int n = fill ? 16 : 0;  // src-size 0: 16 zero bytes, nothing read
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(s), "l"(gmem), "r"(n) : "memory");
}
__device__ __forceinline__ void cp_async_commit() { asm volatile("cp.async.commit_group;\n" ::: "memory"); }
template <int N> __device__ __forceinline__ void cp_async_wait() {
    asm volatile("cp.async.wait_group %0;\n" ::"n"(N) : "memory");
}

template <typename T, int E> __device__ __forceinline__ void load_chunk(const T* p, float* f) {
    const fk::Packed<T, E> v = *reinterpret_cast<const fk::Packed<T, E>*>(p);
#pragma unroll
    for (int e = 0; e < E; ++e) f[e] = fk::to_float(v.v[e]);
}

__device__ __forceinline__ float warp_max(float v) {
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
    return v;
}

template <typename T, int D, int G>
__global__ void FK_DECODE_BOUNDS decode_split_kernel(const fk_paged_attention_decode_params p, int head_chunks) {
    using Gm = Geo<T, D, G>;
    constexpr int E = Gm::kEpc, S = Gm::kStages;
    extern __shared__ __align__(16) unsigned char smem_raw[];
    T* const ring = reinterpret_cast<T*>(smem_raw);
    __shared__ float s_p[G][kTile];  // scores, then probabilities, of the current tile
    __shared__ float s_corr[G];
    __shared__ float s_ml[2][G];
    __shared__ int s_valid[S][kTile];

    const int tid = threadIdx.x, warp = tid / 32, lane = tid % 32;
    const int kvh = blockIdx.x / head_chunks, chunk = blockIdx.x % head_chunks;
    const int group = p.heads / p.kv_heads;
    const int h0 = kvh * group + chunk * G;
    const int g_count = min(G, group - chunk * G);
    const int64_t b = blockIdx.z;
    const int split = blockIdx.y;
    const int max_len = p.max_blocks_per_seq * p.block_size;  // < 2^31 (launcher check)
    int len = p.seq_lens[b];
    if (len < 0 || len > max_len) {
        if (tid == 0 && split == 0 && blockIdx.x == 0) fk::status_report(p.status, b);
        len = len < 0 ? 0 : max_len;
    }
    const bool direct = p.max_splits == 1;
    const int t0 = split * p.split_tokens;  // <= max_splits * split_tokens, checked < 2^31
    const int t1 = min(len, t0 + p.split_tokens);
    if (t0 >= t1 && !direct) return;  // the combine pass reads only splits below the length
    const int ntiles = t0 < t1 ? (t1 - t0 + kTile - 1) / kTile : 0;

    const int64_t row = int64_t(p.kv_heads) * D;
    const T* const kbase = static_cast<const T*>(p.key_cache) + int64_t(kvh) * D;
    const T* const vbase = static_cast<const T*>(p.value_cache) + int64_t(kvh) * D;
    const int32_t* const table = p.block_table + b * p.max_blocks_per_seq;

    // This thread's copies of a tile: chunk c of token tt for idx = tid + k * kThreads. The
    // block ids are loaded one tile ahead (off the critical path); a power-of-two block size
    // (the usual 16) divides by shifting.
    const bool pow2 = (p.block_size & (p.block_size - 1)) == 0;
    const int bs_shift = __ffs(p.block_size) - 1;
    struct Blocks {
        int v[Gm::kIssue];
    };
    auto load_blocks = [&](int tile) {
        Blocks blk;
#pragma unroll
        for (int k = 0; k < Gm::kIssue; ++k) {
            const int j = t0 + tile * kTile + (tid + k * kThreads) / Gm::kCh;
            const int bi = pow2 ? j >> bs_shift : j / p.block_size;
            blk.v[k] = tile < ntiles && j < t1 ? __ldg(table + bi) : -1;
        }
        return blk;
    };
    // Enqueue tile `tile` into its ring slot (or an empty group past the end, so that the
    // group count stays in step with the tile index).
    auto issue = [&](int tile, const Blocks blk) {
        if (tile < ntiles) {
            T* const sk = ring + (tile % S) * Gm::kStageElems;
            T* const sv = sk + kTile * D;
#pragma unroll
            for (int k = 0; k < Gm::kIssue; ++k) {
                const int idx = tid + k * kThreads;
                const int tt = idx / Gm::kCh, c = idx % Gm::kCh;
                const int j = t0 + tile * kTile + tt;
                bool ok = false;
                int64_t off = 0;
                if (j < t1) {
                    const int blkid = blk.v[k];
                    if (blkid >= 0 && blkid < p.num_blocks) {
                        ok = true;
                        const int in_block = pow2 ? j & (p.block_size - 1) : j % p.block_size;
                        off = (int64_t(blkid) * p.block_size + in_block) * row + c * E;
                    } else if (c == 0) {
                        fk::status_report(p.status, b);
                    }
                }
                cp_async16(sk + tt * D + c * E, kbase + off, ok);
                cp_async16(sv + tt * D + c * E, vbase + off, ok);
                if (c == 0) s_valid[tile % S][tt] = ok;
            }
        }
        cp_async_commit();
    };

#pragma unroll
    for (int s = 0; s < S - 1; ++s) issue(s, load_blocks(s));
    Blocks blk = load_blocks(S - 1);

    // q, pre-scaled into the exp2 domain; each lane holds its chunks for every head.
    const int part = lane % Gm::kLpt, sub = lane / Gm::kLpt;
    float q[G][Gm::kCpl * E];
    const T* const qrow = static_cast<const T*>(p.query) + b * p.query_stride;
    const float qs = p.scale * kLog2e;
#pragma unroll
    for (int g = 0; g < G; ++g)
#pragma unroll
        for (int i = 0; i < Gm::kCpl; ++i)
#pragma unroll
            for (int e = 0; e < E; ++e)
                q[g][i * E + e] = g < g_count ? fk::to_float(qrow[int64_t(h0 + g) * D + (part + i * Gm::kLpt) * E + e]) * qs : 0.f;

    float m_run[Gm::kHeadsPerWarp], l_run[Gm::kHeadsPerWarp];
#pragma unroll
    for (int i = 0; i < Gm::kHeadsPerWarp; ++i) {
        m_run[i] = -CUDART_INF_F;
        l_run[i] = 0.f;
    }
    const int pc = tid % Gm::kCh, tg = tid / Gm::kCh;
    float acc[G][E];
#pragma unroll
    for (int g = 0; g < G; ++g)
#pragma unroll
        for (int e = 0; e < E; ++e) acc[g][e] = 0.f;

    for (int tile = 0; tile < ntiles; ++tile) {
        cp_async_wait<S - 2>();
        __syncthreads();  // tile visible to all; everyone is done with the slot refilled next
        issue(tile + S - 1, blk);
        blk = load_blocks(tile + S);
        const T* const sk = ring + (tile % S) * Gm::kStageElems;
        const T* const sv = sk + kTile * D;
        const int* const valid = s_valid[tile % S];

        // Scores for all heads of the group.
#pragma unroll
        for (int st = 0; st < Gm::kSteps; ++st) {
            const int tt = warp * (kTile / kWarps) + st * Gm::kTpw + sub;
            float kf[Gm::kCpl * E];
#pragma unroll
            for (int i = 0; i < Gm::kCpl; ++i) load_chunk<T, E>(sk + tt * D + (part + i * Gm::kLpt) * E, kf + i * E);
            float dot[G];
#pragma unroll
            for (int g = 0; g < G; ++g) {
                float s = 0.f;
#pragma unroll
                for (int e = 0; e < Gm::kCpl * E; ++e) s = fmaf(q[g][e], kf[e], s);
                dot[g] = s;
            }
#pragma unroll
            for (int o = Gm::kLpt / 2; o > 0; o >>= 1)
#pragma unroll
                for (int g = 0; g < G; ++g) dot[g] += __shfl_xor_sync(0xffffffffu, dot[g], o);
            if (part == 0) {
                const bool ok = valid[tt] != 0;
#pragma unroll
                for (int g = 0; g < G; ++g) s_p[g][tt] = ok ? dot[g] : -CUDART_INF_F;
            }
        }
        __syncthreads();

        // Online softmax: warp w owns heads w, w + 4, ...; lane = token of the tile.
#pragma unroll
        for (int i = 0; i < Gm::kHeadsPerWarp; ++i) {
            const int g = warp + i * kWarps;
            if (g < G) {
                const float sc = s_p[g][lane];
                const float m_new = fmaxf(m_run[i], warp_max(sc));
                const float m_use = m_new == -CUDART_INF_F ? 0.f : m_new;  // all masked so far
                const float corr = exp2f(m_run[i] - m_use);                // 0 while m_run = -inf
                const float pr = exp2f(sc - m_use);
                l_run[i] = l_run[i] * corr + fk::warp_sum(pr);
                m_run[i] = m_new;
                s_p[g][lane] = pr;
                if (lane == 0) s_corr[g] = corr;
            }
        }
        __syncthreads();

        // P.V over this thread's chunk of the head dim and its token group.
#pragma unroll
        for (int g = 0; g < G; ++g) {
            const float c = s_corr[g];
#pragma unroll
            for (int e = 0; e < E; ++e) acc[g][e] *= c;
        }
#pragma unroll
        for (int i = 0; i < kTile / Gm::kNtg; ++i) {
            const int tt = tg + i * Gm::kNtg;
            float vf[E];
            load_chunk<T, E>(sv + tt * D + pc * E, vf);
#pragma unroll
            for (int g = 0; g < G; ++g) {
                const float pr = s_p[g][tt];
#pragma unroll
                for (int e = 0; e < E; ++e) acc[g][e] = fmaf(pr, vf[e], acc[g][e]);
            }
        }
    }

    // Merge the token groups (the ring is free once every copy has landed).
    cp_async_wait<0>();
    __syncthreads();
    float* const red = reinterpret_cast<float*>(smem_raw);  // [kNtg][G][D]
#pragma unroll
    for (int g = 0; g < G; ++g)
#pragma unroll
        for (int e = 0; e < E; ++e) red[(tg * G + g) * D + pc * E + e] = acc[g][e];
#pragma unroll
    for (int i = 0; i < Gm::kHeadsPerWarp; ++i) {
        const int g = warp + i * kWarps;
        if (g < G && lane == 0) {
            s_ml[0][g] = m_run[i];
            s_ml[1][g] = l_run[i];
        }
    }
    __syncthreads();
    for (int idx = tid; idx < g_count * D; idx += kThreads) {
        const int g = idx / D, d = idx % D;
        float o = 0.f;
#pragma unroll
        for (int t = 0; t < Gm::kNtg; ++t) o += red[(t * G + g) * D + d];
        const float l = s_ml[1][g];
        const int64_t h = h0 + g;
        if (direct) {
            static_cast<T*>(p.out)[(b * p.heads + h) * D + d] = fk::from_float<T>(l > 0.f ? o / l : 0.f);
        } else {
            float* const part_out = p.workspace + ((b * p.heads + h) * p.max_splits + split) * (D + 2);
            part_out[d] = o;
            if (d == 0) {
                part_out[D] = s_ml[0][g];  // max, exp2 domain
                part_out[D + 1] = l;
            }
        }
    }
}

// Pass 2: out[b, h] = sum_s w_s O_s / sum_s w_s l_s with w_s = 2^(m_s - max_s m_s), over the
// splits that hold tokens. 128 threads per (head, sequence); split weights are computed 128
// at a time into shared memory, so the loop over splits has no dependent loads.
template <typename T, int D>
__global__ void __launch_bounds__(128) decode_combine_kernel(const fk_paged_attention_decode_params p) {
    constexpr int kPer = (D + 127) / 128;
    __shared__ float s_w[128];
    __shared__ float s_red[4];
    const int tid = threadIdx.x;
    const int64_t h = blockIdx.x, b = blockIdx.y;
    const int max_len = p.max_blocks_per_seq * p.block_size;
    const int len = min(max(p.seq_lens[b], 0), max_len);
    const int nsplit = (len + p.split_tokens - 1) / p.split_tokens;
    const float* const parts = p.workspace + (b * p.heads + h) * p.max_splits * (D + 2);

    float m = -CUDART_INF_F;
    for (int s = tid; s < nsplit; s += 128) m = fmaxf(m, parts[int64_t(s) * (D + 2) + D]);
    m = warp_max(m);
    if (tid % 32 == 0) s_red[tid / 32] = m;
    __syncthreads();
    const float M = fmaxf(fmaxf(s_red[0], s_red[1]), fmaxf(s_red[2], s_red[3]));
    __syncthreads();

    float o[kPer], l = 0.f;
#pragma unroll
    for (int k = 0; k < kPer; ++k) o[k] = 0.f;
    if (M != -CUDART_INF_F) {
        for (int base = 0; base < nsplit; base += 128) {
            const int s = base + tid;
            float w = 0.f;
            if (s < nsplit) {
                const float* const ps = parts + int64_t(s) * (D + 2);
                w = exp2f(ps[D] - M);  // splits whose tokens were all skipped: 2^-inf = 0
                l = fmaf(w, ps[D + 1], l);
            }
            s_w[tid] = w;
            __syncthreads();
            const int n = min(128, nsplit - base);
#pragma unroll 4
            for (int i = 0; i < n; ++i) {
                const float wi = s_w[i];
                const float* const ps = parts + int64_t(base + i) * (D + 2);
#pragma unroll
                for (int k = 0; k < kPer; ++k)
                    if (tid + k * 128 < D) o[k] = fmaf(wi, ps[tid + k * 128], o[k]);
            }
            __syncthreads();
        }
    }
    l = fk::warp_sum(l);
    if (tid % 32 == 0) s_red[tid / 32] = l;
    __syncthreads();
    const float L = s_red[0] + s_red[1] + s_red[2] + s_red[3];
#pragma unroll
    for (int k = 0; k < kPer; ++k) {
        const int d = tid + k * 128;
        if (d < D) static_cast<T*>(p.out)[(b * p.heads + h) * D + d] = fk::from_float<T>(L > 0.f ? o[k] / L : 0.f);
    }
}

template <typename T, int D, int G>
cudaError_t launch_g(const fk_paged_attention_decode_params* p, cudaStream_t stream) {
    using Gm = Geo<T, D, G>;
    const int group = p->heads / p->kv_heads;
    const int chunks = (group + G - 1) / G;
    auto kernel = decode_split_kernel<T, D, G>;
    // A host-side attribute, no stream work: legal inside graph capture.
    cudaError_t e = cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, Gm::kSmem);
    if (e != cudaSuccess) return e;
    const dim3 grid(static_cast<unsigned>(p->kv_heads * chunks), static_cast<unsigned>(p->max_splits),
                    static_cast<unsigned>(p->seqs));
    kernel<<<grid, kThreads, Gm::kSmem, stream>>>(*p, chunks);
    e = cudaGetLastError();
    if (e != cudaSuccess || p->max_splits == 1) return e;
    decode_combine_kernel<T, D><<<dim3(static_cast<unsigned>(p->heads), static_cast<unsigned>(p->seqs)), 128, 0, stream>>>(*p);
    return cudaGetLastError();
}

// The tensor-core kernel (include/fk/attention/decode_mma.cuh) takes f16/bf16 with
// head_dim <= 128 and GQA groups up to 16 whose query rows allow 32-bit loads.
// FK_DECODE_CUDA_CORES=1 forces the CUDA-core kernel (A/B experiments on the device).
template <typename T, int D>
bool mma_path(const fk_paged_attention_decode_params* p) {
    static const bool forced_off = [] {
        const char* v = getenv("FK_DECODE_CUDA_CORES");
        return v != nullptr && v[0] == '1';
    }();
    return !forced_off && p->heads / p->kv_heads <= fk::decode_mma::kRows && p->query_stride % 2 == 0 &&
           reinterpret_cast<uintptr_t>(p->query) % 4 == 0;
}

template <typename T, int D>
cudaError_t launch_mma(const fk_paged_attention_decode_params* p, cudaStream_t stream) {
    using Gm = fk::decode_mma::Geo<T, D>;
    auto kernel = fk::decode_mma::decode_mma_kernel<T, D>;
    // A host-side attribute, no stream work: legal inside graph capture.
    cudaError_t e = cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, Gm::kSmem);
    if (e != cudaSuccess) return e;
    const dim3 grid(static_cast<unsigned>(p->kv_heads), static_cast<unsigned>(p->max_splits), static_cast<unsigned>(p->seqs));
    kernel<<<grid, fk::decode_mma::kThreads, Gm::kSmem, stream>>>(*p);
    e = cudaGetLastError();
    if (e != cudaSuccess || p->max_splits == 1) return e;
    decode_combine_kernel<T, D><<<dim3(static_cast<unsigned>(p->heads), static_cast<unsigned>(p->seqs)), 128, 0, stream>>>(*p);
    return cudaGetLastError();
}

template <typename T, int D>
cudaError_t launch_d(const fk_paged_attention_decode_params* p, cudaStream_t stream) {
    if constexpr (!std::is_same_v<T, float> && D <= 128) {
        if (mma_path<T, D>(p)) return launch_mma<T, D>(p, stream);
    }
    const int group = p->heads / p->kv_heads;
    // Up to 8 query heads per CTA; larger groups are split across CTAs. A group of 3 runs
    // as chunks of 2 (the second half-empty) rather than a G = 4 CTA with an idle head.
    if (group >= 8) return launch_g<T, D, 8>(p, stream);
    if (group >= 4) return launch_g<T, D, 4>(p, stream);
    if (group >= 2) return launch_g<T, D, 2>(p, stream);
    return launch_g<T, D, 1>(p, stream);
}

}  // namespace

FK_OP_LAUNCHER(paged_attention_decode)(const fk_paged_attention_decode_params* p, cudaStream_t stream) {
    FK_REQUIRE(p != nullptr && stream != nullptr);
    FK_REQUIRE(p->seqs >= 0 && p->seqs <= 65535 && p->heads > 0 && p->kv_heads > 0 && p->heads % p->kv_heads == 0);
    FK_REQUIRE(p->head_dim == 64 || p->head_dim == 128 || p->head_dim == 256);
    FK_REQUIRE(p->block_size > 0 && p->max_blocks_per_seq > 0 && p->num_blocks > 0);
    FK_REQUIRE(p->split_tokens > 0 && p->split_tokens % p->block_size == 0);
    FK_REQUIRE(p->max_splits >= 1 && p->max_splits <= 65535 &&
               int64_t(p->max_splits) * p->split_tokens >= int64_t(p->max_blocks_per_seq) * p->block_size);
    // Token indices are 32-bit inside the kernel.
    FK_REQUIRE(int64_t(p->max_splits) * p->split_tokens <= int64_t(INT32_MAX) - p->split_tokens);
    FK_REQUIRE(p->query_stride >= int64_t(p->heads) * p->head_dim);
    FK_REQUIRE(p->max_splits == 1 || p->workspace != nullptr);
    FK_REQUIRE(p->scale > 0.f);
    cudaError_t e = fk::status_reset(p->status, stream);
    if (e != cudaSuccess) return e;
    if (p->seqs == 0) return cudaSuccess;
    FK_REQUIRE(p->out && p->query && p->key_cache && p->value_cache && p->block_table && p->seq_lens);
    FK_REQUIRE(fk::dtype_bytes(p->dtype) > 0);
    // K/V rows are copied in 16-byte chunks (cp.async): the caches must be 16-byte aligned.
    for (const void* ptr : {p->key_cache, p->value_cache}) FK_REQUIRE(reinterpret_cast<uintptr_t>(ptr) % 16 == 0);
    FK_DISPATCH_FLOAT(p->dtype, T, {
        switch (p->head_dim) {
            case 64: return launch_d<T, 64>(p, stream);
            case 128: return launch_d<T, 128>(p, stream);
            default: return launch_d<T, 256>(p, stream);
        }
    });
    return cudaErrorInvalidValue;
}
