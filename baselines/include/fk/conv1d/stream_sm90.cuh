// causal_conv1d's kernel for sm_90: the input streamed into shared memory by bulk copies (TMA,
// cp.async.bulk), one row segment per copy, through a ring of stages; each warp computes 8
// whole rows of a stage from shared memory.
//
// Why. The register kernel (causal_conv1d.cu) keeps each thread's next 8 token rows in flight
// as 16-byte loads, then computes them, so a thread alternates between waiting and working;
// its 182 registers allow 2 CTAs per SM, and at 8k tokens x 5120 channels its 640 CTAs are 2.4
// waves: 99.4 us, 40 % of copy (ncu, run 51), and capping its registers was slower (run 52).
// A first streaming kernel (run 54) gave each thread 2 channels and walked its tokens one after
// another, carrying the window in registers: memcheck-clean and correct, but 98.2 us, no
// faster, because it was issue-bound, not memory-bound (ncu: 37 instructions per element, 3
// warps per scheduler issuing every 5.6 cycles, DRAM 32 % busy). The conv is not a recurrence:
// an output needs W inputs, never an earlier output. So here a warp takes 8 consecutive rows of
// a stage, each lane 16 bytes of channels (8 bf16), and computes all 64 outputs from the 8 + W-1
// input rows it reads from shared memory: 64 independent FMA chains per lane and ~11
// instructions per element (one conversion, W FMAs, SiLU, a share of one 16-byte load and
// store), while the copies of the next stages stream in (~54 KB per CTA, 3 CTAs per SM).
// Measured (run 55, H200, bf16, one sequence, % of the copy rate measured in the same call):
// 8k tokens x 5120 channels 61.5 us, 64.8 % (the register kernel 98-99 us, 40 %); x 10240
// 109.5 us, 72.8 % (189 us, 42 %); 2048 x 5120 26.3 us, 38 %. ncu at 8k x 5120: 141 registers,
// 3 CTAs per SM in one wave, 19.6 thread instructions per element, DRAM 55 % of its peak.
// One token costs ~10 us (the register kernel ~8-9): prefill only, decode has its own op.
//
// Work split: a CTA owns one block of 512 bytes of channels (256 of a 16-bit type, 128 of f32)
// and a contiguous range of tokens, walked in stages of 32 token rows; as many CTAs as fit on
// the GPU at once share each block's tokens, so the grid is one wave. A stage's buffer also
// holds the kHalo (3) rows before its first token, copied again (L2 hits: this CTA read them
// for the previous stage), so every stage is self-contained. Rows whose window reaches before
// their sequence's start (or into the next sequence) take a per-row path that reads the
// sequence's initial state for those positions.
// Requires 16-byte rows (x, out, x_stride, out_stride, dim in bytes multiples of 16): the
// launcher checks.
#pragma once
#include "fk/attention/sm90_sync.cuh"
#include "fk/conv1d/window.cuh"
#include "fk/ops/causal_conv1d.h"
#include "fk/ssm.cuh"

namespace fk {
namespace conv1d {

constexpr int kStreamThreads = 128;
constexpr int kStreamWarps = kStreamThreads / 32;
constexpr int kWarpRows = 8;                                  // token rows per warp per stage
constexpr int kStageRows = kStreamWarps * kWarpRows;          // token rows per stage
constexpr int kHalo = FK_CAUSAL_CONV1D_MAX_WIDTH - 1;         // rows before a stage, copied with it
constexpr int kRowBytes = 32 * 16;                            // a warp's 16-byte vectors: one row segment
constexpr int kStageBytes = (kHalo + kStageRows) * kRowBytes;
constexpr int kStages = 4;
constexpr int kStreamSmem = kStages * kStageBytes + kStages * 8;  // stages + their barriers

// Channels per CTA: 256 for 16-bit types, 128 for f32.
template <typename T> __host__ __device__ constexpr int stream_channels() { return kRowBytes / static_cast<int>(sizeof(T)); }

// Grid: blockIdx.x = part * blocks + channel block, so CTAs launched together read
// neighbouring segments of the same rows; `parts` CTAs share a channel block's tokens.
template <typename T, int W>
__global__ void __launch_bounds__(kStreamThreads, 3) conv_stream_kernel(const fk_causal_conv1d_params p, int parts) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
    constexpr int V = 16 / sizeof(T);  // channels per lane
    constexpr int C = stream_channels<T>();
    using P = fk::Packed<T, V>;
    static_assert(kHalo + kStageRows <= 64, "a stage's rows are copied by two rounds of a warp at most");
    extern __shared__ __align__(128) unsigned char smem[];
    const uint32_t smem_base = static_cast<uint32_t>(__cvta_generic_to_shared(smem));
    const uint32_t bar_base = smem_base + kStages * kStageBytes;

