// embedding baseline (L1). Contract: include/fk/ops/embedding.h.
// Mirrors HF `nn.Embedding` / vLLM `VocabParallelEmbedding` (tp=1). Any sm_80+ GPU.
// A gather of rows: grid x = tokens, y = chunks of 256 packed 16-byte vectors.
// Out-of-range ids write a zero row and are reported through fk_status, never read.
#include "fk/common.cuh"
#include "fk/ops/embedding.h"

namespace {

template <typename T, int N, typename Id>
__global__ void __launch_bounds__(256) embedding_kernel(T* __restrict__ out, const Id* __restrict__ ids,
                                                         const T* __restrict__ weight, fk_status* status,
                                                         int64_t hidden, int64_t vocab, int64_t out_stride) {
    using P = fk::Packed<T, N>;
    const int64_t t = blockIdx.x;
    const int64_t v = static_cast<int64_t>(blockIdx.y) * blockDim.x + threadIdx.x;
    const int64_t id = static_cast<int64_t>(ids[t]);
    const bool ok = id >= 0 && id < vocab;
    if (!ok && blockIdx.y == 0 && threadIdx.x == 0) fk::status_report(status, t);
    if (v * N >= hidden) return;
    P val;
    if (ok) {
        val = *reinterpret_cast<const P*>(weight + id * hidden + v * N);
    } else {
#pragma unroll
        for (int k = 0; k < N; ++k) val.v[k] = fk::from_float<T>(0.f);
    }
    *reinterpret_cast<P*>(out + t * out_stride + v * N) = val;
}

template <typename T, int N>
cudaError_t launch(const fk_embedding_params* p, cudaStream_t stream) {
    const int64_t chunks = fk::ceil_div(fk::ceil_div(p->hidden, N), 256);
    FK_REQUIRE(chunks <= 65535);
    const dim3 grid(static_cast<unsigned>(p->tokens), static_cast<unsigned>(chunks));
    T* out = static_cast<T*>(p->out);
    const T* w = static_cast<const T*>(p->weight);
    if (p->ids_dtype == FK_DTYPE_I64)
        embedding_kernel<T, N, int64_t><<<grid, 256, 0, stream>>>(out, static_cast<const int64_t*>(p->ids), w,
                                                                  p->status, p->hidden, p->vocab, p->out_stride);
    else
        embedding_kernel<T, N, int32_t><<<grid, 256, 0, stream>>>(out, static_cast<const int32_t*>(p->ids), w,
                                                                  p->status, p->hidden, p->vocab, p->out_stride);
    return cudaGetLastError();
}

}  // namespace

FK_OP_LAUNCHER(embedding)(const fk_embedding_params* p, cudaStream_t stream) {
    FK_REQUIRE(p != nullptr && stream != nullptr && p->status != nullptr);
    FK_REQUIRE(p->tokens >= 0 && p->hidden > 0 && p->vocab > 0 && p->out_stride >= p->hidden);
    FK_REQUIRE(p->ids_dtype == FK_DTYPE_I32 || p->ids_dtype == FK_DTYPE_I64);
    FK_REQUIRE(p->tokens <= 0x7fffffffLL);
    cudaError_t e = fk::status_reset(p->status, stream);
    if (e != cudaSuccess) return e;
    if (p->tokens == 0) return cudaSuccess;
    FK_REQUIRE(p->out != nullptr && p->ids != nullptr && p->weight != nullptr);
    const int eb = fk::dtype_bytes(p->dtype);
    FK_REQUIRE(eb > 0);
    const void* ptrs[2] = {p->out, p->weight};
    const int64_t strides[2] = {p->out_stride, p->hidden};
    const bool vec = fk::vec16_ok(p->hidden, eb, ptrs, 2, strides, 2);
    FK_DISPATCH_FLOAT(p->dtype, T, {
        constexpr int NV = fk::Vec16<T>::N;
        return vec ? launch<T, NV>(p, stream) : launch<T, 1>(p, stream);
    });
    return cudaErrorInvalidValue;
}
