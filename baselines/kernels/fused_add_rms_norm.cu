// fused_add_rms_norm baseline (L1). Contract: include/fk/ops/fused_add_rms_norm.h.
// Mirrors vLLM `fused_add_rms_norm` (RMSNorm with residual, in place). Any sm_80+ GPU.
// One pass: read x and residual once, write the new residual and the normalised x once.
#include "fk/ops/fused_add_rms_norm.h"
#include "fk/rownorm.cuh"
#include "fk/ops/rms_norm.h"

namespace {

template <typename T, int N, int VPT, bool WARP_PER_ROW>
__global__ void __launch_bounds__(fk::kRowNormMaxThreads) fused_add_rms_norm_kernel(T* __restrict__ input, T* __restrict__ residual,
                                                                   const T* __restrict__ weight, int64_t rows,
                                                                   int64_t hidden, int64_t in_stride,
                                                                   int64_t res_stride, float eps) {
    fk::pdl_grid_sync();
    using P = fk::Packed<T, N>;
    const fk::RowGroup<WARP_PER_ROW> g;
    const int64_t row = g.row();
    if (WARP_PER_ROW && row >= rows) return;
    const int nvec = static_cast<int>(hidden / N);
    P* x = reinterpret_cast<P*>(input + row * in_stride);
    P* r = reinterpret_cast<P*>(residual + row * res_stride);

    P v[VPT];  // the new residual, kept in registers in its storage type
    float sumsq = 0.f;
#pragma unroll
    for (int j = 0; j < VPT; ++j) {
        const int i = g.lane() + j * g.size();
        if (i < nvec) {
            const P a = x[i], b = r[i];
            P s;
#pragma unroll
            for (int k = 0; k < N; ++k) {
                // The sum is materialised in T (it is the new residual), and the norm is
                // taken of that rounded value, exactly as the PyTorch module does.
                s.v[k] = fk::add_round(a.v[k], b.v[k]);
                const float f = fk::to_float(s.v[k]);
                sumsq += f * f;
            }
            r[i] = s;
            v[j] = s;
        }
    }
    sumsq = g.sum(sumsq);
    const float rstd = rsqrtf(sumsq / static_cast<float>(hidden) + eps);

    const P* w = reinterpret_cast<const P*>(weight);
#pragma unroll
    for (int j = 0; j < VPT; ++j) {
        const int i = g.lane() + j * g.size();
        if (i < nvec) {
            const P wv = w[i];
            P o;
#pragma unroll
            for (int k = 0; k < N; ++k)
                o.v[k] = fk::from_float<T>(fk::round_to<T>(fk::to_float(v[j].v[k]) * rstd) * fk::to_float(wv.v[k]));
            x[i] = o;
        }
    }
}

}  // namespace

FK_OP_LAUNCHER(fused_add_rms_norm)(const fk_fused_add_rms_norm_params* p, cudaStream_t stream) {
    FK_REQUIRE(p != nullptr && stream != nullptr);
    FK_REQUIRE(p->rows >= 0 && p->hidden > 0 && p->input_stride >= p->hidden && p->residual_stride >= p->hidden);
    FK_REQUIRE(p->eps >= 0.f);
    if (p->rows == 0) return cudaSuccess;
    FK_REQUIRE(p->input != nullptr && p->residual != nullptr && p->weight != nullptr);
    const int eb = fk::dtype_bytes(p->dtype);
    FK_REQUIRE(eb > 0 && p->hidden * eb <= FK_RMS_NORM_MAX_HIDDEN_BYTES);
    const void* ptrs[3] = {p->input, p->residual, p->weight};
    const int64_t strides[2] = {p->input_stride, p->residual_stride};
    const bool vec = fk::vec16_ok(p->hidden, eb, ptrs, 3, strides, 2);
    FK_DISPATCH_FLOAT(p->dtype, T, {
        constexpr int NV = fk::Vec16<T>::N;
        fk::RowNormLaunch cfg;
        FK_REQUIRE(fk::rownorm_config(vec ? p->hidden / NV : p->hidden, p->rows, &cfg));
        FK_REQUIRE(cfg.blocks <= 0x7fffffffLL);
        T* in = static_cast<T*>(p->input);
        T* res = static_cast<T*>(p->residual);
        const T* w = static_cast<const T*>(p->weight);
        if (vec)
            FK_ROWNORM_LAUNCH_PDL(cfg, T, NV, fused_add_rms_norm_kernel, stream, in, res, w, p->rows, p->hidden,
                              p->input_stride, p->residual_stride, p->eps);
        else
            FK_ROWNORM_LAUNCH_PDL(cfg, T, 1, fused_add_rms_norm_kernel, stream, in, res, w, p->rows, p->hidden,
                              p->input_stride, p->residual_stride, p->eps);
    });
    return cudaGetLastError();
}
