// gather_rows baseline (L1). Contract: include/fk/ops/gather_rows.h.
// Mirrors FlashAttention's bert_padding `index_first_axis` (unpad) and `pad_input` (pad): the
// glue that runs a padded encoder batch through the varlen attention kernel. Any sm_80+ GPU.
// A pure copy: one block per output row, each thread moving the widest word (16, 8, 4, 2 or
// 1 bytes) that the row length, the strides and the base addresses allow.
#include "fk/common.cuh"
#include "fk/ops/gather_rows.h"

namespace {

template <typename W>
__global__ void __launch_bounds__(256) gather_kernel(char* __restrict__ out, const char* __restrict__ in,
                                                     const int32_t* __restrict__ index, fk_status* status, int64_t in_rows,
                                                     int64_t words, int64_t in_stride_bytes, int64_t out_stride_bytes) {
    fk::pdl_grid_sync();
    const int64_t r = blockIdx.x;
    const int32_t src = index[r];
    const bool bad = src >= in_rows;
    if (bad && threadIdx.x == 0) fk::status_report(status, r);
    W* y = reinterpret_cast<W*>(out + r * out_stride_bytes);
    if (src < 0 || bad) {
        // Padding rows (and rows with a bad index) become zeros, as pad_input leaves them.
        for (int64_t i = threadIdx.x; i < words; i += blockDim.x) y[i] = W{};
        return;
    }
    const W* x = reinterpret_cast<const W*>(in + src * in_stride_bytes);
    for (int64_t i = threadIdx.x; i < words; i += blockDim.x) y[i] = x[i];
}

template <typename W>
cudaError_t launch(const fk_gather_rows_params* p, int eb, cudaStream_t stream) {
    const int64_t words = p->cols * eb / static_cast<int64_t>(sizeof(W));
    const int threads = static_cast<int>(std::min<int64_t>(256, fk::ceil_div(words, 32) * 32));
    return fk::launch_pdl(gather_kernel<W>, dim3(static_cast<unsigned>(p->rows)), dim3(threads), 0, stream,
                          static_cast<char*>(p->out), static_cast<const char*>(p->input), p->index, p->status, p->in_rows,
                          words, p->input_stride * eb, p->out_stride * eb);
}

}  // namespace

FK_OP_LAUNCHER(gather_rows)(const fk_gather_rows_params* p, cudaStream_t stream) {
    FK_REQUIRE(p != nullptr && stream != nullptr);
    FK_REQUIRE(p->rows >= 0 && p->cols > 0 && p->in_rows >= 0 && p->input_stride >= p->cols && p->out_stride >= p->cols);
    FK_REQUIRE(p->rows <= 0x7fffffffLL);
    cudaError_t err = fk::status_reset(p->status, stream);
    if (err != cudaSuccess) return err;
    if (p->rows == 0) return cudaSuccess;
    FK_REQUIRE(p->out != nullptr && p->index != nullptr && (p->input != nullptr || p->in_rows == 0));
    const int eb = fk::dtype_bytes(p->dtype);
    FK_REQUIRE(eb > 0);
    // The widest word that divides the row length, both strides and both base addresses.
    const uint64_t bits = static_cast<uint64_t>(p->cols * eb) | static_cast<uint64_t>(p->input_stride * eb) |
                          static_cast<uint64_t>(p->out_stride * eb) | reinterpret_cast<uintptr_t>(p->out) |
                          reinterpret_cast<uintptr_t>(p->input);
    if (bits % 16 == 0) err = launch<uint4>(p, eb, stream);
    else if (bits % 8 == 0) err = launch<uint2>(p, eb, stream);
    else if (bits % 4 == 0) err = launch<uint32_t>(p, eb, stream);
    else if (bits % 2 == 0) err = launch<uint16_t>(p, eb, stream);
    else err = launch<uint8_t>(p, eb, stream);
    if (err != cudaSuccess) return err;
    return cudaGetLastError();
}
