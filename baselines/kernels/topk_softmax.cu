// topk_softmax baseline (L1). Contract: include/fk/ops/topk_softmax.h. sm_80+.
// The MoE router: fp32 softmax over E <= 256 experts, top-k (k <= 8), optional renormalisation
// (HF MixtralSparseMoeBlock / vLLM topk_softmax). One warp per token: lane l holds experts
// l, l+32, ... (at most 8 values in registers), so max, sum and each of the k argmax rounds are
// warp shuffles with no shared memory. Selection compares logits with ties to the lower index,
// which makes the order total and the result independent of the reduction tree.
#include <math_constants.h>

#include "fk/common.cuh"
#include "fk/ops/topk_softmax.h"

namespace {

constexpr int kWarps = 4;
constexpr int kPerLane = FK_TOPK_SOFTMAX_MAX_EXPERTS / 32;

__device__ __forceinline__ float sanitize(float x) {
    if (x != x) return -CUDART_INF_F;
    return x == CUDART_INF_F ? 3.402823466e38f : x;
}

// (value, index) pair order: larger value first, then smaller index.
__device__ __forceinline__ bool better(float v, int i, float bv, int bi) { return v > bv || (v == bv && i < bi); }

template <typename T>
__global__ void __launch_bounds__(kWarps * 32) topk_softmax_kernel(fk_topk_softmax_params p) {
    fk::pdl_grid_sync();
    const int lane = threadIdx.x % 32;
    const int64_t t = int64_t(blockIdx.x) * kWarps + threadIdx.x / 32;
    if (t >= p.tokens) return;
    const int E = p.num_experts, K = p.top_k;
    const T* row = static_cast<const T*>(p.logits) + t * p.logits_stride;

    float x[kPerLane];
    float mx = -CUDART_INF_F;
#pragma unroll
    for (int i = 0; i < kPerLane; ++i) {
        const int e = lane + 32 * i;
        x[i] = e < E ? sanitize(fk::to_float(row[e])) : -CUDART_INF_F;
        mx = fmaxf(mx, x[i]);
    }
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, o));
    // Every logit -inf: uniform probabilities (documented; torch would give NaN).
    const bool uniform = mx == -CUDART_INF_F;
    float sum = 0.f;
    float ex[kPerLane];
#pragma unroll
    for (int i = 0; i < kPerLane; ++i) {
        const int e = lane + 32 * i;
        ex[i] = e < E ? (uniform ? 1.f : expf(x[i] - mx)) : 0.f;
        sum += ex[i];
    }
    sum = fk::warp_sum(sum);
    const float inv = 1.f / sum;

    // k rounds of warp argmax over (logit, index); the winner is knocked out for the next round.
    float sel_w[FK_TOPK_SOFTMAX_MAX_K];
    int sel_i[FK_TOPK_SOFTMAX_MAX_K];
    float wsum = 0.f;
#pragma unroll
    for (int j = 0; j < FK_TOPK_SOFTMAX_MAX_K; ++j) {
        if (j >= K) break;
        float bv = -CUDART_INF_F;
        int bi = 0x7fffffff;
#pragma unroll
        for (int i = 0; i < kPerLane; ++i) {
            const int e = lane + 32 * i;
            // Knocked-out and out-of-range experts carry index INT_MAX, so they never win
            // while a real one is left (k <= E is checked by the launcher).
            bool live = e < E;
#pragma unroll
            for (int q = 0; q < FK_TOPK_SOFTMAX_MAX_K; ++q)
                if (q < j && sel_i[q] == e) live = false;
            if (live && better(uniform ? 0.f : x[i], e, bv, bi)) {
                bv = uniform ? 0.f : x[i];
                bi = e;
            }
        }
#pragma unroll
        for (int o = 16; o > 0; o >>= 1) {
            const float ov = __shfl_xor_sync(0xffffffffu, bv, o);
            const int oi = __shfl_xor_sync(0xffffffffu, bi, o);
            if (better(ov, oi, bv, bi)) {
                bv = ov;
                bi = oi;
            }
        }
        // The probability of the winner: its owner lane broadcasts it.
        float pw = 0.f;
#pragma unroll
        for (int i = 0; i < kPerLane; ++i)
            if (lane + 32 * i == bi) pw = ex[i] * inv;
        pw = __shfl_sync(0xffffffffu, pw, bi % 32);
        sel_w[j] = pw;
        sel_i[j] = bi;
        wsum += pw;
    }
    if (lane == 0) {
        const float scale = p.renormalize ? 1.f / wsum : 1.f;
#pragma unroll
        for (int j = 0; j < FK_TOPK_SOFTMAX_MAX_K; ++j) {
            if (j >= K) break;
            p.topk_weights[t * K + j] = sel_w[j] * scale;
            p.topk_ids[t * K + j] = sel_i[j];
        }
    }
}

}  // namespace

FK_OP_LAUNCHER(topk_softmax)(const fk_topk_softmax_params* p, cudaStream_t stream) {
    FK_REQUIRE(p != nullptr && stream != nullptr);
    FK_REQUIRE(p->num_experts >= 1 && p->num_experts <= FK_TOPK_SOFTMAX_MAX_EXPERTS);
    FK_REQUIRE(p->top_k >= 1 && p->top_k <= FK_TOPK_SOFTMAX_MAX_K && p->top_k <= p->num_experts);
    FK_REQUIRE(p->renormalize == 0 || p->renormalize == 1);
    FK_REQUIRE(p->tokens >= 0 && p->logits_stride >= p->num_experts);
    if (p->tokens == 0) return cudaSuccess;
    FK_REQUIRE(p->topk_weights && p->topk_ids && p->logits);
    const int64_t blocks = fk::ceil_div(p->tokens, kWarps);
    FK_REQUIRE(blocks <= 0x7fffffff);
    FK_DISPATCH_FLOAT(p->dtype, T, {
        return fk::launch_pdl(topk_softmax_kernel<T>, dim3(unsigned(blocks)), dim3(kWarps * 32), 0, stream, *p);
    });
    return cudaErrorInvalidValue;
}
