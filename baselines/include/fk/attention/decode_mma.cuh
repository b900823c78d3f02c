// Paged decode attention on tensor cores (f16/bf16, head_dim 64/128, GQA groups up to 16),
// private to paged_attention_decode.cu, which keeps the CUDA-core kernel for fp32 caches,
// head_dim 256 and larger groups. Same contract, grid, splits, workspace and combine pass.
//
// Why: the CUDA-core kernel is latency-bound, not bandwidth-bound (H200, batch 32 x ctx
// 1024: 44% of copy bandwidth; 61% at ctx 4096): per 32-token tile it runs three CTA barriers
// and chains of dependent shuffles for the dot products and the softmax. Here the group's
// query heads are the M = 16 rows of an mma (padded: a GQA group of 4 uses 4 rows, and the
// wasted tensor-core work is free next to the memory stream), so:
//   * each warp owns 8 of the tile's 32 tokens and keeps its own online softmax and output
//     accumulators in mma fragments: S = Q K^T is D/16 m16n8k16 mmas (K from shared memory
//     by ldmatrix), the row max/sum need 2 shuffles, and P V is D/8 m16n8k8 mmas whose A
//     operand is the S accumulator itself (same fragment layout), V by ldmatrix.trans;
//   * one CTA barrier per tile (the K/V ring slot), none between the phases;
//   * the 4 warps' (max, sum, output) are merged once per split through shared memory.
// K/V tiles land in the ring with 16-byte chunks XOR-swizzled by token (chunk c of token t
// at c ^ (t % 8)), so the 8 rows of every ldmatrix hit distinct banks.
#pragma once
#include <math_constants.h>

#include "fk/attention/sm80_mma.cuh"
#include "fk/common.cuh"
#include "fk/ops/paged_attention_decode.h"

