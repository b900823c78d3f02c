// causal_conv1d's kernel for sm_90: the input streamed into shared memory by bulk copies (TMA,
// cp.async.bulk), one row segment per copy, through a ring of stages.
//
// Why: the register kernel (causal_conv1d.cu) keeps each thread's next 8 token rows in flight
// as 16-byte loads, then computes them, so a thread alternates between waiting and working,
// and its 182 registers allow 2 CTAs per SM; with 640 CTAs at 8k tokens x 5120 channels its
// grid is 2.4 waves, the last 40 % full. ncu (run 51, H200): 99.4 us, 40 % of copy bandwidth,
// and capping the registers to double the occupancy was slower (run 52). Here the copies of
// the next stages are in flight while a stage is computed (~48 KB per CTA, 3 CTAs per SM), the
// threads only read shared memory, and the grid is sized to the GPU: each channel block's
// tokens are split into contiguous ranges over as many CTAs as fit at once, so all CTAs run
// in one wave and end within a stage of each other.
//
// Work split: a CTA owns kBlockChannels channels (c0 ...) and a contiguous range of tokens,
// walked in stages of R rows (one row segment of kBlockChannels channels per bulk copy);
// thread i owns channels c0 + 2i, c0 + 2i + 1 and carries their last W-1 inputs in registers
// from stage to stage, so only its first token reads a window from global memory. A range may
// cross sequence boundaries: the window restarts from that sequence's initial state there.
// Requires 16-byte rows (x, x_stride, dim in bytes multiples of 16): the launcher checks.
#pragma once
#include "fk/attention/sm90_sync.cuh"
#include "fk/conv1d/window.cuh"
#include "fk/ops/causal_conv1d.h"
#include "fk/ssm.cuh"

namespace fk {
namespace conv1d {

constexpr int kStreamThreads = 128;
constexpr int kPerThread = 2;                                 // channels per thread
constexpr int kBlockChannels = kStreamThreads * kPerThread;  // channels per CTA
constexpr int kStageBytes = 16 * 1024;
constexpr int kStages = 4;
constexpr int kStreamSmem = kStages * kStageBytes + kStages * 8;  // stages + their barriers

// Token rows per stage: 32 for 16-bit types, 16 for f32 (at most 32: one copy per lane).
template <typename T> __host__ __device__ constexpr int stream_rows() { return kStageBytes / (kBlockChannels * static_cast<int>(sizeof(T))); }

// Grid: blockIdx.x = part * blocks + channel block, so CTAs launched together read
// neighbouring segments of the same rows; `parts` CTAs share a channel block's tokens.
template <typename T, int W>
__global__ void __launch_bounds__(kStreamThreads) conv_stream_kernel(const fk_causal_conv1d_params p, int parts) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
    constexpr int R = stream_rows<T>();
    constexpr int kPitch = kBlockChannels * sizeof(T);  // bytes between rows of a stage
    static_assert(R >= 1 && R <= 32 && R * kPitch == kStageBytes, "one stage: R rows, one copy per lane");
    using P = fk::Packed<T, kPerThread>;
    extern __shared__ __align__(128) unsigned char smem[];
    const uint32_t smem_base = static_cast<uint32_t>(__cvta_generic_to_shared(smem));
    const uint32_t bar_base = smem_base + kStages * kStageBytes;

    const int blocks = static_cast<int>(gridDim.x) / parts;
    const int cb = static_cast<int>(blockIdx.x) % blocks, part = static_cast<int>(blockIdx.x) / blocks;
    // This CTA's tokens: chunks of R rows split evenly over the parts (the first ones one more).
    const int64_t chunks = (p.tokens + R - 1) / R, per = chunks / parts, extra = chunks % parts;
    const int64_t k0 = part * per + min(static_cast<int64_t>(part), extra), nk = per + (part < extra ? 1 : 0);
    const int64_t t_begin = k0 * R, t_end = min(p.tokens, (k0 + nk) * R);
    const int nst = static_cast<int>(nk);

    const int64_t c0 = static_cast<int64_t>(cb) * kBlockChannels;
    const uint32_t row_bytes = static_cast<uint32_t>(min(static_cast<int64_t>(kBlockChannels), p.dim - c0) * sizeof(T));
    const T* x = static_cast<const T*>(p.x);
    const int tid = threadIdx.x, warp = tid / 32, lane = tid % 32;

