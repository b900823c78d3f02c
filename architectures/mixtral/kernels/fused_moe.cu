// fk-mixtral candidate for fused_moe (contract: baselines/include/fk/ops/fused_moe.h): the
// decode-time expert GEMMs, where each routed expert sees a handful of token rows.
//
// Why a different kernel there: at one token (2 slots) the baseline's Hopper tile (64 slots
// x 256 weight rows, whole k per CTA) gives Mixtral's down projection (2 experts x 4096 rows x
// k = 14336) only 32 CTAs: 32 SMs stream the weights while 100 idle. Here a CTA owns one m16
// tile of weight rows for one aligned block, and its 8 warps split k eight ways (reduced
// through shared memory in warp order: deterministic), so the grid has thousands of
// short-lived CTAs and every SM streams weights. Weights go straight from global memory into
// mma fragments (below); token rows are gathered through sorted_token_ids, 16 at a time (any
// aligned block size that is a multiple of 16).
//  * gate_up (activation 1): the tile's 16 rows are 8 gate rows (i0 .. i0 + 7) and the matching
//    8 up rows (I + i0 ..), so one lane's accumulators hold gate and up of the same output and
//    silu(gate) * up is formed in registers, rounded as PyTorch materialises it.
//  * down (activation 0): 16 consecutive rows of w2; the fp32 sum is scaled by the slot's
//    routing weight, then rounded once.
// Above kMaxSlots token slots the baseline kernel runs. Measured on the H200 against the
// baseline's block-64 Hopper path in situ (results/h200/run41-moe-block64,
// MixtralSparseMoeBlock, same call): 1.09x at 1 token, 0.94x at 2, 0.80-0.86x at 4-16 tokens,
// where the baseline's 64 x 256 tiles stream at 3.3-4.0 TB/s. (Against the earlier block-16
// baseline it won up to 16 tokens: run 9.)
#include "fk/attention/sm80_mma.cuh"
#include "fk/common.cuh"
#include "fk/ops/fused_moe.h"

// The baseline launcher, linked into the same binary (fk-baselines).
extern "C" cudaError_t fk_baseline_fused_moe(const fk_fused_moe_params* p, cudaStream_t stream);

