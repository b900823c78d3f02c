// paged_attention_decode baseline (L1). Contract: include/fk/ops/paged_attention_decode.h.
// Flash-decoding over a paged NHD KV cache (vLLM / FlashInfer decode semantics). sm_80+.
// Pass 1, grid (kv_heads x head-chunks, splits, seqs), 4 warps: the CTA owns one kv head and
// up to G of its query heads, so each K/V row of a split is read from memory once for the
// whole group. Warps take tokens round-robin; each lane holds D/32 elements of q, K and V,
// the dot product is a warp reduction, softmax is online in fp32. Warps are merged through
// shared memory; one split writes the output directly, several write (max, sum, unnormalised
// output) partials that pass 2 combines.
// NOT YET VERIFIED ON A GPU (written in a session without device time).
#include "fk/common.cuh"
#include "fk/ops/paged_attention_decode.h"

#include <math_constants.h>

namespace {

constexpr int kWarps = 4;

template <typename T, int E> __device__ __forceinline__ void load_lane(const T* p, float (&f)[E]) {
    const fk::Packed<T, E> v = *reinterpret_cast<const fk::Packed<T, E>*>(p);
#pragma unroll
    for (int e = 0; e < E; ++e) f[e] = fk::to_float(v.v[e]);
}

template <typename T, int D, int G>
__global__ void __launch_bounds__(kWarps * 32) decode_split_kernel(fk_paged_attention_decode_params p, int head_chunks) {
    constexpr int E = D / 32;
    __shared__ float s_m[kWarps][G], s_l[kWarps][G];
    __shared__ float s_acc[kWarps][G][D];
    const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
    const int kvh = blockIdx.x / head_chunks, chunk = blockIdx.x % head_chunks;
    const int group = p.heads / p.kv_heads;
    const int h0 = kvh * group + chunk * G;
    const int g = min(G, group - chunk * G);
    const int64_t b = blockIdx.z;
    const int split = blockIdx.y;
    const int64_t max_len = int64_t(p.max_blocks_per_seq) * p.block_size;
    int64_t len = p.seq_lens[b];
    if (len < 0 || len > max_len) {
        if (threadIdx.x == 0 && split == 0 && blockIdx.x == 0) fk::status_report(p.status, b);
        len = len < 0 ? 0 : max_len;
    }
    const int64_t t0 = int64_t(split) * p.split_tokens, t1 = min(len, t0 + p.split_tokens);

    float q[G][E], acc[G][E], m[G], l[G];
#pragma unroll
    for (int gi = 0; gi < G; ++gi) {
        m[gi] = -CUDART_INF_F;
        l[gi] = 0.f;
#pragma unroll
        for (int e = 0; e < E; ++e) acc[gi][e] = 0.f;
        if (gi < g) {
            load_lane<T, E>(static_cast<const T*>(p.query) + b * p.query_stride + int64_t(h0 + gi) * D + lane * E, q[gi]);
#pragma unroll
            for (int e = 0; e < E; ++e) q[gi][e] *= p.scale;
        }
    }
    const int64_t row = int64_t(p.kv_heads) * D;
    const T* kc = static_cast<const T*>(p.key_cache) + int64_t(kvh) * D + lane * E;
    const T* vc = static_cast<const T*>(p.value_cache) + int64_t(kvh) * D + lane * E;
    const int32_t* table = p.block_table + b * p.max_blocks_per_seq;
    for (int64_t j = t0 + warp; j < t1; j += kWarps) {
        const int32_t block = table[j / p.block_size];
        if (block < 0 || block >= p.num_blocks) {
            if (lane == 0) fk::status_report(p.status, b);
            continue;
        }
        const int64_t slot = int64_t(block) * p.block_size + j % p.block_size;
        float k[E], v[E];
        load_lane<T, E>(kc + slot * row, k);
        load_lane<T, E>(vc + slot * row, v);
#pragma unroll
        for (int gi = 0; gi < G; ++gi) {
            if (gi >= g) break;
            float s = 0.f;
#pragma unroll
            for (int e = 0; e < E; ++e) s += q[gi][e] * k[e];
            s = fk::warp_sum(s);
            const float m_new = fmaxf(m[gi], s);
            const float corr = __expf(m[gi] - m_new);  // 0 on the first token (m = -inf)
            const float w = __expf(s - m_new);
            l[gi] = l[gi] * corr + w;
#pragma unroll
            for (int e = 0; e < E; ++e) acc[gi][e] = acc[gi][e] * corr + w * v[e];
            m[gi] = m_new;
        }
    }
#pragma unroll
    for (int gi = 0; gi < G; ++gi) {
        if (lane == 0) {
            s_m[warp][gi] = m[gi];
            s_l[warp][gi] = l[gi];
        }
#pragma unroll
        for (int e = 0; e < E; ++e) s_acc[warp][gi][lane * E + e] = acc[gi][e];
    }
    __syncthreads();
    const bool direct = p.max_splits == 1;
    for (int idx = threadIdx.x; idx < g * D; idx += blockDim.x) {
        const int gi = idx / D, d = idx % D;
        float M = -CUDART_INF_F;
        for (int w = 0; w < kWarps; ++w) M = fmaxf(M, s_m[w][gi]);
        float L = 0.f, O = 0.f;
        if (M != -CUDART_INF_F) {
            for (int w = 0; w < kWarps; ++w) {
                const float c = __expf(s_m[w][gi] - M);  // warps without tokens: exp(-inf) = 0
                L += s_l[w][gi] * c;
                O += s_acc[w][gi][d] * c;
            }
        }
        const int64_t h = h0 + gi;
        if (direct) {
            static_cast<T*>(p.out)[(b * p.heads + h) * D + d] = fk::from_float<T>(L > 0.f ? O / L : 0.f);
        } else {
            float* part = p.workspace + ((b * p.heads + h) * p.max_splits + split) * (D + 2);
            part[d] = O;
            if (d == 0) {
                part[D] = M;
                part[D + 1] = L;
            }
        }
    }
}

template <typename T, int D>
__global__ void __launch_bounds__(128) decode_combine_kernel(fk_paged_attention_decode_params p) {
    const int64_t h = blockIdx.x, b = blockIdx.y;
    const int64_t max_len = int64_t(p.max_blocks_per_seq) * p.block_size;
    const int64_t len = min(max(int64_t(p.seq_lens[b]), int64_t(0)), max_len);
    const int nsplit = static_cast<int>((len + p.split_tokens - 1) / p.split_tokens);
    const float* parts = p.workspace + (b * p.heads + h) * p.max_splits * (D + 2);
    float M = -CUDART_INF_F;
    for (int s = 0; s < nsplit; ++s) M = fmaxf(M, parts[s * (D + 2) + D]);
    for (int d = threadIdx.x; d < D; d += blockDim.x) {
        float L = 0.f, O = 0.f;
        if (M != -CUDART_INF_F) {
            for (int s = 0; s < nsplit; ++s) {
                const float* part = parts + s * (D + 2);
                const float c = __expf(part[D] - M);
                L += part[D + 1] * c;
                O += part[d] * c;
            }
        }
        static_cast<T*>(p.out)[(b * p.heads + h) * D + d] = fk::from_float<T>(L > 0.f ? O / L : 0.f);
    }
}

template <typename T, int D, int G>
cudaError_t launch_g(const fk_paged_attention_decode_params* p, cudaStream_t stream) {
    const int group = p->heads / p->kv_heads;
    const int chunks = (group + G - 1) / G;
    const dim3 grid(static_cast<unsigned>(p->kv_heads * chunks), static_cast<unsigned>(p->max_splits),
                    static_cast<unsigned>(p->seqs));
    decode_split_kernel<T, D, G><<<grid, kWarps * 32, 0, stream>>>(*p, chunks);
    cudaError_t e = cudaGetLastError();
    if (e != cudaSuccess || p->max_splits == 1) return e;
    decode_combine_kernel<T, D><<<dim3(static_cast<unsigned>(p->heads), static_cast<unsigned>(p->seqs)), 128, 0, stream>>>(*p);
    return cudaGetLastError();
}

template <typename T, int D>
cudaError_t launch_d(const fk_paged_attention_decode_params* p, cudaStream_t stream) {
    const int group = p->heads / p->kv_heads;
    // Up to 8 query heads per CTA; larger groups (MQA) are split across CTAs.
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
    FK_REQUIRE(p->query_stride >= int64_t(p->heads) * p->head_dim);
    FK_REQUIRE(p->max_splits == 1 || p->workspace != nullptr);
    FK_REQUIRE(p->scale > 0.f);
    cudaError_t e = fk::status_reset(p->status, stream);
    if (e != cudaSuccess) return e;
    if (p->seqs == 0) return cudaSuccess;
    FK_REQUIRE(p->out && p->query && p->key_cache && p->value_cache && p->block_table && p->seq_lens);
    // Each lane loads head_dim/32 contiguous elements: those must be aligned accesses.
    const int eb = fk::dtype_bytes(p->dtype);
    FK_REQUIRE(eb > 0);
    const int64_t lane_bytes = int64_t(p->head_dim / 32) * eb;
    for (const void* ptr : {p->query, p->key_cache, p->value_cache})
        FK_REQUIRE(reinterpret_cast<uintptr_t>(ptr) % lane_bytes == 0);
    FK_REQUIRE((p->query_stride * eb) % lane_bytes == 0);
    FK_DISPATCH_FLOAT(p->dtype, T, {
        switch (p->head_dim) {
            case 64: return launch_d<T, 64>(p, stream);
            case 128: return launch_d<T, 128>(p, stream);
            default: return launch_d<T, 256>(p, stream);
        }
    });
    return cudaErrorInvalidValue;
}
