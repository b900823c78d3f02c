// rotary_embedding baseline (L1). Contract: include/fk/ops/rotary_embedding.h.
// Mirrors vLLM `RotaryEmbedding.forward_cuda` (`_C.rotary_embedding`): in place on q and k,
// neox or gpt-j pairing, partial rotary_dim, strided rows (q/k views of a fused qkv output).
// Any sm_80+ GPU. One block per token; each work item rotates N pairs (neox: N-element
// vectors from both halves; gpt-j: one N-element vector holding N/2 interleaved pairs).
#include "fk/common.cuh"
#include "fk/rotary.cuh"
#include "fk/ops/rotary_embedding.h"

namespace {

template <typename T, int N, bool NEOX>
__global__ void __launch_bounds__(512) rotary_kernel(const int64_t* __restrict__ positions, T* __restrict__ query,
                                                      T* __restrict__ key, const float* __restrict__ cache,
                                                      fk_status* status, int64_t q_stride, int64_t k_stride,
                                                      int64_t max_position, int num_heads, int num_kv_heads,
                                                      int head_size, int rot_dim) {
    const int64_t t = blockIdx.x;
    const int64_t pos = positions[t];
    if (pos < 0 || pos >= max_position) {
        if (threadIdx.x == 0) fk::status_report(status, t);
        return;
    }
    const int half = rot_dim / 2;
    const float* cos = cache + pos * rot_dim;
    const float* sin = cos + half;
    const int items_per_head = NEOX ? half / N : rot_dim / (N == 1 ? 2 : N);
    const int heads = num_heads + (key != nullptr ? num_kv_heads : 0);
    for (int w = threadIdx.x; w < heads * items_per_head; w += blockDim.x) {
        const int h = w / items_per_head, item = w % items_per_head;
        T* head = h < num_heads ? query + t * q_stride + static_cast<int64_t>(h) * head_size
                                : key + t * k_stride + static_cast<int64_t>(h - num_heads) * head_size;
        fk::rotate_item<T, N, NEOX>(head, cos, sin, half, item);
    }
}

template <typename T, int N>
cudaError_t launch(const fk_rotary_embedding_params* p, cudaStream_t stream) {
    const int half = p->rot_dim / 2;
    const int items = p->is_neox ? half / N : p->rot_dim / (N == 1 ? 2 : N);
    const int heads = p->num_heads + (p->key ? p->num_kv_heads : 0);
    const int threads = static_cast<int>(std::min<int64_t>(512, fk::ceil_div(int64_t(heads) * items, 32) * 32));
    const dim3 grid(static_cast<unsigned>(p->tokens));
    T* q = static_cast<T*>(p->query);
    T* k = static_cast<T*>(p->key);
    if (p->is_neox)
        rotary_kernel<T, N, true><<<grid, threads, 0, stream>>>(p->positions, q, k, p->cos_sin_cache, p->status,
                                                                p->query_stride, p->key_stride, p->max_position,
                                                                p->num_heads, p->num_kv_heads, p->head_size, p->rot_dim);
    else
        rotary_kernel<T, N, false><<<grid, threads, 0, stream>>>(p->positions, q, k, p->cos_sin_cache, p->status,
                                                                 p->query_stride, p->key_stride, p->max_position,
                                                                 p->num_heads, p->num_kv_heads, p->head_size, p->rot_dim);
    return cudaGetLastError();
}

}  // namespace

FK_OP_LAUNCHER(rotary_embedding)(const fk_rotary_embedding_params* p, cudaStream_t stream) {
    FK_REQUIRE(p != nullptr && stream != nullptr);
    FK_REQUIRE(p->tokens >= 0 && p->num_heads > 0 && p->num_kv_heads >= 0 && p->head_size > 0);
    FK_REQUIRE(p->rot_dim > 0 && p->rot_dim % 2 == 0 && p->rot_dim <= p->head_size);
    FK_REQUIRE(p->query_stride >= int64_t(p->num_heads) * p->head_size);
    FK_REQUIRE(p->key == nullptr || p->key_stride >= int64_t(p->num_kv_heads) * p->head_size);
    FK_REQUIRE(p->max_position > 0 && p->tokens <= 0x7fffffffLL);
    cudaError_t e = fk::status_reset(p->status, stream);
    if (e != cudaSuccess) return e;
    if (p->tokens == 0) return cudaSuccess;
    FK_REQUIRE(p->positions != nullptr && p->query != nullptr && p->cos_sin_cache != nullptr);
    const int eb = fk::dtype_bytes(p->dtype);
    FK_REQUIRE(eb > 0);
    // Vector path: every access (head start, half offset, row stride) must stay 16-byte aligned.
    const int64_t vec_cols = p->is_neox ? p->rot_dim / 2 : p->rot_dim;
    const void* ptrs[2] = {p->query, p->key};
    const int64_t strides[3] = {p->query_stride, p->key ? p->key_stride : 0, p->head_size};
    const bool vec = fk::vec16_ok(vec_cols, eb, ptrs, 2, strides, 3);
    FK_DISPATCH_FLOAT(p->dtype, T, {
        constexpr int NV = fk::Vec16<T>::N;
        return vec ? launch<T, NV>(p, stream) : launch<T, 1>(p, stream);
    });
    return cudaErrorInvalidValue;
}