namespace {

// ---- weights straight into mma fragments ----
// out^T = W · x^T: W rows are the mma's A operand (16 per m16 tile), token rows its B operand
// (8 per n8 tile). A dot product may walk k in any order as long as A and B agree, so lane
// (g, c) loads 8 consecutive k of rows g and g + 8 with one 16-byte load each, and those are
// its fragment slots of two m16n8k16 steps (slots 2c, 2c+1, 2c+8, 2c+9 of step j hold
// physical k 8c + 4j + 0..3); the B fragment is then 8 consecutive k of one token row (one
// 16-byte load feeds both steps). Every loaded byte is used; no shared memory.
constexpr int kStepK = 32;  // k covered by one 16-byte load per lane and row

template <int S> struct WeightRegs {
    uint4 lo[S];
    uint4 hi[S];
};

// Weights of S steps from warp offset k0 (the lane's 8 values at k0 + s * kStepK + lane_k),
// zero without a load at or past ke (k % 8 == 0: a lane's vector is wholly in or out). Read
// once: streamed past L1.
template <typename T, int S>
__device__ __forceinline__ void load_weights(WeightRegs<S>& w, const T* row_lo, const T* row_hi, int k0, int lane_k, int ke) {
#pragma unroll
    for (int s = 0; s < S; ++s) {
        const int kk = k0 + s * kStepK + lane_k;
        const bool in = kk < ke;
        w.lo[s] = in ? __ldcs(reinterpret_cast<const uint4*>(row_lo + kk)) : make_uint4(0, 0, 0, 0);
        w.hi[s] = in ? __ldcs(reinterpret_cast<const uint4*>(row_hi + kk)) : make_uint4(0, 0, 0, 0);
    }
}

// acc[t] += W(16 rows) · x(token rows of tile t)ᵀ over the S steps in `w`; `x_at(t, kk)` gives
// the lane's 8 values of its token row in tile t (zeros for padding). k0 is warp-uniform
// (mma.sync needs the whole warp), lane_k the lane's offset.
template <typename T, int MT, int S, typename XAt>
__device__ __forceinline__ void multiply(float (&acc)[MT][4], const WeightRegs<S>& w, const XAt& x_at, int k0, int lane_k, int ke) {
#pragma unroll
    for (int s = 0; s < S; ++s) {
        if (k0 + s * kStepK >= ke) break;
        const int kk = k0 + s * kStepK + lane_k;
        const uint32_t a0[4] = {w.lo[s].x, w.hi[s].x, w.lo[s].y, w.hi[s].y};
        const uint32_t a1[4] = {w.lo[s].z, w.hi[s].z, w.lo[s].w, w.hi[s].w};
#pragma unroll
        for (int t = 0; t < MT; ++t) {
            const uint4 xv = kk < ke ? x_at(t, kk) : make_uint4(0, 0, 0, 0);
            fk::attn::MmaType<T>::mma(acc[t], a0, xv.x, xv.y);
            fk::attn::MmaType<T>::mma(acc[t], a1, xv.z, xv.w);
        }
    }
}

// Walks [kb, ke) with two register buffers: the next S steps are requested before the current
// ones are multiplied (one warp's loads alone are latency-bound).
template <typename T, int MT, int S, typename XAt>
__device__ __forceinline__ void stream_rows(float (&acc)[MT][4], const T* row_lo, const T* row_hi, const XAt& x_at, int kb, int lane_k, int ke) {
    constexpr int span = S * kStepK;
    WeightRegs<S> wa, wb;
    load_weights(wa, row_lo, row_hi, kb, lane_k, ke);
    for (int k0 = kb; k0 < ke; k0 += 2 * span) {
        load_weights(wb, row_lo, row_hi, k0 + span, lane_k, ke);
        multiply<T, MT, S>(acc, wa, x_at, k0, lane_k, ke);
        if (k0 + span >= ke) break;
        load_weights(wa, row_lo, row_hi, k0 + 2 * span, lane_k, ke);
        multiply<T, MT, S>(acc, wb, x_at, k0 + span, lane_k, ke);
    }
}

// ---- the kernel ----
constexpr int kWarps = 8;
constexpr int kTile = 16;   // token rows per pass: two n8 tiles (aligned blocks: multiples of it)
constexpr int kSteps = 4;   // 32-k steps per register buffer (2 tiles of accumulators: no spill)
constexpr int64_t kMaxSlots = 2;  // token slots (tokens x top_k) this kernel takes: one token at top-2

template <typename T> __device__ __forceinline__ float round_to(float v) { return fk::to_float(fk::from_float<T>(v)); }

template <typename T, bool SILU>
__global__ void __launch_bounds__(kWarps * 32, 2) moe_decode_kernel(const fk_fused_moe_params p) {
    // Everything here (ids, expert of the block, the activations) comes from earlier kernels.
    fk::pdl_grid_sync();
    const int b = blockIdx.y;
    const int64_t post = *p.num_tokens_post_padded, first = int64_t(b) * p.block_size;
    if (first >= post) return;
    const int e = p.expert_ids[b];
    if (e < 0 || e >= p.num_experts) return;
    const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, g = lane / 4, c = lane % 4;
    const int64_t n = p.n, k = p.k;
    const T* w = static_cast<const T*>(p.weight) + int64_t(e) * (SILU ? 2 * n : n) * k;
    // The lane's two weight rows (A fragment rows g and g + 8 of the tile).
    int64_t r_lo, r_hi;
    if constexpr (SILU) {
        r_lo = int64_t(blockIdx.x) * 8 + g;  // gate row of output column r_lo
        r_hi = n + r_lo;                     // its up row
    } else {
        r_lo = int64_t(blockIdx.x) * 16 + g;
        r_hi = min(r_lo + 8, n - 1);  // past n (n % 16 == 8): a valid row, never stored
    }
    const T* row_lo = w + r_lo * k;
    const T* row_hi = w + r_hi * k;
    // Warp w takes the w-th eighth of k (in 32-k steps).
    const int per = static_cast<int>((k + kWarps * kStepK - 1) / (kWarps * kStepK) * kStepK);
    const int kb = warp * per, ke = static_cast<int>(min(k, int64_t(kb) + per));
    const auto valid = [&](int s) { return s >= 0 && s < p.num_slots; };

    // The block's rows 16 at a time (two n8 tiles); padding trails a block, so the first
    // 16-row group that starts with padding ends it. At decode sizes there is one group.
    __shared__ float part[kWarps][2][4][32];
    for (int sub = 0; sub < p.block_size && first + sub < post; sub += kTile) {
        const int32_t* ids = p.sorted_token_ids + first + sub;
        if (!valid(ids[0])) break;
        // The lane's token row of each n8 tile: slot ids[8 t + g].
        const T* xrow[2];
#pragma unroll
        for (int t = 0; t < 2; ++t) {
            const int s = ids[8 * t + g];
            xrow[t] = valid(s) ? static_cast<const T*>(p.a) + int64_t(s / p.a_rows_per_slot) * p.a_stride : nullptr;
        }
        const auto x_at = [&](int t, int kk) {
            return xrow[t] != nullptr ? __ldg(reinterpret_cast<const uint4*>(xrow[t] + kk)) : make_uint4(0, 0, 0, 0);
        };
        float acc[2][4] = {};
        stream_rows<T, 2, kSteps>(acc, row_lo, row_hi, x_at, kb, 8 * c, ke);

        // Sum the eight k ranges in warp order (the same bits on every run).
        __syncthreads();  // the previous group's sums have been read
#pragma unroll
        for (int t = 0; t < 2; ++t)
#pragma unroll
            for (int j = 0; j < 4; ++j) part[warp][t][j][lane] = acc[t][j];
        __syncthreads();
        if (warp != 0) continue;
#pragma unroll
        for (int t = 0; t < 2; ++t)
#pragma unroll
            for (int j = 0; j < 4; ++j) {
                float s = 0.f;
#pragma unroll
                for (int v = 0; v < kWarps; ++v) s += part[v][t][j][lane];
                acc[t][j] = s;
            }

        // acc[t][h2 + q] = D[weight row g (h2 = 0) or g + 8 (h2 = 2)][token column 8t + 2c + q].
        T* out = static_cast<T*>(p.out);
#pragma unroll
        for (int t = 0; t < 2; ++t)
#pragma unroll
            for (int q = 0; q < 2; ++q) {
                const int s = ids[8 * t + 2 * c + q];
                if (!valid(s)) continue;
                T* orow = out + int64_t(s) * p.out_stride;
                if constexpr (SILU) {
                    const float gate = round_to<T>(acc[t][q]);
                    const float act = round_to<T>(gate / (1.f + expf(-gate)));
                    orow[r_lo] = fk::from_float<T>(act * round_to<T>(acc[t][2 + q]));
                } else {
                    const float wt = p.topk_weights != nullptr ? p.topk_weights[s] : 1.f;
                    orow[r_lo] = fk::from_float<T>(acc[t][q] * wt);
                    if (r_lo + 8 < n) orow[r_lo + 8] = fk::from_float<T>(acc[t][2 + q] * wt);
                }
            }
    }
}

template <typename T, bool SILU> cudaError_t launch(const fk_fused_moe_params* p, cudaStream_t stream) {
    const int64_t tiles = SILU ? p->n / 8 : fk::ceil_div(p->n, int64_t(16));
    const int64_t blocks = fk::ceil_div(p->em_capacity, int64_t(p->block_size));
    FK_REQUIRE(tiles <= 0x7fffffff && blocks <= 65535);
    return fk::launch_pdl(moe_decode_kernel<T, SILU>, dim3(unsigned(tiles), unsigned(blocks)), dim3(kWarps * 32), 0, stream, *p);
}

}  // namespace

