// causal_conv1d baseline (L1). Contract: include/fk/ops/causal_conv1d.h.
// Mirrors Dao-AILab `causal_conv1d_fn` (channels-last, varlen) as vLLM's Mamba layers call it.
// Two kernels. On sm_90 with 16-byte rows (every Mamba layout), the streaming kernel
// (conv1d/stream_sm90.cuh: bulk copies into a ring of shared-memory stages, a grid of one
// wave; run 55: 61.5 us at 8k tokens x 5120 channels, 64.8 % of copy). Otherwise (any sm_80+
// GPU, any layout) the register kernel below. Its Packed stores compile to four 32-bit STGs
// per 16 bytes (fk::store16 says why); left as they are: on sm_90 it only serves layouts
// without 16-byte rows, one channel per thread.
// Register kernel: a thread owns V adjacent channels (one 16-byte vector when the layout
// allows) and walks kChunk consecutive tokens of the packed batch, keeping the last W-1 inputs
// in registers, so each input is read from memory once per chunk (plus W-1 rows of overlap)
// and every warp access is a coalesced row segment. A chunk may cross sequence boundaries: the
// thread restarts its window from that sequence's initial state when it does.
// Occupancy (ncu, run 51, 8k tokens x 5120 channels, bf16): the 16-byte kernel uses 182
// registers, so 2 CTAs per SM (12 % occupancy, 2.4 waves) and moves 1.66 TB/s, 40 % of copy.
// Capping it at 128 registers (4 CTAs/SM, 4-token load groups, taps in the dtype, restarts
// outside the unrolled group, 32-token chunks) doubled the achieved occupancy (23 %) and was
// slower, 99.4 -> 106.7 us (run 52; reverted): occupancy is not what holds it at 40 %.
// A second small kernel writes the final states, after the conv kernel on the stream, so that
// final_state may be the same buffer as initial_state (the conv cache updated in place).
#include <algorithm>

#include "fk/ops/causal_conv1d.h"
#include "fk/conv1d/stream_sm90.cuh"
#include "fk/conv1d/window.cuh"
#include "fk/ssm.cuh"

