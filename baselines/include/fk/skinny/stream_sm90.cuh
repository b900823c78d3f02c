// skinny_gemm's one-row kernel for sm_90 (the batch-1 decode GEMV): the weight streamed into
// shared memory by bulk copies (TMA, cp.async.bulk), a few whole rows per stage.
//
// Why: the warp-per-row kernel (skinny_gemm.cu) keeps U 16-byte loads per lane in flight and
// walks a row in serial rounds; its grid is many short CTAs, so each GEMV pays a ramp (CTAs
// launching, first loads in flight) and a tail (the last wave's rounds) that HBM spends idle.
// ncu on the H200 (run 44, each kernel alone): Mamba-1's in_proj (52 MB) 17-20 us, 56-64 % of
// copy; out_proj (26 MB) ~10 us, ~54 %; Codestral's out_proj (67 MB) ~21 us, ~70 %. Here a
// few CTAs (two per SM, see the launcher) take groups of whole rows (a group of rows is one
// run of bytes: the weight is row-major) and keep ~100 KB each in flight through a ring of
// stages: the GPU's first ~26 MB are requested by a few hundred threads at once, every CTA
// ends within a stage of the others, and a stage's consumers only read shared memory.
// Measured (runs 45-47, H200): alone, each GEMV runs about as fast as the warp-per-row kernel
// (ncu, within +-5 %); inside Mamba-2's decode step, at two CTAs per SM with interleaved rows,
// the step is 4 % faster (4408 -> 4237 us), Mamba-1's unchanged, Llama-3.1-8B's 3 % slower
// (4.62 -> 4.76 ms). So it is a call site's choice (FK_SKINNY_GEMM_STREAM), not a default:
// Mamba-2's decode in_proj and out_proj take it (run 48, A/B in one call: 4411-4418 ->
// 4243-4245 us, 79.7-79.9 -> 83.3-83.6 % of copy; Llama and Mamba-1 unchanged).
//
// Work split inside a stage: thread t owns the 16-byte chunks t, t + 256, ... of every row
// (the same columns in each row), so its x chunks are loaded once, into registers, and reused
// for every row; a row's sum is reduced over the CTA (warp shuffles, then 8 partials in shared
// memory). Requires one x row and k <= kStreamMaxChunks * 256 16-byte chunks (16384 bf16
// columns).
#pragma once
#include "fk/attention/sm90_sync.cuh"
#include "fk/skinny/pieces.cuh"

