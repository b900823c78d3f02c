// patch_embed_im2col baseline (L1). Contract: include/fk/ops/patch_embed_im2col.h.
// The im2col half of a ViT/DINOv3/SigLIP patch embedding (`nn.Conv2d` with stride = kernel):
// the GEMM half runs on cuBLASLt (ops::patch_embed composes them), so the FLOPs run on
// tensor cores and this kernel only moves bytes. Any sm_80+ GPU.
// Each thread copies 16-byte vectors: a patch row (kx = 0..p-1) is contiguous both in the NCHW
// source and in the output row, so when p and W are multiples of the vector width a vector
// never straddles two patch rows. Otherwise it copies element by element.
#include "fk/common.cuh"
#include "fk/ops/patch_embed_im2col.h"

namespace {

template <typename T, int N>
__global__ void __launch_bounds__(256) im2col_kernel(T* __restrict__ out, const T* __restrict__ pixels, int64_t rows,
                                                     int channels, int height, int width, int patch, int grid_w,
                                                     int patches_per_image, int64_t out_stride) {
    fk::pdl_grid_sync();
    using P = fk::Packed<T, N>;
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
        *reinterpret_cast<P*>(out + row * out_stride + col) = *reinterpret_cast<const P*>(pixels + src);
    }
}

template <typename T, int N>
cudaError_t launch(const fk_patch_embed_im2col_params* p, cudaStream_t stream) {
    const int gh = static_cast<int>(p->height / p->patch), gw = static_cast<int>(p->width / p->patch);
    const int64_t rows = p->batch * gh * gw;
    const int64_t work = rows * (p->channels * p->patch * p->patch / N);
    const int64_t blocks = std::min<int64_t>(fk::ceil_div(work, 256), 132 * 16);
    return fk::launch_pdl(im2col_kernel<T, N>, dim3(static_cast<unsigned>(blocks)), dim3(256), 0, stream,
                          static_cast<T*>(p->out), static_cast<const T*>(p->pixels), rows, static_cast<int>(p->channels),
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
    const int eb = fk::dtype_bytes(p->dtype);
    FK_REQUIRE(eb > 0);
    const void* ptrs[2] = {p->out, p->pixels};
    const int64_t strides[2] = {p->out_stride, p->width};
    // p a multiple of the vector width makes every patch row whole vectors; W and out_stride
    // keep the vectors aligned in the source and in every output row.
    const bool vec = fk::vec16_ok(p->patch, eb, ptrs, 2, strides, 2);
    cudaError_t err = cudaSuccess;
    FK_DISPATCH_FLOAT(p->dtype, T, {
        constexpr int NV = fk::Vec16<T>::N;
        err = vec ? launch<T, NV>(p, stream) : launch<T, 1>(p, stream);
    });
    if (err != cudaSuccess) return err;
    return cudaGetLastError();
}