namespace {

using fk::conv1d::find_seq;
using fk::conv1d::input_at;

constexpr int kThreads = 128;
constexpr int kChunk = 64;  // tokens per thread: W-1 overlap rows cost <5% extra reads
constexpr int kUnroll = 8;  // tokens loaded ahead per thread (divides kChunk)

template <typename T, int V, int W>
__global__ void __launch_bounds__(kThreads) conv_kernel(T* __restrict__ out, const T* __restrict__ x, const T* __restrict__ weight,
                                                        const T* __restrict__ bias, const int32_t* __restrict__ cu,
                                                        const T* init, int64_t tokens, int64_t dim, int64_t x_stride,
                                                        int64_t out_stride, int batch, bool silu) {
    using P = fk::Packed<T, V>;
    const int64_t c0 = (static_cast<int64_t>(blockIdx.x) * kThreads + threadIdx.x) * V;
    if (c0 >= dim) return;
    const int64_t t0 = static_cast<int64_t>(blockIdx.y) * kChunk;
    const int64_t t1 = min(t0 + kChunk, tokens);

    float w[V][W], b[V];
#pragma unroll
    for (int v = 0; v < V; ++v) {
#pragma unroll
        for (int k = 0; k < W; ++k) w[v][k] = fk::to_float(weight[(c0 + v) * W + k]);
        b[v] = bias ? fk::to_float(bias[c0 + v]) : 0.f;
    }

    int s = find_seq(cu, batch, t0);
    int64_t start = cu[s], next = cu[s + 1];
    // win[k] = input at t - (W-1) + k for the token t about to be computed.
    float win[W - 1][V];
#pragma unroll
    for (int k = 0; k < W - 1; ++k)
#pragma unroll
        for (int v = 0; v < V; ++v) win[k][v] = input_at<T, W>(x, x_stride, init, dim, s, c0 + v, start, t0 - (W - 1) + k);

    // Groups of kUnroll tokens: their loads are all issued before any is used, so each
    // thread keeps kUnroll 16-byte loads in flight (one at a time would leave HBM idle).
    for (int64_t tg = t0; tg < t1; tg += kUnroll) {
        P xv[kUnroll];
#pragma unroll
        for (int j = 0; j < kUnroll; ++j)
            if (tg + j < t1) xv[j] = *reinterpret_cast<const P*>(x + (tg + j) * x_stride + c0);
#pragma unroll
        for (int j = 0; j < kUnroll; ++j) {
            const int64_t t = tg + j;
            if (t >= t1) break;
            if (t >= next) {
                // A new sequence starts at t: its window is its initial state (or zeros).
                while (cu[s + 1] <= t) ++s;
                start = cu[s];
                next = cu[s + 1];
#pragma unroll
                for (int k = 0; k < W - 1; ++k)
#pragma unroll
                    for (int v = 0; v < V; ++v) win[k][v] = input_at<T, W>(x, x_stride, init, dim, s, c0 + v, start, t - (W - 1) + k);
            }
            P o;
#pragma unroll
            for (int v = 0; v < V; ++v) {
                const float xt = fk::to_float(xv[j].v[v]);
                float acc = b[v];
#pragma unroll
                for (int k = 0; k < W - 1; ++k) acc = fmaf(w[v][k], win[k][v], acc);
                acc = fmaf(w[v][W - 1], xt, acc);
                o.v[v] = fk::from_float<T>(silu ? fk::silu(acc) : acc);
#pragma unroll
                for (int k = 0; k + 1 < W - 1; ++k) win[k][v] = win[k + 1][v];
                win[W - 2][v] = xt;
            }
            *reinterpret_cast<P*>(out + t * out_stride + c0) = o;
        }
    }
}

// final[s, c, :] = the last W-1 inputs of sequence s (into its initial state when short).
// Each thread reads all of its entries before writing them, so final may alias init.
template <typename T, int W>
__global__ void __launch_bounds__(kThreads) final_state_kernel(T* final_state, const T* __restrict__ x, const int32_t* __restrict__ cu,
                                                               const T* init, int64_t dim, int64_t x_stride) {
    const int64_t c = static_cast<int64_t>(blockIdx.x) * kThreads + threadIdx.x;
    const int s = blockIdx.y;
    if (c >= dim) return;
    const int64_t start = cu[s], end = cu[s + 1];
    T v[W - 1];
#pragma unroll
    for (int k = 0; k < W - 1; ++k) v[k] = fk::from_float<T>(input_at<T, W>(x, x_stride, init, dim, s, c, start, end - (W - 1) + k));
#pragma unroll
    for (int k = 0; k < W - 1; ++k) final_state[(static_cast<int64_t>(s) * dim + c) * (W - 1) + k] = v[k];
}

#if FK_SM90A
// The streaming kernel (conv1d/stream_sm90.cuh): as many CTAs as fit on the GPU at once, each
// channel block's tokens split over an equal share of them.
template <typename T, int W> cudaError_t launch_stream(const fk_causal_conv1d_params* p, cudaStream_t stream) {
    using namespace fk::conv1d;
    const auto kernel = conv_stream_kernel<T, W>;
    int dev = 0, sms = 0, per_sm = 0;
    cudaError_t e = cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, kStreamSmem);
    if (e == cudaSuccess) e = cudaGetDevice(&dev);
    if (e == cudaSuccess) e = cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, dev);
    if (e == cudaSuccess) e = cudaOccupancyMaxActiveBlocksPerMultiprocessor(&per_sm, kernel, kStreamThreads, kStreamSmem);
    if (e != cudaSuccess) return e;
    const int64_t blocks = fk::ceil_div(p->dim, int64_t(stream_channels<T>())), chunks = fk::ceil_div(p->tokens, int64_t(kStageRows));
    const int64_t parts = std::max<int64_t>(1, std::min<int64_t>(chunks, int64_t(sms) * std::max(per_sm, 1) / blocks));
    FK_REQUIRE(blocks * parts <= 0x7fffffffLL);
    kernel<<<static_cast<unsigned>(blocks * parts), kStreamThreads, kStreamSmem, stream>>>(*p, static_cast<int>(parts));
    return cudaGetLastError();
}
#endif