    // Warp 0 fills stage s: lane j copies row j (the barrier expects all the stage's bytes).
    const auto issue = [&](int s) {
        const int64_t t = t_begin + static_cast<int64_t>(s) * R;
        const int rows = static_cast<int>(min(static_cast<int64_t>(R), t_end - t));
        const uint32_t bar = bar_base + 8u * static_cast<uint32_t>(s % kStages);
        if (lane == 0) fk::attn::mbar_arrive_expect_tx(bar, static_cast<uint32_t>(rows) * row_bytes);
        __syncwarp();
        if (lane < rows)
            fk::attn::bulk_load(smem_base + static_cast<uint32_t>(s % kStages) * kStageBytes + lane * kPitch, x + (t + lane) * p.x_stride + c0,
                                row_bytes, bar);
    };
    if (tid == 0) {
        for (int b = 0; b < kStages; ++b) fk::attn::mbar_init(bar_base + 8u * b, 1);
        fk::attn::mbar_init_fence();
    }
    __syncthreads();
    if (warp == 0)
        for (int s = 0; s < min(kStages, nst); ++s) issue(s);

    // This thread's channels (dim is even: 16-byte rows), their taps and bias, and the window
    // before t_begin, read from global memory while the first copies are in flight.
    const int64_t c = c0 + kPerThread * tid;
    const bool active = c < p.dim;
    const T* init = static_cast<const T*>(p.initial_state);
    const T* bias = static_cast<const T*>(p.bias);
    float w[kPerThread][W], b[kPerThread], win[W - 1][kPerThread];
    int s_idx = 0;
    int64_t start = 0, next = 0;
    if (active) {
#pragma unroll
        for (int v = 0; v < kPerThread; ++v) {
#pragma unroll
            for (int k = 0; k < W; ++k) w[v][k] = fk::to_float(static_cast<const T*>(p.weight)[(c + v) * W + k]);
            b[v] = bias ? fk::to_float(bias[c + v]) : 0.f;
        }
        s_idx = find_seq(p.cu_seqlens, p.batch, t_begin);
        start = p.cu_seqlens[s_idx];
        next = p.cu_seqlens[s_idx + 1];
#pragma unroll
        for (int k = 0; k < W - 1; ++k)
#pragma unroll
            for (int v = 0; v < kPerThread; ++v) win[k][v] = input_at<T, W>(x, p.x_stride, init, p.dim, s_idx, c + v, start, t_begin - (W - 1) + k);
    }
    T* out = static_cast<T*>(p.out);
    const bool silu = p.silu != 0;

    for (int s = 0; s < nst; ++s) {
        const int buf = s % kStages;
        fk::attn::mbar_wait(bar_base + 8u * buf, static_cast<uint32_t>((s / kStages) & 1));
        const int64_t t0 = t_begin + static_cast<int64_t>(s) * R;
        const int rows = static_cast<int>(min(static_cast<int64_t>(R), t_end - t0));
        if (active) {
            const unsigned char* st = smem + buf * kStageBytes + tid * sizeof(P);
#pragma unroll 4
            for (int j = 0; j < rows; ++j) {
                const int64_t t = t0 + j;
                if (t >= next) {
                    // A new sequence starts at t: its window is its initial state (or zeros),
                    // no x (every position of the window is before t = start).
                    while (p.cu_seqlens[s_idx + 1] <= t) ++s_idx;
                    start = p.cu_seqlens[s_idx];
                    next = p.cu_seqlens[s_idx + 1];
#pragma unroll
                    for (int k = 0; k < W - 1; ++k)
#pragma unroll
                        for (int v = 0; v < kPerThread; ++v) win[k][v] = input_at<T, W>(x, p.x_stride, init, p.dim, s_idx, c + v, start, t - (W - 1) + k);
                }
                const P xv = *reinterpret_cast<const P*>(st + j * kPitch);
                P o;
#pragma unroll
                for (int v = 0; v < kPerThread; ++v) {
                    const float xt = fk::to_float(xv.v[v]);
                    float acc = b[v];
#pragma unroll
                    for (int k = 0; k < W - 1; ++k) acc = fmaf(w[v][k], win[k][v], acc);
                    acc = fmaf(w[v][W - 1], xt, acc);
                    o.v[v] = fk::from_float<T>(silu ? fk::silu(acc) : acc);
#pragma unroll
                    for (int k = 0; k + 1 < W - 1; ++k) win[k][v] = win[k + 1][v];
                    win[W - 2][v] = xt;
                }
                *reinterpret_cast<P*>(out + t * p.out_stride + c) = o;
            }
        }
        // Every thread is done reading this stage's buffer: refill it.
        __syncthreads();
        if (warp == 0 && s + kStages < nst) issue(s + kStages);
    }
#endif
}

}  // namespace conv1d
}  // namespace fk