FK_OP_LAUNCHER(fused_moe)(const fk_fused_moe_params* p, cudaStream_t stream) {
    FK_REQUIRE(p != nullptr && stream != nullptr);
    // Everything past kMaxSlots slots, and every argument check, is the baseline's.
    if (p->block_size < kTile || p->block_size % kTile != 0 || p->num_slots > kMaxSlots || p->k <= 0 || p->n <= 0 || p->k % 8 != 0 || p->n % 8 != 0 || p->a_rows_per_slot <= 0 ||
        (p->activation != 0 && p->activation != 1) || (p->dtype != FK_DTYPE_BF16 && p->dtype != FK_DTYPE_F16) || p->em_capacity <= 0 ||
        p->num_slots <= 0)
        return fk_baseline_fused_moe(p, stream);
    FK_REQUIRE(p->out && p->a && p->weight && p->sorted_token_ids && p->expert_ids && p->num_tokens_post_padded);
    FK_REQUIRE(reinterpret_cast<uintptr_t>(p->a) % 16 == 0 && p->a_stride % 8 == 0 && reinterpret_cast<uintptr_t>(p->weight) % 16 == 0);
    const bool silu = p->activation == 1;
    if (p->dtype == FK_DTYPE_BF16) return silu ? launch<__nv_bfloat16, true>(p, stream) : launch<__nv_bfloat16, false>(p, stream);
    return silu ? launch<__half, true>(p, stream) : launch<__half, false>(p, stream);
}