// The register kernel: any layout, any GPU.
template <typename T, int W>
cudaError_t launch_registers(const fk_causal_conv1d_params* p, bool vec, cudaStream_t stream) {
    T* out = static_cast<T*>(p->out);
    const T* x = static_cast<const T*>(p->x);
    const T* w = static_cast<const T*>(p->weight);
    const T* bias = static_cast<const T*>(p->bias);
    const T* init = static_cast<const T*>(p->initial_state);
    constexpr int NV = fk::Vec16<T>::N;
    const int v = vec ? NV : 1;
    const int64_t gx = fk::ceil_div(fk::ceil_div(p->dim, v), kThreads), gy = fk::ceil_div(p->tokens, kChunk);
    FK_REQUIRE(gx <= 0x7fffffffLL && gy <= 65535);
    const dim3 grid(static_cast<unsigned>(gx), static_cast<unsigned>(gy));
    if (vec)
        conv_kernel<T, NV, W><<<grid, kThreads, 0, stream>>>(out, x, w, bias, p->cu_seqlens, init, p->tokens, p->dim, p->x_stride,
                                                             p->out_stride, p->batch, p->silu != 0);
    else
        conv_kernel<T, 1, W><<<grid, kThreads, 0, stream>>>(out, x, w, bias, p->cu_seqlens, init, p->tokens, p->dim, p->x_stride,
                                                            p->out_stride, p->batch, p->silu != 0);
    return cudaGetLastError();
}

template <typename T, int W>
cudaError_t launch(const fk_causal_conv1d_params* p, bool vec, cudaStream_t stream) {
    if (p->tokens > 0) {
#if FK_SM90A
        // 16-byte rows can be bulk-copied: the streaming kernel.
        const cudaError_t e = vec ? launch_stream<T, W>(p, stream) : launch_registers<T, W>(p, vec, stream);
#else
        const cudaError_t e = launch_registers<T, W>(p, vec, stream);
#endif
        if (e != cudaSuccess) return e;
    }
    if (p->final_state != nullptr) {
        const int64_t gx = fk::ceil_div(p->dim, kThreads);
        FK_REQUIRE(gx <= 0x7fffffffLL && p->batch <= 65535);
        const dim3 grid(static_cast<unsigned>(gx), static_cast<unsigned>(p->batch));
        final_state_kernel<T, W><<<grid, kThreads, 0, stream>>>(static_cast<T*>(p->final_state), static_cast<const T*>(p->x), p->cu_seqlens,
                                                                 static_cast<const T*>(p->initial_state), p->dim, p->x_stride);
    }
    return cudaGetLastError();
}

}  // namespace

FK_OP_LAUNCHER(causal_conv1d)(const fk_causal_conv1d_params* p, cudaStream_t stream) {
    FK_REQUIRE(p != nullptr && stream != nullptr);
    FK_REQUIRE(p->tokens >= 0 && p->dim > 0 && p->batch > 0 && p->x_stride >= p->dim && p->out_stride >= p->dim);
    FK_REQUIRE(p->width >= 2 && p->width <= FK_CAUSAL_CONV1D_MAX_WIDTH);
    FK_REQUIRE(p->cu_seqlens != nullptr && p->weight != nullptr);
    FK_REQUIRE(p->tokens == 0 || (p->x != nullptr && p->out != nullptr));
    const int eb = fk::dtype_bytes(p->dtype);
    FK_REQUIRE(eb > 0);
    const void* ptrs[2] = {p->out, p->x};
    const int64_t strides[2] = {p->x_stride, p->out_stride};
    const bool vec = fk::vec16_ok(p->dim, eb, ptrs, 2, strides, 2);
    FK_DISPATCH_FLOAT(p->dtype, T, {
        switch (p->width) {
            case 2: return launch<T, 2>(p, vec, stream);
            case 3: return launch<T, 3>(p, vec, stream);
            default: return launch<T, 4>(p, vec, stream);
        }
    });
    return cudaSuccess;
}