namespace fk {
namespace skinny {

constexpr int kStreamThreads = 256;
constexpr int kStreamWarps = kStreamThreads / 32;
constexpr int kStreamMaxChunks = 8;              // x chunks per thread
constexpr int kStreamStageTarget = 40 * 1024;    // bytes of weight per stage, at most
constexpr int kStreamSmemBudget = 224 * 1024;    // stages + barriers + partial sums
constexpr int kStreamMaxStages = 8;

// Bytes of dynamic shared memory for `stages` stages of R rows of k elements.
__host__ __device__ constexpr int64_t stream_smem_bytes(int R, int64_t row_bytes, int stages) {
    return stages * R * row_bytes + stages * 8 + 2 * R * kStreamWarps * 4;
}

// The launch's choices (run 46 swept them; the launcher fixes the best): `piece` bytes per bulk
// copy (0: one copy per stage); `interleave`: stage s of CTA b holds row group s * grid + b
// (neighbouring CTAs stream neighbouring rows, as the warp-per-row grid does) instead of a
// contiguous block of rows per CTA.
struct StreamKnobs {
    int stages;
    int piece;
    int interleave;
};

template <typename T, int R, bool CONV>
__global__ void __launch_bounds__(kStreamThreads, 1) stream_gemv_kernel(const fk_skinny_gemm_params p, const StreamKnobs kn) {
    const int stages = kn.stages;
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
    constexpr int V = 16 / sizeof(T);
    extern __shared__ __align__(128) unsigned char smem[];
    const int k = static_cast<int>(p.k), chunks = k / V;
    const uint32_t row_bytes = static_cast<uint32_t>(k) * sizeof(T), stage_bytes = R * row_bytes;
    uint64_t* bars = reinterpret_cast<uint64_t*>(smem + static_cast<size_t>(stages) * stage_bytes);
    float(*partial)[R][kStreamWarps] = reinterpret_cast<float(*)[R][kStreamWarps]>(bars + stages);
    const uint32_t smem_base = static_cast<uint32_t>(__cvta_generic_to_shared(smem));
    const uint32_t bar_base = static_cast<uint32_t>(__cvta_generic_to_shared(bars));

    // This CTA's rows. Contiguous: an equal share of n (the first n % grid CTAs one more),
    // stage s its rows s*R ... Interleaved: row groups of R, group s * grid + b at stage s.
    int64_t r0 = 0;
    int count = 0, nst = 0;
    if (kn.interleave) {
        const int64_t groups = (p.n + R - 1) / R;
        nst = static_cast<int>(groups > blockIdx.x ? (groups - blockIdx.x + gridDim.x - 1) / gridDim.x : 0);
    } else {
        const int64_t per = p.n / gridDim.x, extra = p.n % gridDim.x;
        r0 = blockIdx.x * per + (static_cast<int64_t>(blockIdx.x) < extra ? blockIdx.x : extra);
        count = static_cast<int>(per + (blockIdx.x < extra ? 1 : 0));
        nst = (count + R - 1) / R;
    }
    // First row and row count of stage s.
    const auto stage_row = [&](int s) -> int64_t {
        return kn.interleave ? (static_cast<int64_t>(s) * gridDim.x + blockIdx.x) * R : r0 + static_cast<int64_t>(s) * R;
    };
    const auto stage_rows = [&](int s) -> int {
        return kn.interleave ? static_cast<int>(min(static_cast<int64_t>(R), p.n - stage_row(s))) : min(R, count - s * R);
    };
    const T* w = static_cast<const T*>(p.weight);
    const int tid = threadIdx.x, warp = tid / 32, lane = tid % 32;

    const auto issue = [&](int s) {
        const uint32_t bytes = stage_rows(s) * row_bytes;
        const uint32_t bar = bar_base + 8u * static_cast<uint32_t>(s % stages);
        const uint32_t dst = smem_base + static_cast<uint32_t>(s % stages) * stage_bytes;
        const unsigned char* src = reinterpret_cast<const unsigned char*>(w + stage_row(s) * k);
        fk::attn::mbar_arrive_expect_tx(bar, bytes);
        const uint32_t piece = kn.piece > 0 ? static_cast<uint32_t>(kn.piece) : bytes;
        for (uint32_t off = 0; off < bytes; off += piece) fk::attn::bulk_load(dst + off, src + off, min(piece, bytes - off), bar);
    };
    const bool settled = p.flags & FK_SKINNY_GEMM_WEIGHT_SETTLED;
    if (tid == 0) {
        for (int b = 0; b < stages; ++b) fk::attn::mbar_init(bar_base + 8u * b, 1);
        fk::attn::mbar_init_fence();
        // A settled weight is not the previous kernel's output: stream it while that finishes.
        if (settled)
            for (int s = 0; s < min(stages, nst); ++s) issue(s);
    }
    __syncthreads();
    fk::pdl_grid_sync();
    if (tid == 0 && !settled)
        for (int s = 0; s < min(stages, nst); ++s) issue(s);

    // x (the previous kernel's output) into registers: chunk tid + c * 256 of the row.
    const T* x = static_cast<const T*>(p.x);
    fk::Packed<T, V> xr[kStreamMaxChunks];
#pragma unroll
    for (int c = 0; c < kStreamMaxChunks; ++c) {
        const int q = tid + c * kStreamThreads;
        if (q < chunks) xr[c] = ld_act<T, V>(x + static_cast<int64_t>(q) * V);
    }
    const T* bias = static_cast<const T*>(p.bias);
    T* out = static_cast<T*>(p.out);

    for (int s = 0; s < nst; ++s) {
        const int buf = s % stages, rows = stage_rows(s);
        fk::attn::mbar_wait(bar_base + 8u * buf, static_cast<uint32_t>((s / stages) & 1));
        const unsigned char* st = smem + static_cast<size_t>(buf) * stage_bytes;
        float acc[R];
#pragma unroll
        for (int j = 0; j < R; ++j) {
            acc[j] = 0.f;
            if (j >= rows) continue;
#pragma unroll
            for (int c = 0; c < kStreamMaxChunks; ++c) {
                const int q = tid + c * kStreamThreads;
                if (q >= chunks) break;
                fk::Packed<T, V> wv;
                const uint4 raw = *reinterpret_cast<const uint4*>(st + j * row_bytes + q * 16);
                memcpy(&wv, &raw, sizeof(raw));
                acc[j] = fk::dot16_acc(wv, xr[c], acc[j]);
            }
        }
#pragma unroll
        for (int j = 0; j < R; ++j) {
            const float v = fk::warp_sum(acc[j]);
            if (lane == 0) partial[s & 1][j][warp] = v;
        }
        // Every thread is done reading this stage (its buffer can be refilled) and the
        // partials are in. partial is double-buffered: stage s + 1 writes the other half while
        // stage s's sums are read below.
        __syncthreads();
        if (tid == 0 && s + stages < nst) issue(s + stages);
        if (tid < rows) {
            float y = 0.f;
#pragma unroll
            for (int i = 0; i < kStreamWarps; ++i) y += partial[s & 1][tid][i];
            const int64_t n = stage_row(s) + tid;
            if (bias != nullptr) y += fk::to_float(bias[n]);
            out[n] = fk::from_float<T>(y);
        }
    }
    if constexpr (CONV) {
        // The conv steps after the stream, all threads at once: a step reads the conv state
        // (a round trip to memory), which inside the loop would stall every stage's barrier.
        // out was written by this CTA's threads; __syncthreads orders it for the readers.
        __syncthreads();
        for (int i = tid; i < nst * R; i += kStreamThreads) {
            const int s = i / R, j = i % R;
            if (j >= stage_rows(s)) continue;
            const int64_t n = stage_row(s) + j;
            if (n >= p.conv_begin && n < p.conv_begin + p.conv_dim) conv_step<T>(p, 0, n - p.conv_begin, out[n]);
        }
    }
#endif
}

}  // namespace skinny
}  // namespace fk
