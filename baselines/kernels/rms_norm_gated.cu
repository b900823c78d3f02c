// rms_norm_gated baseline (L1). Contract: include/fk/ops/rms_norm_gated.h.
// Mirrors HF `MambaRMSNormGated` (Mamba-2's norm before out_proj). Any sm_80+ GPU.
// One block per (row, group): pass 1 forms g = x*silu(z) as 16-byte vectors and reduces its
// sum of squares; pass 2 forms g again and writes the normalised, weighted output. The
// second read of x and z hits L1/L2 (a group is at most a few tens of KiB), so DRAM sees each
// input once; recomputing instead of holding g in registers removes any group-size limit.
#include "fk/ops/rms_norm_gated.h"
#include "fk/ssm.cuh"

namespace {

template <typename T, int N>
__device__ __forceinline__ void gated(const T* x, const T* z, int64_t i, float (&g)[N]) {
    using P = fk::Packed<T, N>;
    const P xv = *reinterpret_cast<const P*>(x + i);
#pragma unroll
    for (int k = 0; k < N; ++k) g[k] = fk::to_float(xv.v[k]);
    if (z) {
        const P zv = *reinterpret_cast<const P*>(z + i);
#pragma unroll
        for (int k = 0; k < N; ++k) g[k] *= fk::silu(fk::to_float(zv.v[k]));
    }
}

template <typename T, int N>
__global__ void __launch_bounds__(256) norm_kernel(T* out, const T* x, const T* __restrict__ z, const T* __restrict__ weight,
                                                   int64_t ngroups, int64_t group_size, int64_t x_stride, int64_t z_stride,
                                                   int64_t out_stride, float eps) {
    fk::pdl_grid_sync();
    using P = fk::Packed<T, N>;
    const int64_t row = blockIdx.x / ngroups, grp = blockIdx.x % ngroups;
    const int64_t c0 = grp * group_size;
    const T* xr = x + row * x_stride + c0;
    const T* zr = z ? z + row * z_stride + c0 : nullptr;
    const int64_t nvec = group_size / N;

    float sumsq = 0.f;
    for (int64_t v = threadIdx.x; v < nvec; v += blockDim.x) {
        float g[N];
        gated<T, N>(xr, zr, v * N, g);
#pragma unroll
        for (int k = 0; k < N; ++k) sumsq = fmaf(g[k], g[k], sumsq);
    }
    const float rstd = rsqrtf(fk::block_sum(sumsq) / static_cast<float>(group_size) + eps);
    // Every thread has read its part of x above and block_sum synchronised the block, so an
    // in-place out (= x) is safe: each element is rewritten by the thread that read it.
    T* o = out + row * out_stride + c0;
    const T* w = weight + c0;
    for (int64_t v = threadIdx.x; v < nvec; v += blockDim.x) {
        float g[N];
        gated<T, N>(xr, zr, v * N, g);
        const P wv = *reinterpret_cast<const P*>(w + v * N);
        P ov;
#pragma unroll
        for (int k = 0; k < N; ++k) ov.v[k] = fk::from_float<T>(fk::round_to<T>(g[k] * rstd) * fk::to_float(wv.v[k]));
        // One 16-byte store per vector: nvcc split the plain Packed store of bf16/f16 into
        // 32-bit pieces (see fk::store16).
        if constexpr (sizeof(P) == 16) {
            fk::store16(o + v * N, ov);
        } else {
            *reinterpret_cast<P*>(o + v * N) = ov;
        }
    }
}

}  // namespace

FK_OP_LAUNCHER(rms_norm_gated)(const fk_rms_norm_gated_params* p, cudaStream_t stream) {
    FK_REQUIRE(p != nullptr && stream != nullptr);
    FK_REQUIRE(p->rows >= 0 && p->hidden > 0 && p->group_size > 0 && p->hidden % p->group_size == 0);
    FK_REQUIRE(p->x_stride >= p->hidden && p->out_stride >= p->hidden && (p->z == nullptr || p->z_stride >= p->hidden));
    FK_REQUIRE(p->eps >= 0.f);
    if (p->rows == 0) return cudaSuccess;
    FK_REQUIRE(p->out != nullptr && p->x != nullptr && p->weight != nullptr);
    const int eb = fk::dtype_bytes(p->dtype);
    FK_REQUIRE(eb > 0);
    const int64_t ngroups = p->hidden / p->group_size;
    FK_REQUIRE(p->rows * ngroups <= 0x7fffffffLL);
    // group_size (not hidden) must split into vectors: each group starts on a vector boundary.
    const void* ptrs[4] = {p->out, p->x, p->z, p->weight};
    const int64_t strides[3] = {p->x_stride, p->z ? p->z_stride : 0, p->out_stride};
    const bool vec = fk::vec16_ok(p->group_size, eb, ptrs, 4, strides, 3);
    FK_DISPATCH_FLOAT(p->dtype, T, {
        constexpr int NV = fk::Vec16<T>::N;
        const int64_t nvec = vec ? p->group_size / NV : p->group_size;
        const int threads = static_cast<int>(std::min<int64_t>(256, fk::ceil_div(nvec, 32) * 32));
        const dim3 grid(static_cast<unsigned>(p->rows * ngroups));
        const T* z = static_cast<const T*>(p->z);
        cudaError_t e;
        if (vec)
            e = fk::launch_pdl(norm_kernel<T, NV>, grid, dim3(threads), 0, stream, static_cast<T*>(p->out), static_cast<const T*>(p->x), z,
                               static_cast<const T*>(p->weight), ngroups, p->group_size, p->x_stride, p->z_stride, p->out_stride, p->eps);
        else
            e = fk::launch_pdl(norm_kernel<T, 1>, grid, dim3(threads), 0, stream, static_cast<T*>(p->out), static_cast<const T*>(p->x), z,
                               static_cast<const T*>(p->weight), ngroups, p->group_size, p->x_stride, p->z_stride, p->out_stride, p->eps);
        if (e != cudaSuccess) return e;
    });
    return cudaGetLastError();
}
