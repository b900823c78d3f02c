// causal_conv1d_update baseline (L1). Contract: include/fk/ops/causal_conv1d_update.h.
// Mirrors Dao-AILab / vLLM `causal_conv1d_update` (decode, one token per sequence). Any sm_80+.
// Elementwise over (sequence, channel): a thread reads its W-1 state entries and one input,
// writes one output and the shifted state. Launched with PDL: in a decode step it sits
// between in_proj and the scan, and its runtime is mostly launch latency.
#include "fk/ops/causal_conv1d.h"
#include "fk/ops/causal_conv1d_update.h"
#include "fk/ssm.cuh"

namespace {

constexpr int kThreads = 128;

template <typename T, int W>
__global__ void __launch_bounds__(kThreads) update_kernel(T* __restrict__ out, const T* __restrict__ x, const T* __restrict__ weight,
                                                          const T* __restrict__ bias, T* __restrict__ state,
                                                          const int32_t* __restrict__ state_indices, int64_t dim,
                                                          int64_t x_stride, int64_t out_stride, bool silu) {
    fk::pdl_grid_sync();
    const int64_t c = static_cast<int64_t>(blockIdx.x) * kThreads + threadIdx.x;
    const int64_t b = blockIdx.y;
    const int64_t row = state_indices ? state_indices[b] : b;
    if (c >= dim || row < 0) return;
    const T xt = x[b * x_stride + c];
    const float acc = fk::conv_update_step<W - 1>(weight + c * W, state + (row * dim + c) * (W - 1), W - 1, xt, bias ? fk::to_float(bias[c]) : 0.f);
    out[b * out_stride + c] = fk::from_float<T>(silu ? fk::silu(acc) : acc);
}

template <typename T, int W>
cudaError_t launch(const fk_causal_conv1d_update_params* p, cudaStream_t stream) {
    const dim3 grid(static_cast<unsigned>(fk::ceil_div(p->dim, kThreads)), static_cast<unsigned>(p->batch));
    return fk::launch_pdl(update_kernel<T, W>, grid, dim3(kThreads), 0, stream, static_cast<T*>(p->out),
                          static_cast<const T*>(p->x), static_cast<const T*>(p->weight), static_cast<const T*>(p->bias),
                          static_cast<T*>(p->conv_state), p->state_indices, p->dim, p->x_stride, p->out_stride, p->silu != 0);
}

}  // namespace

FK_OP_LAUNCHER(causal_conv1d_update)(const fk_causal_conv1d_update_params* p, cudaStream_t stream) {
    FK_REQUIRE(p != nullptr && stream != nullptr);
    FK_REQUIRE(p->batch >= 0 && p->dim > 0 && p->x_stride >= p->dim && p->out_stride >= p->dim);
    FK_REQUIRE(p->width >= 2 && p->width <= FK_CAUSAL_CONV1D_MAX_WIDTH);
    if (p->batch == 0) return cudaSuccess;
    FK_REQUIRE(p->out != nullptr && p->x != nullptr && p->weight != nullptr && p->conv_state != nullptr);
    FK_REQUIRE(p->batch <= 65535 && fk::ceil_div(p->dim, kThreads) <= 0x7fffffffLL);
    FK_REQUIRE(p->state_indices ? p->state_rows >= 1 : p->state_rows == p->batch);
    cudaError_t e = cudaErrorInvalidValue;
    FK_DISPATCH_FLOAT(p->dtype, T, {
        switch (p->width) {
            case 2: e = launch<T, 2>(p, stream); break;
            case 3: e = launch<T, 3>(p, stream); break;
            default: e = launch<T, 4>(p, stream); break;
        }
    });
    if (e != cudaSuccess) return e;
    return cudaGetLastError();
}
