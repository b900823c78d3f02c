// rms_norm baseline (L1). Contract: include/fk/ops/rms_norm.h.
// Mirrors vLLM `RMSNorm.forward_cuda` / HF `LlamaRMSNorm`. Any sm_80+ GPU.
// One pass over memory: each row is loaded once into registers as 16-byte vectors,
// reduced in fp32 (warp shuffles, then one shared-memory step), scaled and stored.
#include "fk/ops/rms_norm.h"
#include "fk/rownorm.cuh"

namespace {

template <typename T, int N, int VPT, bool WARP_PER_ROW>
__global__ void __launch_bounds__(fk::kRowNormMaxThreads) rms_norm_kernel(T* __restrict__ out, const T* __restrict__ in,
                                                         const T* __restrict__ weight, int64_t rows,
                                                         int64_t hidden, int64_t in_stride, int64_t out_stride,
                                                         float eps) {
    fk::pdl_grid_sync();
    using P = fk::Packed<T, N>;
    const fk::RowGroup<WARP_PER_ROW> g;
    const int64_t row = g.row();
    // Warp mode: a whole warp shares the row, so leaving early never splits a reduction.
    if (WARP_PER_ROW && row >= rows) return;
    const int nvec = static_cast<int>(hidden / N);
    const P* x = reinterpret_cast<const P*>(in + row * in_stride);

    // The row stays in registers in its storage type (half the registers of fp32 for
    // 16-bit types, which keeps the 8-vectors-per-thread variant free of spills).
    P v[VPT];
    float sumsq = 0.f;
#pragma unroll
    for (int j = 0; j < VPT; ++j) {
        const int i = g.lane() + j * g.size();
        if (i < nvec) {
            v[j] = x[i];
#pragma unroll
            for (int k = 0; k < N; ++k) {
                const float f = fk::to_float(v[j].v[k]);
                sumsq += f * f;
            }
        }
    }
    sumsq = g.sum(sumsq);
    const float rstd = rsqrtf(sumsq / static_cast<float>(hidden) + eps);

    const P* w = reinterpret_cast<const P*>(weight);
    P* y = reinterpret_cast<P*>(out + row * out_stride);
#pragma unroll
    for (int j = 0; j < VPT; ++j) {
        const int i = g.lane() + j * g.size();
        if (i < nvec) {
            const P wv = w[i];
            P o;
#pragma unroll
            for (int k = 0; k < N; ++k)
                o.v[k] = fk::from_float<T>(fk::round_to<T>(fk::to_float(v[j].v[k]) * rstd) * fk::to_float(wv.v[k]));
            y[i] = o;
        }
    }
}

}  // namespace

FK_OP_LAUNCHER(rms_norm)(const fk_rms_norm_params* p, cudaStream_t stream) {
    FK_REQUIRE(p != nullptr && stream != nullptr);
    FK_REQUIRE(p->rows >= 0 && p->hidden > 0 && p->input_stride >= p->hidden && p->out_stride >= p->hidden);
    FK_REQUIRE(p->eps >= 0.f);
    if (p->rows == 0) return cudaSuccess;
    FK_REQUIRE(p->out != nullptr && p->input != nullptr && p->weight != nullptr);
    const int eb = fk::dtype_bytes(p->dtype);
    FK_REQUIRE(eb > 0 && p->hidden * eb <= FK_RMS_NORM_MAX_HIDDEN_BYTES);
    const void* ptrs[3] = {p->out, p->input, p->weight};
    const int64_t strides[2] = {p->input_stride, p->out_stride};
    const bool vec = fk::vec16_ok(p->hidden, eb, ptrs, 3, strides, 2);
    FK_DISPATCH_FLOAT(p->dtype, T, {
        constexpr int NV = fk::Vec16<T>::N;
        fk::RowNormLaunch cfg;
        FK_REQUIRE(fk::rownorm_config(vec ? p->hidden / NV : p->hidden, p->rows, &cfg));
        FK_REQUIRE(cfg.blocks <= 0x7fffffffLL);
        T* out = static_cast<T*>(p->out);
        const T* in = static_cast<const T*>(p->input);
        const T* w = static_cast<const T*>(p->weight);
        if (vec)
            FK_ROWNORM_LAUNCH_PDL(cfg, T, NV, rms_norm_kernel, stream, out, in, w, p->rows, p->hidden, p->input_stride,
                              p->out_stride, p->eps);
        else
            FK_ROWNORM_LAUNCH_PDL(cfg, T, 1, rms_norm_kernel, stream, out, in, w, p->rows, p->hidden, p->input_stride,
                              p->out_stride, p->eps);
    });
    return cudaGetLastError();
}
