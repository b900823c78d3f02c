// pool baseline (L1). Contract: include/fk/ops/pool.h.
// Mirrors sentence-transformers `Pooling(mean)` / CLS pooling and `Normalize()` (BERT, XLM-R,
// BGE, E5 embedders). Any sm_80+ GPU. One block per sequence: its threads own 16-byte column
// vectors and walk the real tokens, so every load is a coalesced row segment and the sum stays
// in fp32 registers. With normalize the pooled row is staged in shared memory (fp32, never
// rounded in between) until the block has reduced its norm.
#include "fk/common.cuh"
#include "fk/ops/pool.h"

namespace {

constexpr int kThreads = 256;

__device__ __forceinline__ bool is_real(const void* mask, bool mask64, int64_t i) {
    if (mask == nullptr) return true;
    return mask64 ? static_cast<const int64_t*>(mask)[i] != 0 : static_cast<const int32_t*>(mask)[i] != 0;
}

template <typename T, int N>
__global__ void __launch_bounds__(kThreads) pool_kernel(T* __restrict__ out, const T* __restrict__ in, const void* __restrict__ mask,
                                                        bool mask64, int64_t seq, int hidden, int64_t out_stride, int mode,
                                                        bool normalize) {
    fk::pdl_grid_sync();
    extern __shared__ float staged[];  // [hidden], only with normalize
    using P = fk::Packed<T, N>;
    const int64_t b = blockIdx.x;
    const T* x = in + b * seq * hidden;
    const int64_t tokens = mode == FK_POOL_CLS ? 1 : seq;

    float inv_n = 1.f;
    if (mode == FK_POOL_MEAN) {
        float n = 0.f;
        for (int64_t t = threadIdx.x; t < seq; t += blockDim.x) n += is_real(mask, mask64, b * seq + t) ? 1.f : 0.f;
        n = fk::block_sum(n);
        inv_n = 1.f / fmaxf(n, 1e-9f);  // no real token: the sum is 0 and so is the mean
        __syncthreads();                 // block_sum's partials are reused below
    }

    float sumsq = 0.f;
    T* y = out + b * out_stride;
    for (int c = threadIdx.x * N; c < hidden; c += blockDim.x * N) {
        float acc[N] = {};
        for (int64_t t = 0; t < tokens; ++t) {
            if (mode == FK_POOL_MEAN && !is_real(mask, mask64, b * seq + t)) continue;
            const P v = *reinterpret_cast<const P*>(x + t * hidden + c);
#pragma unroll
            for (int k = 0; k < N; ++k) acc[k] += fk::to_float(v.v[k]);
        }
        P o;
#pragma unroll
        for (int k = 0; k < N; ++k) {
            const float m = acc[k] * inv_n;
            if (normalize) {
                staged[c + k] = m;
                sumsq += m * m;
            }
            o.v[k] = fk::from_float<T>(m);
        }
        if (!normalize) *reinterpret_cast<P*>(y + c) = o;
    }
    if (!normalize) return;
    // F.normalize: x / max(||x||, eps). Each thread rescales the columns it staged itself,
    // so no barrier is needed between the staging and the reads below (block_sum has one).
    const float inv_norm = 1.f / fmaxf(sqrtf(fk::block_sum(sumsq)), 1e-12f);
    for (int c = threadIdx.x * N; c < hidden; c += blockDim.x * N) {
        P o;
#pragma unroll
        for (int k = 0; k < N; ++k) o.v[k] = fk::from_float<T>(staged[c + k] * inv_norm);
        *reinterpret_cast<P*>(y + c) = o;
    }
}

template <typename T, int N>
cudaError_t launch(const fk_pool_params* p, cudaStream_t stream) {
    const size_t smem = p->normalize ? static_cast<size_t>(p->hidden) * sizeof(float) : 0;
    return fk::launch_pdl(pool_kernel<T, N>, dim3(static_cast<unsigned>(p->batch)), dim3(kThreads), smem, stream,
                          static_cast<T*>(p->out), static_cast<const T*>(p->input), p->mask, p->mask_dtype == FK_DTYPE_I64,
                          p->seq, static_cast<int>(p->hidden), p->out_stride, static_cast<int>(p->mode), p->normalize != 0);
}

}  // namespace

FK_OP_LAUNCHER(pool)(const fk_pool_params* p, cudaStream_t stream) {
    FK_REQUIRE(p != nullptr && stream != nullptr);
    FK_REQUIRE(p->batch >= 0 && p->seq > 0 && p->hidden > 0 && p->out_stride >= p->hidden);
    FK_REQUIRE(p->mode == FK_POOL_MEAN || p->mode == FK_POOL_CLS);
    FK_REQUIRE(p->normalize == 0 || p->normalize == 1);
    FK_REQUIRE(p->mask == nullptr || p->mask_dtype == FK_DTYPE_I32 || p->mask_dtype == FK_DTYPE_I64);
    FK_REQUIRE(p->hidden <= FK_POOL_MAX_HIDDEN && p->batch <= 0x7fffffffLL);
    if (p->batch == 0) return cudaSuccess;
    FK_REQUIRE(p->out != nullptr && p->input != nullptr);
    const int eb = fk::dtype_bytes(p->dtype);
    FK_REQUIRE(eb > 0);
    const void* ptrs[2] = {p->out, p->input};
    const int64_t strides[1] = {p->out_stride};
    const bool vec = fk::vec16_ok(p->hidden, eb, ptrs, 2, strides, 1);
    cudaError_t err = cudaSuccess;
    FK_DISPATCH_FLOAT(p->dtype, T, {
        constexpr int NV = fk::Vec16<T>::N;
        err = vec ? launch<T, NV>(p, stream) : launch<T, 1>(p, stream);
    });
    if (err != cudaSuccess) return err;
    return cudaGetLastError();
}
