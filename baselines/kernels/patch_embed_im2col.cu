// patch_embed_im2col baseline (L1). Contract: include/fk/ops/patch_embed_im2col.h.
// The im2col half of a ViT/DINOv3/SigLIP patch embedding (`nn.Conv2d` with stride = kernel):
// the GEMM half runs on cuBLASLt (ops::patch_embed composes them), so the FLOPs run on
// tensor cores and this kernel only moves bytes. Any sm_80+ GPU.
// Each thread copies one vector of N pixels (16 bytes of the source): a patch row (kx = 0..p-1)
// is contiguous both in the NCHW source and in the output row, so when p and W are multiples
// of N a vector never straddles two patch rows. Otherwise it copies element by element.
// The pixels may come in another float dtype than the rows go out in (f32 images as the host
// holds them, bf16 rows for the GEMM): the conversion rides on the copy, which is what lets an
// image encoder upload its batch as it is instead of converting 25 MB on one host core.
#include "fk/common.cuh"
#include "fk/ops/patch_embed_im2col.h"

namespace {

template <typename TIn, typename TOut, int N>
__global__ void __launch_bounds__(256) im2col_kernel(TOut* __restrict__ out, const TIn* __restrict__ pixels, int64_t rows,
                                                     int channels, int height, int width, int patch, int grid_w,
                                                     int patches_per_image, int64_t out_stride) {
    fk::pdl_grid_sync();
    const int pp = patch * patch;
    const int row_vecs = channels * pp / N;  // vectors per output row
    const int64_t total = rows * row_vecs;
    const int64_t step = static_cast<int64_t>(gridDim.x) * blockDim.x;
    for (int64_t v = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; v < total; v += step) {
        const int64_t row = v / row_vecs;
        const int col = static_cast<int>(v % row_vecs) * N;
        const int c = col / pp, ky = (col % pp) / patch, kx = col % patch;
        const int64_t b = row / patches_per_image;
        const int pr = static_cast<int>(row % patches_per_image);
        const int py = pr / grid_w, px = pr % grid_w;
        const int64_t src = ((b * channels + c) * height + py * patch + ky) * static_cast<int64_t>(width) + px * patch + kx;
        const fk::Packed<TIn, N> in = *reinterpret_cast<const fk::Packed<TIn, N>*>(pixels + src);
        fk::Packed<TOut, N> o;
#pragma unroll
        for (int i = 0; i < N; ++i) o.v[i] = fk::from_float<TOut>(fk::to_float(in.v[i]));
        *reinterpret_cast<fk::Packed<TOut, N>*>(out + row * out_stride + col) = o;
    }
}

template <typename TIn, typename TOut, int N>
cudaError_t launch(const fk_patch_embed_im2col_params* p, cudaStream_t stream) {
    const int gh = static_cast<int>(p->height / p->patch), gw = static_cast<int>(p->width / p->patch);
    const int64_t rows = p->batch * gh * gw;
    const int64_t work = rows * (p->channels * p->patch * p->patch / N);
    const int64_t blocks = std::min<int64_t>(fk::ceil_div(work, 256), 132 * 16);
    return fk::launch_pdl(im2col_kernel<TIn, TOut, N>, dim3(static_cast<unsigned>(blocks)), dim3(256), 0, stream,
                          static_cast<TOut*>(p->out), static_cast<const TIn*>(p->pixels), rows, static_cast<int>(p->channels),
                          static_cast<int>(p->height), static_cast<int>(p->width), static_cast<int>(p->patch), gw, gh * gw,
                          p->out_stride);
}

}  // namespace

FK_OP_LAUNCHER(patch_embed_im2col)(const fk_patch_embed_im2col_params* p, cudaStream_t stream) {
    FK_REQUIRE(p != nullptr && stream != nullptr);
    FK_REQUIRE(p->batch >= 0 && p->channels > 0 && p->patch > 0 && p->height > 0 && p->width > 0);
    FK_REQUIRE(p->height % p->patch == 0 && p->width % p->patch == 0);
    // Per-image sizes are indexed with 32-bit ints; a 2^31-pixel image is no ViT input.
    FK_REQUIRE(p->channels * p->height * p->width < (int64_t{1} << 31) && p->channels * p->patch * p->patch < (int64_t{1} << 31));
    FK_REQUIRE(p->out_stride >= p->channels * p->patch * p->patch);
    if (p->batch == 0) return cudaSuccess;
    FK_REQUIRE(p->out != nullptr && p->pixels != nullptr);
    const int in_bytes = fk::dtype_bytes(p->pixels_dtype), out_bytes = fk::dtype_bytes(p->dtype);
    FK_REQUIRE(in_bytes > 0 && out_bytes > 0);
    // A vector is 16 bytes of pixels (N = 16 / in_bytes values) and N·out_bytes of output:
    // p and W multiples of N make every patch row whole vectors aligned in the source; the
    // output side needs its base and row stride aligned to its own vector size.
    const int64_t n = 16 / in_bytes;
    const uintptr_t in_addr = reinterpret_cast<uintptr_t>(p->pixels), out_addr = reinterpret_cast<uintptr_t>(p->out);
    const bool vec = p->patch % n == 0 && p->width % n == 0 && in_addr % 16 == 0 && out_addr % (n * out_bytes) == 0 &&
                     p->out_stride % n == 0;
    cudaError_t err = cudaSuccess;
    FK_DISPATCH_FLOAT(p->pixels_dtype, TIn, {
        FK_DISPATCH_FLOAT(p->dtype, TOut, {
            constexpr int NV = fk::Vec16<TIn>::N;
            err = vec ? launch<TIn, TOut, NV>(p, stream) : launch<TIn, TOut, 1>(p, stream);
        });
    });
    if (err != cudaSuccess) return err;
    return cudaGetLastError();
}
