// layer_norm baseline (L1). Contract: include/fk/ops/layer_norm.h.
// Mirrors `nn.LayerNorm` (PyTorch's CUDA kernel: fp32 statistics, one rounding at the output),
// optionally fused with the preceding residual add as vLLM fuses it for RMSNorm. Any sm_80+.
// One pass over memory: the row is loaded once into registers as 16-byte vectors (the work
// split of fk/rownorm.cuh), the mean and then the variance of the deviations are reduced from
// registers (two-pass: no cancellation when |mean| >> std, which E[x^2] - mean^2 would suffer).
#include "fk/ops/layer_norm.h"
#include "fk/rownorm.cuh"

namespace {

template <typename T, int N, int VPT, bool WARP_PER_ROW>
__global__ void __launch_bounds__(fk::kRowNormMaxThreads)
    layer_norm_kernel(T* out, const T* in, T* __restrict__ residual, const T* __restrict__ weight,
                      const T* __restrict__ bias, int64_t rows, int64_t hidden, int64_t in_stride, int64_t out_stride,
                      int64_t res_stride, float eps) {
    // `out` and `in` are not __restrict__: out == in is allowed (each row is fully in
    // registers before any of it is stored).
    fk::pdl_grid_sync();
    using P = fk::Packed<T, N>;
    const fk::RowGroup<WARP_PER_ROW> g;
    const int64_t row = g.row();
    // Warp mode: a whole warp shares the row, so leaving early never splits a reduction.
    if (WARP_PER_ROW && row >= rows) return;
    const int nvec = static_cast<int>(hidden / N);
    const P* x = reinterpret_cast<const P*>(in + row * in_stride);
    P* r = residual != nullptr ? reinterpret_cast<P*>(residual + row * res_stride) : nullptr;

    P v[VPT];  // the row (the new residual when fused), in its storage type
    float sum = 0.f;
#pragma unroll
    for (int j = 0; j < VPT; ++j) {
        const int i = g.lane() + j * g.size();
        if (i < nvec) {
            v[j] = x[i];
            if (r != nullptr) {
                const P b = r[i];
                // The sum is materialised in T (it is the new residual) and normalised as
                // rounded, exactly as `hidden = hidden + attn_out; ln(hidden)` does.
#pragma unroll
                for (int k = 0; k < N; ++k) v[j].v[k] = fk::add_round(v[j].v[k], b.v[k]);
                r[i] = v[j];
            }
#pragma unroll
            for (int k = 0; k < N; ++k) sum += fk::to_float(v[j].v[k]);
        }
    }
    const float inv_h = 1.f / static_cast<float>(hidden);
    const float mean = g.sum(sum) * inv_h;
    float sq = 0.f;
#pragma unroll
    for (int j = 0; j < VPT; ++j) {
        const int i = g.lane() + j * g.size();
        if (i < nvec) {
#pragma unroll
            for (int k = 0; k < N; ++k) {
                const float d = fk::to_float(v[j].v[k]) - mean;
                sq += d * d;
            }
        }
    }
    const float rstd = rsqrtf(g.sum_again(sq) * inv_h + eps);

    const P* w = reinterpret_cast<const P*>(weight);
    const P* b = reinterpret_cast<const P*>(bias);
    P* y = reinterpret_cast<P*>(out + row * out_stride);
#pragma unroll
    for (int j = 0; j < VPT; ++j) {
        const int i = g.lane() + j * g.size();
        if (i < nvec) {
            const P wv = w[i];
            P bv;
            if (b != nullptr) bv = b[i];
            P o;
#pragma unroll
            for (int k = 0; k < N; ++k) {
                float f = (fk::to_float(v[j].v[k]) - mean) * rstd * fk::to_float(wv.v[k]);
                if (b != nullptr) f += fk::to_float(bv.v[k]);
                o.v[k] = fk::from_float<T>(f);
            }
            y[i] = o;
        }
    }
}

}  // namespace

FK_OP_LAUNCHER(layer_norm)(const fk_layer_norm_params* p, cudaStream_t stream) {
    FK_REQUIRE(p != nullptr && stream != nullptr);
    FK_REQUIRE(p->rows >= 0 && p->hidden > 0 && p->input_stride >= p->hidden && p->out_stride >= p->hidden);
    FK_REQUIRE(p->residual == nullptr || p->residual_stride >= p->hidden);
    FK_REQUIRE(p->eps >= 0.f);
    if (p->rows == 0) return cudaSuccess;
    FK_REQUIRE(p->out != nullptr && p->input != nullptr && p->weight != nullptr);
    const int eb = fk::dtype_bytes(p->dtype);
    FK_REQUIRE(eb > 0 && p->hidden * eb <= FK_LAYER_NORM_MAX_HIDDEN_BYTES);
    const void* ptrs[5] = {p->out, p->input, p->weight, p->bias, p->residual};  // NULLs pass
    const int64_t strides[3] = {p->input_stride, p->out_stride, p->residual != nullptr ? p->residual_stride : 0};
    const bool vec = fk::vec16_ok(p->hidden, eb, ptrs, 5, strides, 3);
    FK_DISPATCH_FLOAT(p->dtype, T, {
        constexpr int NV = fk::Vec16<T>::N;
        fk::RowNormLaunch cfg;
        FK_REQUIRE(fk::rownorm_config(vec ? p->hidden / NV : p->hidden, p->rows, &cfg));
        FK_REQUIRE(cfg.blocks <= 0x7fffffffLL);
        T* out = static_cast<T*>(p->out);
        const T* in = static_cast<const T*>(p->input);
        T* res = static_cast<T*>(p->residual);
        const T* w = static_cast<const T*>(p->weight);
        const T* b = static_cast<const T*>(p->bias);
        if (vec)
            FK_ROWNORM_LAUNCH_PDL(cfg, T, NV, layer_norm_kernel, stream, out, in, res, w, b, p->rows, p->hidden,
                                  p->input_stride, p->out_stride, p->residual_stride, p->eps);
        else
            FK_ROWNORM_LAUNCH_PDL(cfg, T, 1, layer_norm_kernel, stream, out, in, res, w, b, p->rows, p->hidden,
                                  p->input_stride, p->out_stride, p->residual_stride, p->eps);
    });
    return cudaGetLastError();
}
