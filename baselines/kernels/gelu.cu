// gelu baseline (L1). Contract: include/fk/ops/gelu.h.
// Mirrors `nn.GELU()` / `nn.GELU(approximate="tanh")` / HF `quick_gelu` (encoder MLPs: BERT,
// ViT, SigLIP, CLIP, DINOv3). Any sm_80+ GPU. Memory-bound: each thread moves 16-byte
// vectors in a grid-stride loop; a ragged tail (n not a multiple of the vector) is done by
// the first threads of the grid element by element.
#include "fk/activation.cuh"
#include "fk/ops/gelu.h"

namespace {

template <typename T, int N, typename Act>
__global__ void __launch_bounds__(256) gelu_kernel(T* out, const T* in, int64_t n, Act act) {
    // out == in is allowed (in place): each element is read before it is written by the
    // same thread, so no __restrict__.
    fk::pdl_grid_sync();
    using P = fk::Packed<T, N>;
    const int64_t nvec = n / N;
    const int64_t tid = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
    const int64_t step = static_cast<int64_t>(gridDim.x) * blockDim.x;
    for (int64_t i = tid; i < nvec; i += step) {
        P v = reinterpret_cast<const P*>(in)[i];
#pragma unroll
        for (int k = 0; k < N; ++k) v.v[k] = fk::from_float<T>(act(fk::to_float(v.v[k])));
        reinterpret_cast<P*>(out)[i] = v;
    }
    const int64_t tail = nvec * N + tid;
    if (tail < n) out[tail] = fk::from_float<T>(act(fk::to_float(in[tail])));
}

template <typename T, int N, typename Act>
cudaError_t launch(const fk_gelu_params* p, cudaStream_t stream, Act act) {
    // Enough blocks to fill an H100/H200 several times over (132 SMs x 8 blocks of 256);
    // more only adds scheduling work for a grid-stride loop.
    const int64_t work = std::max<int64_t>(p->n / N, 1);
    const int64_t blocks = std::min<int64_t>(fk::ceil_div(work, 256), 132 * 8);
    return fk::launch_pdl(gelu_kernel<T, N, Act>, dim3(static_cast<unsigned>(blocks)), dim3(256), 0, stream,
                          static_cast<T*>(p->out), static_cast<const T*>(p->input), p->n, act);
}

template <typename T, int N>
cudaError_t launch_mode(const fk_gelu_params* p, cudaStream_t stream) {
    switch (p->mode) {
        case FK_GELU_ERF: return launch<T, N>(p, stream, fk::GeluErf{});
        case FK_GELU_TANH: return launch<T, N>(p, stream, fk::GeluTanh{});
        default: return launch<T, N>(p, stream, fk::QuickGelu{});
    }
}

}  // namespace

FK_OP_LAUNCHER(gelu)(const fk_gelu_params* p, cudaStream_t stream) {
    FK_REQUIRE(p != nullptr && stream != nullptr);
    FK_REQUIRE(p->n >= 0);
    FK_REQUIRE(p->mode == FK_GELU_ERF || p->mode == FK_GELU_TANH || p->mode == FK_GELU_QUICK);
    if (p->n == 0) return cudaSuccess;
    FK_REQUIRE(p->out != nullptr && p->input != nullptr);
    const int eb = fk::dtype_bytes(p->dtype);
    FK_REQUIRE(eb > 0);
    const void* ptrs[2] = {p->out, p->input};
    // Only the base addresses matter for a flat array; the tail path handles any n.
    const bool vec = fk::vec16_ok(16 / eb, eb, ptrs, 2, nullptr, 0);
    cudaError_t err = cudaSuccess;
    FK_DISPATCH_FLOAT(p->dtype, T, {
        constexpr int NV = fk::Vec16<T>::N;
        err = vec ? launch_mode<T, NV>(p, stream) : launch_mode<T, 1>(p, stream);
    });
    if (err != cudaSuccess) return err;
    return cudaGetLastError();
}