    const int blocks = static_cast<int>(gridDim.x) / parts;
    const int cb = static_cast<int>(blockIdx.x) % blocks, part = static_cast<int>(blockIdx.x) / blocks;
    // This CTA's tokens: stages of kStageRows split evenly over the parts (the first ones one more).
    const int64_t chunks = (p.tokens + kStageRows - 1) / kStageRows, per = chunks / parts, extra = chunks % parts;
    const int64_t k0 = part * per + min(static_cast<int64_t>(part), extra), nk = per + (part < extra ? 1 : 0);
    const int64_t t_begin = k0 * kStageRows, t_end = min(p.tokens, (k0 + nk) * kStageRows);
    const int nst = static_cast<int>(nk);

    const int64_t c0 = static_cast<int64_t>(cb) * C;
    const uint32_t seg_bytes = static_cast<uint32_t>(min(static_cast<int64_t>(C), p.dim - c0) * sizeof(T));
    const T* x = static_cast<const T*>(p.x);
    const int tid = threadIdx.x, warp = tid / 32, lane = tid % 32;

    // Warp 0 fills stage s: buffer row r holds token t0 - kHalo + r (t0 the stage's first
    // token); rows of tokens before 0 are never read and not copied.
    const auto issue = [&](int s) {
        const int64_t t0 = t_begin + static_cast<int64_t>(s) * kStageRows;
        const int rows = static_cast<int>(min(static_cast<int64_t>(kStageRows), t_end - t0));
        const int r_lo = t0 >= kHalo ? 0 : kHalo - static_cast<int>(t0), r_hi = kHalo + rows;
        const uint32_t bar = bar_base + 8u * static_cast<uint32_t>(s % kStages);
        const uint32_t dst = smem_base + static_cast<uint32_t>(s % kStages) * kStageBytes;
        if (lane == 0) fk::attn::mbar_arrive_expect_tx(bar, static_cast<uint32_t>(r_hi - r_lo) * seg_bytes);
        __syncwarp();
        for (int r = r_lo + lane; r < r_hi; r += 32)
            fk::attn::bulk_load(dst + r * kRowBytes, x + (t0 - kHalo + r) * p.x_stride + c0, seg_bytes, bar);
    };
    if (tid == 0) {
        for (int b = 0; b < kStages; ++b) fk::attn::mbar_init(bar_base + 8u * b, 1);
        fk::attn::mbar_init_fence();
    }
    __syncthreads();
    if (warp == 0)
        for (int s = 0; s < min(kStages, nst); ++s) issue(s);

    // This lane's channels (dim is a multiple of V: 16-byte rows), their taps and bias.
    const int64_t c = c0 + static_cast<int64_t>(lane) * V;
    const bool active = c < p.dim;
    const int32_t* cu = p.cu_seqlens;
    const T* init = static_cast<const T*>(p.initial_state);
    const T* bias = static_cast<const T*>(p.bias);
    T* out = static_cast<T*>(p.out);
    const bool silu = p.silu != 0;
    float w[V][W], b[V];
    int seq = 0;  // the sequence of this warp's last row: only moves forward
    if (active) {
#pragma unroll
        for (int v = 0; v < V; ++v) {
#pragma unroll
            for (int k = 0; k < W; ++k) w[v][k] = fk::to_float(static_cast<const T*>(p.weight)[(c + v) * W + k]);
            b[v] = bias ? fk::to_float(bias[c + v]) : 0.f;
        }
        seq = find_seq(cu, p.batch, t_begin);
    }
    const auto finish = [&](float acc) { return fk::from_float<T>(silu ? fk::silu(acc) : acc); };
    const int ja = warp * kWarpRows;  // this warp's first row in a stage