namespace fk {
namespace decode_mma {

constexpr int kThreads = 128;
constexpr int kWarps = kThreads / 32;
constexpr int kTile = 32;                   // tokens per ring stage
constexpr int kWarpTokens = kTile / kWarps;  // 8: one n8 mma tile per warp
constexpr int kRows = 16;                    // query heads per CTA (mma M)
constexpr int kRingBytes = 64 * 1024;        // 3 CTAs per SM, as the CUDA-core kernel
constexpr float kLog2e = 1.4426950408889634f;

template <typename T, int D> struct Geo {
    static constexpr int kCh = D * int(sizeof(T)) / 16;  // 16-byte chunks per K/V row (8 or 16)
    static constexpr int kIssue = kTile * kCh / kThreads;
    static constexpr int kStageElems = 2 * kTile * D;  // K tile then V tile
    static constexpr int kStageBytes = kStageElems * int(sizeof(T));
    static constexpr int kStages = kRingBytes / kStageBytes > 4 ? 4 : kRingBytes / kStageBytes;
    static constexpr int kRedBytes = kWarps * kRows * D * 4;  // end-of-split merge buffer
    static constexpr int kSmem = kStages * kStageBytes > kRedBytes ? kStages * kStageBytes : kRedBytes;
    static_assert(kCh >= 8 && kIssue >= 1 && (kTile * kCh) % kThreads == 0 && kStages >= 2, "geometry");
};

// Element offset of chunk c of token t inside a K or V tile (swizzled, see above).
template <int D, int kCh> __device__ __forceinline__ int chunk_at(int t, int c) {
    return t * D + ((c ^ (t & 7)) * (D / kCh));
}

template <typename T, int D>
__global__ void __launch_bounds__(kThreads) decode_mma_kernel(const fk_paged_attention_decode_params p) {
    using Gm = Geo<T, D>;
    using Mma = attn::MmaType<T>;
    constexpr int S = Gm::kStages, kCh = Gm::kCh, E = 16 / int(sizeof(T));
    extern __shared__ __align__(128) unsigned char smem_raw[];
    T* const ring = reinterpret_cast<T*>(smem_raw);
    __shared__ int s_valid[S][kTile];
    __shared__ float s_m[kWarps][kRows], s_l[kWarps][kRows];

    const int tid = threadIdx.x, warp = tid / 32, lane = tid % 32;
    const int g = lane / 4, c = lane % 4;  // mma fragment row group / column pair
    const int kvh = blockIdx.x;
    const int group = p.heads / p.kv_heads;  // <= kRows (launcher)
    const int h0 = kvh * group;
    const int64_t b = blockIdx.z;
    const int split = blockIdx.y;
    const int max_len = p.max_blocks_per_seq * p.block_size;
    int len = p.seq_lens[b];
    if (len < 0 || len > max_len) {
        if (tid == 0 && split == 0 && blockIdx.x == 0) fk::status_report(p.status, b);
        len = len < 0 ? 0 : max_len;
    }
    const bool direct = p.max_splits == 1;
    const int t0 = split * p.split_tokens;
    const int t1 = min(len, t0 + p.split_tokens);
    if (t0 >= t1 && !direct) return;  // the combine pass reads only splits below the length
    const int ntiles = t0 < t1 ? (t1 - t0 + kTile - 1) / kTile : 0;

    const int64_t row = int64_t(p.kv_heads) * D;
    const T* const kbase = static_cast<const T*>(p.key_cache) + int64_t(kvh) * D;
    const T* const vbase = static_cast<const T*>(p.value_cache) + int64_t(kvh) * D;
    const int32_t* const table = p.block_table + b * p.max_blocks_per_seq;
    const bool pow2 = (p.block_size & (p.block_size - 1)) == 0;
    const int bs_shift = __ffs(p.block_size) - 1;

    // Block ids of this thread's copies, fetched one tile ahead of their cp.async.
    struct Blocks {
        int v[Gm::kIssue];
    };
    auto load_blocks = [&](int tile) {
        Blocks blk;
#pragma unroll
        for (int k = 0; k < Gm::kIssue; ++k) {
            const int j = t0 + tile * kTile + (tid + k * kThreads) / kCh;
            const int bi = pow2 ? j >> bs_shift : j / p.block_size;
            blk.v[k] = tile < ntiles && j < t1 ? __ldg(table + bi) : -1;
        }
        return blk;
    };
    // Enqueue tile `tile` into its ring slot (an empty group past the end keeps the group
    // count in step with the tile index).
    auto issue = [&](int tile, const Blocks blk) {
        if (tile < ntiles) {
            T* const sk = ring + (tile % S) * Gm::kStageElems;
            T* const sv = sk + kTile * D;
#pragma unroll
            for (int k = 0; k < Gm::kIssue; ++k) {
                const int idx = tid + k * kThreads;
                const int tt = idx / kCh, ch = idx % kCh;
                const int j = t0 + tile * kTile + tt;
                bool ok = false;
                int64_t off = 0;
                if (j < t1) {
                    const int blkid = blk.v[k];
                    if (blkid >= 0 && blkid < p.num_blocks) {
                        ok = true;
                        const int in_block = pow2 ? j & (p.block_size - 1) : j % p.block_size;
                        off = (int64_t(blkid) * p.block_size + in_block) * row + ch * E;
                    } else if (ch == 0) {
                        fk::status_report(p.status, b);
                    }
                }
                attn::cp_async16(attn::smem_addr(sk + chunk_at<D, kCh>(tt, ch)), kbase + off, ok);
                attn::cp_async16(attn::smem_addr(sv + chunk_at<D, kCh>(tt, ch)), vbase + off, ok);
                if (ch == 0) s_valid[tile % S][tt] = ok;
            }
        }
        attn::cp_async_commit();
    };

#pragma unroll
    for (int s = 0; s < S - 1; ++s) issue(s, load_blocks(s));
    Blocks blk = load_blocks(S - 1);

    // Q as mma A fragments (rows = the group's heads, zero past the group), straight from
    // global memory: pairs of adjacent elements are one 32-bit load. Scores are scaled in
    // fp32 after the mma (scaling q in 16 bits would round it).
    uint32_t qa[D / 16][4];
    {
        const T* const qrow = static_cast<const T*>(p.query) + b * p.query_stride + int64_t(h0) * D;
        auto q2 = [&](int r, int col) -> uint32_t {
            return r < group ? *reinterpret_cast<const uint32_t*>(qrow + int64_t(r) * D + col) : 0u;
        };
#pragma unroll
        for (int kk = 0; kk < D / 16; ++kk) {
            qa[kk][0] = q2(g, kk * 16 + 2 * c);
            qa[kk][1] = q2(g + 8, kk * 16 + 2 * c);
            qa[kk][2] = q2(g, kk * 16 + 8 + 2 * c);
            qa[kk][3] = q2(g + 8, kk * 16 + 8 + 2 * c);
        }
    }
    const float qs = p.scale * kLog2e;

    // Per lane: rows g and g + 8 (running max in the exp2 domain, partial sum of its own
    // columns), and the output fragments o[n] = rows g/g+8 x dims 8n + 2c, +1.
    float m_run[2] = {-CUDART_INF_F, -CUDART_INF_F}, l_run[2] = {0.f, 0.f};
    float o[D / 8][4];
#pragma unroll
    for (int n = 0; n < D / 8; ++n) o[n][0] = o[n][1] = o[n][2] = o[n][3] = 0.f;

    const int tok0 = warp * kWarpTokens;
    const int ld_tok = tok0 + (lane % 8), ld_ch = lane / 8;  // this lane's ldmatrix row

    for (int tile = 0; tile < ntiles; ++tile) {
        attn::cp_async_wait<S - 2>();
        __syncthreads();  // tile visible to all; everyone is done with the slot refilled next
        issue(tile + S - 1, blk);
        blk = load_blocks(tile + S);
        const T* const sk = ring + (tile % S) * Gm::kStageElems;
        const T* const sv = sk + kTile * D;
        const int* const valid = s_valid[tile % S];

        // S = Q K^T for this warp's 8 tokens: x4 covers chunks 4i..4i+3 = k-steps 2i, 2i+1.
        float s[4] = {0.f, 0.f, 0.f, 0.f};
#pragma unroll
        for (int i = 0; i < D / 32; ++i) {
            uint32_t r[4];
            attn::ldmatrix_x4(r, attn::smem_addr(sk + chunk_at<D, kCh>(ld_tok, 4 * i + ld_ch)));
            Mma::mma(s, qa[2 * i], r[0], r[1]);
            Mma::mma(s, qa[2 * i + 1], r[2], r[3]);
        }
        const bool v0 = valid[tok0 + 2 * c] != 0, v1 = valid[tok0 + 2 * c + 1] != 0;
        s[0] = v0 ? s[0] * qs : -CUDART_INF_F;
        s[1] = v1 ? s[1] * qs : -CUDART_INF_F;
        s[2] = v0 ? s[2] * qs : -CUDART_INF_F;
        s[3] = v1 ? s[3] * qs : -CUDART_INF_F;

        // Online softmax per row (4 lanes share a row: 2 shuffles).
        float corr[2];
#pragma unroll
        for (int h = 0; h < 2; ++h) {
            float mx = fmaxf(s[2 * h], s[2 * h + 1]);
            mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 1));
            mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 2));
            const float m_new = fmaxf(m_run[h], mx);
            const float m_use = m_new == -CUDART_INF_F ? 0.f : m_new;  // all masked so far
            corr[h] = attn::exp2_approx(m_run[h] - m_use);             // 0 while m_run = -inf
            s[2 * h] = attn::exp2_approx(s[2 * h] - m_use);
            s[2 * h + 1] = attn::exp2_approx(s[2 * h + 1] - m_use);
            l_run[h] = l_run[h] * corr[h] + s[2 * h] + s[2 * h + 1];
            m_run[h] = m_new;
        }
        const uint32_t pa[2] = {Mma::pack(s[0], s[1]), Mma::pack(s[2], s[3])};

        // O = O * corr + P V: x4.trans covers 4 n-tiles (dims 8n..8n+31) of the 8 tokens.
