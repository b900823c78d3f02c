// reshape_and_cache baseline (L1). Contract: include/fk/ops/reshape_and_cache.h.
// Mirrors vLLM `reshape_and_cache_flash` (NHD paged cache). Any sm_80+ GPU.
// A scatter: one block per token copies its K and V rows (16-byte vectors) into the slot.
// NOT YET VERIFIED ON A GPU (written in a session without device time).
#include "fk/common.cuh"
#include "fk/ops/reshape_and_cache.h"

namespace {

template <typename T, int N>
__global__ void __launch_bounds__(256) reshape_and_cache_kernel(const T* __restrict__ key, const T* __restrict__ value,
                                                                 T* __restrict__ key_cache, T* __restrict__ value_cache,
                                                                 const int64_t* __restrict__ slots, fk_status* status,
                                                                 int64_t key_stride, int64_t value_stride,
                                                                 int64_t cache_slots, int row) {
    using P = fk::Packed<T, N>;
    const int64_t t = blockIdx.x;
    const int64_t slot = slots[t];
    if (slot < 0) return;  // padding
    if (slot >= cache_slots) {
        if (threadIdx.x == 0) fk::status_report(status, t);
        return;
    }
    const P* k = reinterpret_cast<const P*>(key + t * key_stride);
    const P* v = reinterpret_cast<const P*>(value + t * value_stride);
    P* kc = reinterpret_cast<P*>(key_cache + slot * row);
    P* vc = reinterpret_cast<P*>(value_cache + slot * row);
    for (int i = threadIdx.x; i < row / N; i += blockDim.x) {
        kc[i] = k[i];
        vc[i] = v[i];
    }
}

template <typename T, int N>
cudaError_t launch(const fk_reshape_and_cache_params* p, cudaStream_t stream) {
    const int row = p->kv_heads * p->head_dim;
    const int threads = static_cast<int>(std::min<int64_t>(256, fk::ceil_div(fk::ceil_div(row, N), 32) * 32));
    reshape_and_cache_kernel<T, N><<<static_cast<unsigned>(p->tokens), threads, 0, stream>>>(
        static_cast<const T*>(p->key), static_cast<const T*>(p->value), static_cast<T*>(p->key_cache),
        static_cast<T*>(p->value_cache), p->slot_mapping, p->status, p->key_stride, p->value_stride,
        p->num_blocks * p->block_size, row);
    return cudaGetLastError();
}

}  // namespace

FK_OP_LAUNCHER(reshape_and_cache)(const fk_reshape_and_cache_params* p, cudaStream_t stream) {
    FK_REQUIRE(p != nullptr && stream != nullptr);
    FK_REQUIRE(p->tokens >= 0 && p->tokens <= 0x7fffffffLL && p->kv_heads > 0 && p->head_dim > 0);
    FK_REQUIRE(p->block_size > 0 && p->num_blocks > 0);
    const int64_t row = int64_t(p->kv_heads) * p->head_dim;
    FK_REQUIRE(p->key_stride >= row && p->value_stride >= row);
    cudaError_t e = fk::status_reset(p->status, stream);
    if (e != cudaSuccess) return e;
    if (p->tokens == 0) return cudaSuccess;
    FK_REQUIRE(p->key && p->value && p->key_cache && p->value_cache && p->slot_mapping);
    const int eb = fk::dtype_bytes(p->dtype);
    FK_REQUIRE(eb > 0);
    const void* ptrs[4] = {p->key, p->value, p->key_cache, p->value_cache};
    const int64_t strides[2] = {p->key_stride, p->value_stride};
    const bool vec = fk::vec16_ok(row, eb, ptrs, 4, strides, 2);
    FK_DISPATCH_FLOAT(p->dtype, T, {
        constexpr int NV = fk::Vec16<T>::N;
        return vec ? launch<T, NV>(p, stream) : launch<T, 1>(p, stream);
    });
    return cudaErrorInvalidValue;
}