    for (int s = 0; s < nst; ++s) {
        const int buf = s % kStages;
        fk::attn::mbar_wait(bar_base + 8u * buf, static_cast<uint32_t>((s / kStages) & 1));
        const int64_t t0 = t_begin + static_cast<int64_t>(s) * kStageRows;
        const int rows = static_cast<int>(min(static_cast<int64_t>(kStageRows), t_end - t0));
        if (active && ja < rows) {
            // Token t's row of this buffer is kHalo + t - t0 (t - t0 in [-kHalo, kStageRows)).
            const unsigned char* st = smem + buf * kStageBytes + kHalo * kRowBytes + lane * 16;
            const auto row = [&](int64_t t) { return *reinterpret_cast<const P*>(st + static_cast<int>(t - t0) * kRowBytes); };
            const int64_t ta = t0 + ja;
            const int n = min(kWarpRows, rows - ja);
            while (cu[seq + 1] <= ta) ++seq;
            if (n == kWarpRows && ta - (W - 1) >= cu[seq] && ta + kWarpRows <= cu[seq + 1]) {
                // All 8 windows inside one sequence: inputs ta-(W-1) ... ta+7 from shared
                // memory, each converted once into a rolling window of W rows.
                P raw[kWarpRows + W - 1];
#pragma unroll
                for (int i = 0; i < kWarpRows + W - 1; ++i) raw[i] = row(ta - (W - 1) + i);
                float xf[W][V];
#pragma unroll
                for (int i = 0; i + 1 < W; ++i)
#pragma unroll
                    for (int v = 0; v < V; ++v) xf[i + 1][v] = fk::to_float(raw[i].v[v]);
#pragma unroll
                for (int r = 0; r < kWarpRows; ++r) {
                    P o;
#pragma unroll
                    for (int v = 0; v < V; ++v) {
#pragma unroll
                        for (int k = 0; k + 1 < W; ++k) xf[k][v] = xf[k + 1][v];
                        xf[W - 1][v] = fk::to_float(raw[r + W - 1].v[v]);
                        float acc = b[v];
#pragma unroll
                        for (int k = 0; k < W; ++k) acc = fmaf(w[v][k], xf[k][v], acc);
                        o.v[v] = finish(acc);
                    }
                    fk::store16(out + (ta + r) * p.out_stride + c, o);
                }
            } else {
                // A sequence starts inside a window (or the stage ends): row by row, positions
                // before the row's sequence start read its initial state (or zeros).
                for (int r = 0; r < n; ++r) {
                    const int64_t t = ta + r;
                    while (cu[seq + 1] <= t) ++seq;
                    const int64_t start = cu[seq];
                    float acc[V];
#pragma unroll
                    for (int v = 0; v < V; ++v) acc[v] = b[v];
#pragma unroll
                    for (int k = 0; k < W; ++k) {
                        const int64_t pos = t - (W - 1) + k;
                        if (pos >= start) {
                            const P xv = row(pos);
#pragma unroll
                            for (int v = 0; v < V; ++v) acc[v] = fmaf(w[v][k], fk::to_float(xv.v[v]), acc[v]);
                        } else if (init != nullptr) {
                            const T* iv = init + (static_cast<int64_t>(seq) * p.dim + c) * (W - 1) + (pos - start + W - 1);
#pragma unroll
                            for (int v = 0; v < V; ++v) acc[v] = fmaf(w[v][k], fk::to_float(iv[v * (W - 1)]), acc[v]);
                        }
                    }
                    P o;
#pragma unroll
                    for (int v = 0; v < V; ++v) o.v[v] = finish(acc[v]);
                    fk::store16(out + t * p.out_stride + c, o);
                }
            }
        }
        // Every warp is done reading this stage's buffer: refill it.
        __syncthreads();
        if (warp == 0 && s + kStages < nst) issue(s + kStages);
    }
#endif
}

}  // namespace conv1d
}  // namespace fk
