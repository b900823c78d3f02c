// rope_2d baseline (L1). Contract: include/fk/ops/rope_2d.h.
// Mirrors HF DINOv3 (`DINOv3ViTRopePositionEmbedding` + `apply_rotary_pos_emb`) applied to q
// and k after the qkv projection. Any sm_80+ GPU. One block per patch token (the grid skips
// the CLS/register prefix, which is never rotated); its threads rotate every head of q and k
// with the NeoX rotation shared with rotary_embedding (fk/rotary.cuh), 16-byte vectors when
// head_dim/2 and the row strides allow. The cos/sin come from a per-resolution f32 cache
// [patches, head_dim] rather than being recomputed, as the 1D op does.
#include "fk/common.cuh"
#include "fk/ops/rope_2d.h"
#include "fk/rotary.cuh"

namespace {

template <typename T, int N>
__global__ void __launch_bounds__(512) rope_2d_kernel(T* __restrict__ query, T* __restrict__ key, const float* __restrict__ cache,
                                                      int64_t seq, int64_t prefix, int64_t q_stride, int64_t k_stride,
                                                      int heads, int kv_heads, int head_dim) {
    fk::pdl_grid_sync();
    const int64_t patches = seq - prefix;
    const int64_t image = blockIdx.x / patches, patch = blockIdx.x % patches;
    const int64_t t = image * seq + prefix + patch;
    const int half = head_dim / 2;
    const float* cos = cache + patch * head_dim;
    const float* sin = cos + half;
    const int items = half / N;
    const int all = heads + (key != nullptr ? kv_heads : 0);
    for (int w = threadIdx.x; w < all * items; w += blockDim.x) {
        const int h = w / items, item = w % items;
        T* head = h < heads ? query + t * q_stride + static_cast<int64_t>(h) * head_dim
                            : key + t * k_stride + static_cast<int64_t>(h - heads) * head_dim;
        fk::rotate_item<T, N, true>(head, cos, sin, half, item);
    }
}

template <typename T, int N>
cudaError_t launch(const fk_rope_2d_params* p, cudaStream_t stream) {
    const int all = p->heads + (p->key != nullptr ? p->kv_heads : 0);
    const int items = p->head_dim / 2 / N;
    const int threads = static_cast<int>(std::min<int64_t>(512, fk::ceil_div(int64_t(all) * items, 32) * 32));
    const int64_t blocks = p->tokens / p->seq * (p->seq - p->prefix);
    return fk::launch_pdl(rope_2d_kernel<T, N>, dim3(static_cast<unsigned>(blocks)), dim3(threads), 0, stream,
                          static_cast<T*>(p->query), static_cast<T*>(p->key), p->cos_sin_cache, p->seq, p->prefix,
                          p->query_stride, p->key_stride, p->heads, p->kv_heads, p->head_dim);
}

}  // namespace

FK_OP_LAUNCHER(rope_2d)(const fk_rope_2d_params* p, cudaStream_t stream) {
    FK_REQUIRE(p != nullptr && stream != nullptr);
    FK_REQUIRE(p->tokens >= 0 && p->prefix >= 0 && p->seq > p->prefix && p->tokens % p->seq == 0);
    FK_REQUIRE(p->heads > 0 && p->head_dim > 0 && p->head_dim % 2 == 0);
    FK_REQUIRE(p->query_stride >= int64_t{p->heads} * p->head_dim);
    FK_REQUIRE(p->key == nullptr || (p->kv_heads > 0 && p->key_stride >= int64_t{p->kv_heads} * p->head_dim));
    if (p->tokens == 0) return cudaSuccess;
    FK_REQUIRE(p->query != nullptr && p->cos_sin_cache != nullptr);
    FK_REQUIRE(p->tokens / p->seq * (p->seq - p->prefix) <= 0x7fffffffLL);
    const int eb = fk::dtype_bytes(p->dtype);
    FK_REQUIRE(eb > 0);
    // Vectors of both halves of a head: half, the head starts (head_dim) and the row strides
    // must all be whole vectors. The f32 cache is read element by element.
    const void* ptrs[2] = {p->query, p->key};
    const int64_t strides[3] = {p->query_stride, p->key != nullptr ? p->key_stride : 0, p->head_dim};
    const bool vec = fk::vec16_ok(p->head_dim / 2, eb, ptrs, 2, strides, 3);
    cudaError_t err = cudaSuccess;
    FK_DISPATCH_FLOAT(p->dtype, T, {
        constexpr int NV = fk::Vec16<T>::N;
        err = vec ? launch<T, NV>(p, stream) : launch<T, 1>(p, stream);
    });
    if (err != cudaSuccess) return err;
    return cudaGetLastError();
}
