// moe_sum baseline (L1). Contract: include/fk/ops/moe_sum.h. sm_80+.
// Memory-bound reduction over the k expert outputs of a token: grid (tokens, column chunks),
// each thread owns one 16-byte vector of columns and issues the k loads before summing
// (k independent loads in flight per thread). The routing weight and expert check of each
// slot are read once per thread (tiny, cached). Scalar fallback when rows cannot be read as
// 16-byte vectors. Launched with programmatic dependent launch: it follows the down GEMM.
#include "fk/common.cuh"
#include "fk/ops/moe_sum.h"

namespace {

constexpr int kThreads = 128;
constexpr int kMaxK = 64;

// Whether the slot counts (its expert is in range, or there are no ids to check).
__device__ __forceinline__ bool slot_live(const fk_moe_sum_params& p, int64_t slot) {
    if (p.topk_ids == nullptr) return true;
    const int e = p.topk_ids[slot];
    return e >= 0 && e < p.num_experts;
}

template <typename T, int V>
__global__ void __launch_bounds__(kThreads) moe_sum_kernel(fk_moe_sum_params p) {
    fk::pdl_grid_sync();
    const int64_t t = blockIdx.x;
    const int64_t c = (int64_t(blockIdx.y) * kThreads + threadIdx.x) * V;
    if (c >= p.hidden) return;
    const T* in = static_cast<const T*>(p.input) + t * p.top_k * p.hidden + c;
    float acc[V];
#pragma unroll
    for (int v = 0; v < V; ++v) acc[v] = 0.f;
    for (int j = 0; j < p.top_k; ++j) {
        const int64_t slot = t * p.top_k + j;
        // A skipped slot is not read at all (fused_moe never wrote its row: 0 * NaN would poison).
        if (!slot_live(p, slot)) continue;
        const float w = p.topk_weights != nullptr ? p.topk_weights[slot] : 1.f;
        fk::Packed<T, V> x;
        if constexpr (V > 1) {
            const uint4 raw = __ldcs(reinterpret_cast<const uint4*>(in + j * p.hidden));
            memcpy(&x, &raw, sizeof(x));
        } else {
            x.v[0] = in[j * p.hidden];
        }
#pragma unroll
        for (int v = 0; v < V; ++v) acc[v] = fmaf(w, fk::to_float(x.v[v]), acc[v]);
    }
    fk::Packed<T, V> o;
#pragma unroll
    for (int v = 0; v < V; ++v) o.v[v] = fk::from_float<T>(acc[v]);
    T* out = static_cast<T*>(p.out) + t * p.out_stride + c;
    if constexpr (V > 1) {
        *reinterpret_cast<fk::Packed<T, V>*>(out) = o;
    } else {
        out[0] = o.v[0];
    }
}

template <typename T, int V> cudaError_t launch(const fk_moe_sum_params* p, cudaStream_t stream) {
    const int64_t chunks = fk::ceil_div(fk::ceil_div(p->hidden, V), kThreads);
    FK_REQUIRE(chunks <= 65535 && p->tokens <= 0x7fffffff);
    return fk::launch_pdl(moe_sum_kernel<T, V>, dim3(unsigned(p->tokens), unsigned(chunks)), dim3(kThreads), 0, stream, *p);
}

}  // namespace

FK_OP_LAUNCHER(moe_sum)(const fk_moe_sum_params* p, cudaStream_t stream) {
    FK_REQUIRE(p != nullptr && stream != nullptr);
    FK_REQUIRE(p->tokens >= 0 && p->hidden > 0 && p->top_k >= 1 && p->top_k <= kMaxK && p->out_stride >= p->hidden);
    FK_REQUIRE(p->topk_ids == nullptr || p->num_experts >= 1);
    if (p->tokens == 0) return cudaSuccess;
    FK_REQUIRE(p->out && p->input);
    const int eb = fk::dtype_bytes(p->dtype);
    FK_REQUIRE(eb == 2 || eb == 4);
    const void* ptrs[2] = {p->out, p->input};
    const int64_t strides[1] = {p->out_stride};
    const bool vec = fk::vec16_ok(p->hidden, eb, ptrs, 2, strides, 1);
    FK_DISPATCH_FLOAT(p->dtype, T, {
        if (vec) return launch<T, fk::Vec16<T>::N>(p, stream);
        return launch<T, 1>(p, stream);
    });
    return cudaErrorInvalidValue;
}
