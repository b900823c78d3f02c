// interpolate_pos_embed baseline (L1). Contract: include/fk/ops/interpolate_pos_embed.h.
// Mirrors `F.interpolate(pos_embed_grid, size=..., align_corners=False)` as HF ViT/SigLIP
// (bicubic) and SigLIP-2 (bilinear, antialias=True) call it on their position embeddings.
// Any sm_80+ GPU. Runs once per new resolution, so it favours exactness over speed: the
// per-axis taps are recomputed by every thread in fp64 (scales in/out come from the host), the sum is fp64, rounded once.
// One thread per output element; channels are the fastest index, so a warp reads and writes
// contiguous channels of one grid position (the token-major layout avoids HF's permutes).
#include "fk/common.cuh"
#include "fk/ops/interpolate_pos_embed.h"

namespace {

// PyTorch's cubic convolution with A = -0.75 (Keys), taps at idx-1 .. idx+2 clamped to the
// border; source coordinate scale (i + 0.5) - 0.5 (not clamped for cubic), its integer part
// capped at in-1 and the fraction clamped to [0, 1] (`guard_index_and_lambda`).
struct CubicAxis {
    int base, in;
    double w[4];
    __device__ __forceinline__ CubicAxis(int i, int in_size, double scale) : in(in_size) {
        const double real = scale * (i + 0.5) - 0.5;
        const int64_t idx = min(static_cast<int64_t>(floor(real)), static_cast<int64_t>(in_size - 1));
        const double t = fmin(fmax(real - static_cast<double>(idx), 0.0), 1.0);
        const double A = -0.75;
        auto near = [&](double x) { return ((A + 2.0) * x - (A + 3.0)) * x * x + 1.0; };
        auto far = [&](double x) { return ((A * x - 5.0 * A) * x + 8.0 * A) * x - 4.0 * A; };
        w[0] = far(t + 1.0);
        w[1] = near(t);
        w[2] = near(1.0 - t);
        w[3] = far(2.0 - t);
        base = static_cast<int>(idx) - 1;
    }
    __device__ int count() const { return 4; }
    __device__ int index(int j) const { return min(max(base + j, 0), in - 1); }
    __device__ __forceinline__ double weight(int j) const { return w[j]; }
    __device__ __forceinline__ double total() const { return 1.0; }  // Keys' weights sum to 1
};

// Antialiased bilinear (PyTorch `_upsample_bilinear2d_aa`, triangle filter): the support is
// 1 input pixel, widened by the scale when shrinking; taps [lo, hi) with lo/hi truncated
// toward zero as the C++ int64_t cast does; weights normalised to sum to 1 (by the kernel,
// once per output: a division per tap would be slower and no more exact).
struct AntialiasAxis {
    int lo, n;
    double center, invscale, sum;
    __device__ __forceinline__ AntialiasAxis(int i, int in_size, double scale) {
        const double support = scale >= 1.0 ? scale : 1.0;
        // in/out >= 1, so out/in is 1/scale; exact division rather than a reciprocal.
        invscale = scale >= 1.0 ? 1.0 / scale : 1.0;
        center = scale * (i + 0.5);
        lo = static_cast<int>(max(static_cast<int64_t>(center - support + 0.5), int64_t{0}));
        const int hi = static_cast<int>(max(min(static_cast<int64_t>(center + support + 0.5), static_cast<int64_t>(in_size)), static_cast<int64_t>(lo)));
        n = hi - lo;
        sum = 0.0;
        for (int j = 0; j < n; ++j) sum += weight(j);
    }
    __device__ int count() const { return n; }
    __device__ int index(int j) const { return lo + j; }
    // Unnormalised: the kernel divides the whole sum by total() once.
    __device__ __forceinline__ double weight(int j) const { return fmax(0.0, 1.0 - fabs((lo + j - center + 0.5) * invscale)); }
    __device__ __forceinline__ double total() const { return sum != 0.0 ? sum : 1.0; }
};

template <typename T, typename Axis>
__global__ void __launch_bounds__(256) interp_kernel(T* __restrict__ out, const T* __restrict__ in, int64_t channels, int in_h,
                                                     int in_w, int out_h, int out_w, double scale_h, double scale_w) {
    fk::pdl_grid_sync();
    const int64_t total = static_cast<int64_t>(out_h) * out_w * channels;
    const int64_t step = static_cast<int64_t>(gridDim.x) * blockDim.x;
    for (int64_t e = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; e < total; e += step) {
        const int64_t c = e % channels, pos = e / channels;
        const int oy = static_cast<int>(pos / out_w), ox = static_cast<int>(pos % out_w);
        const Axis ay(oy, in_h, scale_h), ax(ox, in_w, scale_w);
        double acc = 0.0;
        for (int j = 0; j < ay.count(); ++j) {
            const int64_t row = static_cast<int64_t>(ay.index(j)) * in_w;
            double racc = 0.0;
            for (int i = 0; i < ax.count(); ++i)
                racc += ax.weight(i) * static_cast<double>(fk::to_float(in[(row + ax.index(i)) * channels + c]));
            acc += ay.weight(j) * racc;
        }
        out[e] = fk::from_float<T>(static_cast<float>(acc / (ay.total() * ax.total())));
    }
}

template <typename T, typename Axis>
cudaError_t launch(const fk_interpolate_pos_embed_params* p, cudaStream_t stream) {
    const int64_t total = int64_t{p->out_h} * p->out_w * p->channels;
    const int64_t blocks = std::min<int64_t>(fk::ceil_div(total, 256), 132 * 16);
    return fk::launch_pdl(interp_kernel<T, Axis>, dim3(static_cast<unsigned>(blocks)), dim3(256), 0, stream,
                          static_cast<T*>(p->out), static_cast<const T*>(p->input), p->channels, p->in_h, p->in_w, p->out_h,
                          p->out_w, static_cast<double>(p->in_h) / p->out_h, static_cast<double>(p->in_w) / p->out_w);
}

}  // namespace

FK_OP_LAUNCHER(interpolate_pos_embed)(const fk_interpolate_pos_embed_params* p, cudaStream_t stream) {
    FK_REQUIRE(p != nullptr && stream != nullptr);
    FK_REQUIRE(p->channels > 0 && p->in_h > 0 && p->in_w > 0 && p->out_h > 0 && p->out_w > 0);
    FK_REQUIRE(p->mode == FK_INTERP_BICUBIC || p->mode == FK_INTERP_BILINEAR_AA);
    FK_REQUIRE(p->out != nullptr && p->input != nullptr);
    cudaError_t err = cudaSuccess;
    FK_DISPATCH_FLOAT(p->dtype, T, {
        err = p->mode == FK_INTERP_BICUBIC ? launch<T, CubicAxis>(p, stream) : launch<T, AntialiasAxis>(p, stream);
    });
    if (err != cudaSuccess) return err;
    return cudaGetLastError();
}