#pragma unroll
        for (int i = 0; i < D / 32; ++i) {
            uint32_t r[4];
            attn::ldmatrix_x4_trans(r, attn::smem_addr(sv + chunk_at<D, kCh>(ld_tok, 4 * i + ld_ch)));
#pragma unroll
            for (int j = 0; j < 4; ++j) {
                float (&acc)[4] = o[4 * i + j];
                acc[0] *= corr[0];
                acc[1] *= corr[0];
                acc[2] *= corr[1];
                acc[3] *= corr[1];
                Mma::mma_k8(acc, pa, r[j]);
            }
        }
    }

    // Merge the 4 warps (the ring is free once every copy has landed).
    attn::cp_async_wait<0>();
#pragma unroll
    for (int h = 0; h < 2; ++h) {
        l_run[h] += __shfl_xor_sync(0xffffffffu, l_run[h], 1);
        l_run[h] += __shfl_xor_sync(0xffffffffu, l_run[h], 2);
    }
    __syncthreads();
    float* const red = reinterpret_cast<float*>(smem_raw);  // [kWarps][kRows][D]
    if (c == 0) {
        s_m[warp][g] = m_run[0];
        s_l[warp][g] = l_run[0];
        s_m[warp][g + 8] = m_run[1];
        s_l[warp][g + 8] = l_run[1];
    }
#pragma unroll
    for (int n = 0; n < D / 8; ++n) {
        float* const r0 = red + (warp * kRows + g) * D + n * 8 + 2 * c;
        float* const r1 = red + (warp * kRows + g + 8) * D + n * 8 + 2 * c;
        *reinterpret_cast<float2*>(r0) = make_float2(o[n][0], o[n][1]);
        *reinterpret_cast<float2*>(r1) = make_float2(o[n][2], o[n][3]);
    }
    __syncthreads();
    for (int idx = tid; idx < group * D; idx += kThreads) {
        const int r = idx / D, d = idx % D;
        float M = -CUDART_INF_F;
#pragma unroll
        for (int w = 0; w < kWarps; ++w) M = fmaxf(M, s_m[w][r]);
        float acc = 0.f, l = 0.f;
        if (M != -CUDART_INF_F) {
#pragma unroll
            for (int w = 0; w < kWarps; ++w) {
                const float wt = exp2f(s_m[w][r] - M);  // a warp with no valid token: 0
                acc = fmaf(wt, red[(w * kRows + r) * D + d], acc);
                l = fmaf(wt, s_l[w][r], l);
            }
        }
        const int64_t h = h0 + r;
        if (direct) {
            static_cast<T*>(p.out)[(b * p.heads + h) * D + d] = fk::from_float<T>(l > 0.f ? acc / l : 0.f);
        } else {
            float* const part_out = p.workspace + ((b * p.heads + h) * p.max_splits + split) * (D + 2);
            part_out[d] = acc;
            if (d == 0) {
                part_out[D] = M;  // max, exp2 domain
                part_out[D + 1] = l;
            }
        }
    }
}

}  // namespace decode_mma
}  // namespace fk
