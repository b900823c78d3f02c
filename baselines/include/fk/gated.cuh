// Driver for gated elementwise ops out[r, i] = act(in[r, i]) * in[r, d + i]
// (silu_and_mul, gelu_and_mul, ...). Grid: x = rows, y = column chunks of 256 packed
// vectors; each thread does one 16-byte gate load, one up load and one store.
#pragma once
#include "fk/common.cuh"
#include "fk/ops/act_and_mul.h"

namespace fk {

template <typename T, int N, typename Act>
__global__ void __launch_bounds__(256) gated_kernel(T* __restrict__ out, const T* __restrict__ in, int64_t d,
                                                     int64_t in_stride, int64_t out_stride, Act act) {
    pdl_grid_sync();  // launched with launch_pdl
    using P = Packed<T, N>;
    const int64_t row = blockIdx.x;
    const int64_t v = static_cast<int64_t>(blockIdx.y) * blockDim.x + threadIdx.x;
    if (v * N >= d) return;
    const T* row_in = in + row * in_stride;
    const P g = *reinterpret_cast<const P*>(row_in + v * N);
    const P u = *reinterpret_cast<const P*>(row_in + d + v * N);
    P o;
#pragma unroll
    for (int k = 0; k < N; ++k) o.v[k] = from_float<T>(act(to_float(g.v[k])) * to_float(u.v[k]));
    *reinterpret_cast<P*>(out + row * out_stride + v * N) = o;
}

template <typename Act>
__host__ inline cudaError_t gated_launch(const fk_act_and_mul_params* p, cudaStream_t stream, Act act) {
    FK_REQUIRE(p != nullptr && stream != nullptr);
    FK_REQUIRE(p->rows >= 0 && p->d > 0 && p->input_stride >= 2 * p->d && p->out_stride >= p->d);
    if (p->rows == 0) return cudaSuccess;
    FK_REQUIRE(p->out != nullptr && p->input != nullptr);
    FK_REQUIRE(p->rows <= 0x7fffffffLL);
    const int eb = dtype_bytes(p->dtype);
    FK_REQUIRE(eb > 0);
    const void* ptrs[2] = {p->out, p->input};
    const int64_t strides[2] = {p->input_stride, p->out_stride};
    const bool vec = vec16_ok(p->d, eb, ptrs, 2, strides, 2);
    FK_DISPATCH_FLOAT(p->dtype, T, {
        constexpr int NV = Vec16<T>::N;
        const int n = vec ? NV : 1;
        const int64_t chunks = ceil_div(ceil_div(p->d, n), 256);
        FK_REQUIRE(chunks <= 65535);
        const dim3 grid(static_cast<unsigned>(p->rows), static_cast<unsigned>(chunks));
        if (vec)
            (void)launch_pdl(gated_kernel<T, NV, decltype(act)>, grid, dim3(256), 0, stream, static_cast<T*>(p->out), static_cast<const T*>(p->input),
                             p->d, p->input_stride, p->out_stride, act);
        else
            (void)launch_pdl(gated_kernel<T, 1, decltype(act)>, grid, dim3(256), 0, stream, static_cast<T*>(p->out), static_cast<const T*>(p->input),
                             p->d, p->input_stride, p->out_stride, act);
    });
    return cudaGetLastError();
}

}  // namespace fk
