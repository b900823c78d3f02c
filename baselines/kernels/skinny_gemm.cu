// skinny_gemm baseline (L1). Contract: include/fk/ops/skinny_gemm.h. sm_80+.
// Memory-bound GEMV: each warp owns one weight row (or a share of it, see SPLIT) and walks k
// with 16-byte loads, U chunks of 32 lanes x 16 B issued back to back before any math, so
// every lane has U independent weight loads in flight (what keeps HBM busy; a loop that loads
// and uses one vector at a time leaves the SM waiting on latency). The M activation rows are
// tiny and shared by every warp, so they are read through the read-only/L1 path. Each dot
// product is reduced across the warp at the end; lane m writes out[m, n]. Launched with
// programmatic dependent launch (see below): in a decode step the GEMVs follow each other and
// small kernels, and each kernel's ramp-up and tail otherwise leave HBM idle for microseconds
// per launch.
#include <algorithm>

#include "fk/skinny/pieces.cuh"
#include "fk/skinny/stream_sm90.cuh"

#ifndef FK_SM90A
#define FK_SM90A 0
#endif

namespace {

using fk::skinny::conv_step;
using fk::dot16_acc;
using fk::skinny::ld_act;

// Measured on the H100 (experiments/skinny_gemm): one weight row per warp and 4 chunks in
// flight per lane beat 2 rows per warp and deeper unrolling at every Llama-3.1-8B shape.
// Run 50 (H200) again for Mamba-1's one-row GEMVs: loading a warp's whole 5-10-chunk share
// in one round (U = 10) made mamba-2.8b's graph decode step slower, 2184-2186 -> 2265 us
// (in_proj alone 17.6-18.4 -> 19.2-21.0 us: 64 registers, half the CTAs per SM).
constexpr int kWarps = 4;
constexpr int kUnroll = 4;  // U

// SPLIT warps per weight row (kWarps / SPLIT rows per CTA); lanes walk their warp's share of
// k in 16-byte chunks, U chunks per lane loaded back to back, then multiplied. SPLIT = 1 is the
// plain GEMV; SPLIT = kWarps serves long rows (see split_rows): one warp per row walks its row
// serially, one round trip to memory per U chunks, and with few output features (Mamba's
// x_proj: 192 x 5120) also leaves most SMs idle. Offsets within a row are 32-bit
// (the launcher checks k < 2^31): the measured cost of 64-bit index math and of double
// buffering here was 5-15% at Llama's decode shapes (experiments/skinny_gemm), the loop being
// issue-bound once loads are in flight.
//
// U: chunks per lane per round (kUnroll, or kWideUnroll for the split rows of one_round).
template <typename T, int M, int SPLIT, bool CONV, int U = kUnroll>
__global__ void __launch_bounds__(kWarps * 32) skinny_gemm_kernel(fk_skinny_gemm_params p) {
    static_assert(kWarps % SPLIT == 0, "a CTA holds whole rows");
    constexpr int V = 16 / sizeof(T);
    constexpr int chunk = 32 * V;
    constexpr int stride = SPLIT * chunk;  // k between a lane's consecutive chunks
    const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, part = warp % SPLIT;
    const int64_t n = int64_t(blockIdx.x) * (kWarps / SPLIT) + warp / SPLIT;
    // SPLIT > 1 meets at a barrier below: a row past the end still reaches it.
    const bool live = n < p.n;
    if (SPLIT == 1 && !live) return;
    const int k = live ? static_cast<int>(p.k) : 0, rows = static_cast<int>(p.rows);
    const T* x = static_cast<const T*>(p.x);
    const T* wr = static_cast<const T*>(p.weight) + (live ? n : 0) * p.k;
    // Launched early under programmatic dependent launch: x is the previous kernel's output,
    // so wait for it. A settled weight (a model parameter) is not: its first U chunks are
    // requested before the wait, so HBM streams them while the previous kernel finishes.
    const bool settled = p.flags & FK_SKINNY_GEMM_WEIGHT_SETTLED;
    if (!settled) fk::pdl_grid_sync();

    // U chunks of this lane's share of the row from k0 on, loaded back to back. The weight is
    // read exactly once: stream it past L1 (__ldcs). Past the row end: zero bits (every float
    // type's +0), no load.
    fk::Packed<T, V> wv[U];
    const auto load_round = [&](int k0) {
#pragma unroll
        for (int u = 0; u < U; ++u) {
            const int kk = k0 + u * stride;
            const uint4 raw = kk < k ? __ldcs(reinterpret_cast<const uint4*>(wr + kk)) : make_uint4(0, 0, 0, 0);
            memcpy(&wv[u], &raw, sizeof(raw));
        }
    };
    int k0 = (part * 32 + lane) * V;
    load_round(k0);
    if (settled) fk::pdl_grid_sync();

    float acc[M];
#pragma unroll
    for (int m = 0; m < M; ++m) acc[m] = 0.f;
    while (k0 < k) {
#pragma unroll
        for (int u = 0; u < U; ++u) {
            const int kk = k0 + u * stride;
            if (kk >= k) break;
#pragma unroll
            for (int m = 0; m < M; ++m) {
                if (m >= rows) break;
                acc[m] = dot16_acc(wv[u], ld_act<T, V>(x + m * p.x_stride + kk), acc[m]);
            }
        }
        k0 += U * stride;
        if (k0 < k) load_round(k0);
    }
#pragma unroll
    for (int m = 0; m < M; ++m) acc[m] = fk::warp_sum(acc[m]);
    if constexpr (SPLIT > 1) {
        // The row's warps add their partial sums through shared memory; its first warp stores.
        __shared__ float partial[kWarps][M];
        if (lane == 0) {
#pragma unroll
            for (int m = 0; m < M; ++m) partial[warp][m] = acc[m];
        }
        __syncthreads();
        if (part != 0) return;
#pragma unroll
        for (int m = 0; m < M; ++m) {
            float s = 0.f;
#pragma unroll
            for (int w = 0; w < SPLIT; ++w) s += partial[warp + w][m];
            acc[m] = s;
        }
    }
    if (!live) return;
    T* out = static_cast<T*>(p.out);
    const T* bias = static_cast<const T*>(p.bias);
    const float b = bias != nullptr ? fk::to_float(bias[n]) : 0.f;
#pragma unroll
    for (int m = 0; m < M; ++m) {
        if (lane != m || m >= rows) continue;
        const T y = fk::from_float<T>(acc[m] + b);
        out[m * p.out_stride + n] = y;
        if constexpr (CONV) {
            if (n >= p.conv_begin && n < p.conv_begin + p.conv_dim) conv_step<T>(p, m, n - p.conv_begin, y);
        }
    }
}

// The current device's SM count for the variant choices below; 0 if the query fails, which
// only costs the faster variant (the error is cleared, not left for the launch to report).
int sm_count() {
    int dev = 0, sms = 0;
    if (cudaGetDevice(&dev) != cudaSuccess || cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, dev) != cudaSuccess) {
        (void)cudaGetLastError();
        return 0;
    }
    return sms;
}

// Split rows over a CTA's warps when one warp per row would not give every SM a CTA and each
// warp would walk several rounds of U chunks, or whenever a row takes 4+ rounds. Run 37 (H200,
// A/B in one call): splitting every row of 4+ rounds took Llama-3.1-8B's single-request decode
// step from 4.77 to 4.54 ms (73.7 -> 77.3 % of copy) and Mamba-2's (Codestral) from 4727 to
// 4494 us (74.1 -> 78.3 %): a warp's whole row is several serial round trips, so the grid ends
// on a long tail of CTAs; a quarter row each is one round. Mamba-1's 2.5-round in_proj was a
// little slower split (2366 -> 2381 us with it), hence the 4-round threshold.
bool split_rows(const fk_skinny_gemm_params* p, int elem_bytes) {
    const int64_t round = int64_t(kUnroll) * 32 * (16 / elem_bytes);  // k one warp covers per round
    if (p->k >= 4 * round) return true;
    if (p->k < 2 * round) return false;
    // Only rows of 2-3 rounds depend on the grid filling the GPU: ask for the SM count then.
    return fk::ceil_div(p->n, kWarps) < sm_count();
}

// A split row whose quarter is at most kWideUnroll chunks per lane is loaded in one round:
// with kUnroll a quarter of 5-8 chunks (Mamba-1's x_proj, 192 x 5120) takes a second round
// whose load is a dependent HBM round trip after the PDL wait, on the decode step's serial
// path. Only for grids too small to fill the GPU twice (the wider round costs registers,
// hence CTAs per SM, which a many-CTA GEMV needs: run 50) and one or two rows. Run 73 (H200,
// mamba-2.8b batch-1 graph decode, one call): 2108.7 us with kUnroll, 2097.5 and 2098.0 with
// this rule, 2104.1 with it on every grid (out_proj too): a small gain, ~0.5 %.
constexpr int kWideUnroll = 8;
bool one_round(const fk_skinny_gemm_params* p, int elem_bytes) {
    const int64_t chunks = p->k * elem_bytes / 16;
    if (chunks > int64_t(kWarps) * 32 * kWideUnroll || chunks <= int64_t(kWarps) * 32 * kUnroll) return false;
    return p->n <= 2 * int64_t(sm_count());
}

template <typename T, int M, bool CONV> cudaError_t launch_m(const fk_skinny_gemm_params* p, cudaStream_t stream) {
    if (split_rows(p, sizeof(T))) {
        FK_REQUIRE(p->n <= 0x7fffffff);
        if constexpr (M <= 2) {
            if (one_round(p, sizeof(T)))
                return fk::launch_pdl(skinny_gemm_kernel<T, M, kWarps, CONV, kWideUnroll>, dim3(static_cast<unsigned>(p->n)), dim3(kWarps * 32), 0, stream, *p);
        }
        return fk::launch_pdl(skinny_gemm_kernel<T, M, kWarps, CONV>, dim3(static_cast<unsigned>(p->n)), dim3(kWarps * 32), 0, stream, *p);
    }
    const int64_t blocks = fk::ceil_div(p->n, kWarps);
    FK_REQUIRE(blocks <= 0x7fffffff);
    return fk::launch_pdl(skinny_gemm_kernel<T, M, 1, CONV>, dim3(static_cast<unsigned>(blocks)), dim3(kWarps * 32), 0, stream, *p);
}

#if FK_SM90A
// One row of x and a weight big enough that a GEMV's ramp and tail matter (4 MB: below, the
// op is a few microseconds of latency either way, and too few rows per CTA leave SMs idle):
// the streaming kernel (skinny/stream_sm90.cuh). Its x chunks live in registers, which bounds k.
bool use_stream(const fk_skinny_gemm_params* p, int elem_bytes) {
    if (!(p->flags & FK_SKINNY_GEMM_STREAM)) return false;
    const int64_t chunks = p->k * elem_bytes / 16;
    return p->rows == 1 && chunks <= int64_t(fk::skinny::kStreamMaxChunks) * fk::skinny::kStreamThreads && p->n * p->k * elem_bytes >= (int64_t(4) << 20);
}

template <typename T, int R, bool CONV> cudaError_t launch_stream_r(const fk_skinny_gemm_params* p, cudaStream_t stream) {
    using namespace fk::skinny;
    const int64_t row_bytes = p->k * int64_t(sizeof(T));
    const int64_t per_stage = fk::skinny::stream_smem_bytes(R, row_bytes, 1) - 2 * R * kStreamWarps * 4;
    // Two CTAs per SM, row groups interleaved over the grid, one bulk copy per stage: the best
    // of run 46's sweep (1 or 2 CTAs per SM, contiguous or interleaved rows, 4 KB or whole-
    // stage copies) on Mamba-2's decode step; one CTA per SM was 4-8 % slower there.
    constexpr int cps = 2;
    const int budget = kStreamSmemBudget / cps;
    const int stages = static_cast<int>(std::min<int64_t>(kStreamMaxStages, (budget - 2 * R * kStreamWarps * 4) / per_stage));
    FK_REQUIRE(stages >= 2);
    const int64_t smem = stream_smem_bytes(R, row_bytes, stages);
    const StreamKnobs kn{stages, 0, 1};
    auto kernel = stream_gemv_kernel<T, R, CONV>;
    cudaError_t e = cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, kStreamSmemBudget);
    if (e != cudaSuccess) return e;
    int dev = 0, sms = 0;
    e = cudaGetDevice(&dev);
    if (e == cudaSuccess) e = cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, dev);
    if (e != cudaSuccess) return e;
    // cps CTAs per SM (their stages fill shared memory); fewer when there are fewer rows.
    const int64_t grid = std::min<int64_t>(int64_t(sms) * cps, p->n);
    return fk::launch_pdl(kernel, dim3(static_cast<unsigned>(grid)), dim3(kStreamThreads), size_t(smem), stream, *p, kn);
}

// Rows per stage: as many whole rows as fit kStreamStageTarget bytes (1, 2, 4 or 8).
template <typename T, bool CONV> cudaError_t launch_stream(const fk_skinny_gemm_params* p, cudaStream_t stream) {
    const int64_t row_bytes = p->k * int64_t(sizeof(T)), target = fk::skinny::kStreamStageTarget;
    if (8 * row_bytes <= target) return launch_stream_r<T, 8, CONV>(p, stream);
    if (4 * row_bytes <= target) return launch_stream_r<T, 4, CONV>(p, stream);
    if (2 * row_bytes <= target) return launch_stream_r<T, 2, CONV>(p, stream);
    return launch_stream_r<T, 1, CONV>(p, stream);
}
#endif

template <typename T, bool CONV> cudaError_t launch(const fk_skinny_gemm_params* p, cudaStream_t stream) {
#if FK_SM90A
    if (use_stream(p, sizeof(T))) return launch_stream<T, CONV>(p, stream);
#endif
    // One instantiation per row-count bucket keeps the accumulators in registers.
    if (p->rows <= 1) return launch_m<T, 1, CONV>(p, stream);
    if (p->rows <= 2) return launch_m<T, 2, CONV>(p, stream);
    if (p->rows <= 4) return launch_m<T, 4, CONV>(p, stream);
    return launch_m<T, 8, CONV>(p, stream);
}

}  // namespace

FK_OP_LAUNCHER(skinny_gemm)(const fk_skinny_gemm_params* p, cudaStream_t stream) {
    FK_REQUIRE(p != nullptr && stream != nullptr);
    FK_REQUIRE(p->rows >= 0 && p->rows <= FK_SKINNY_GEMM_MAX_ROWS && p->n >= 0 && p->k > 0 && p->k < (int64_t(1) << 31));
    FK_REQUIRE((p->flags & ~(FK_SKINNY_GEMM_WEIGHT_SETTLED | FK_SKINNY_GEMM_STREAM)) == 0);
    if (p->rows == 0 || p->n == 0) return cudaSuccess;
    FK_REQUIRE(p->out && p->x && p->weight);
    const int eb = fk::dtype_bytes(p->dtype);
    FK_REQUIRE(eb == 2 || eb == 4);
    const int64_t v = 16 / eb;
    FK_REQUIRE(p->k % v == 0 && p->x_stride % v == 0 && p->x_stride >= p->k && p->out_stride >= p->n);
    for (const void* ptr : {p->x, p->weight})
        FK_REQUIRE(reinterpret_cast<uintptr_t>(ptr) % 16 == 0);
    const bool conv = p->conv_state != nullptr;
    if (conv) {
        FK_REQUIRE(p->conv_out && p->conv_weight);
        FK_REQUIRE(p->conv_width >= 2 && p->conv_width <= FK_CAUSAL_CONV1D_MAX_WIDTH);
        FK_REQUIRE(p->conv_begin >= 0 && p->conv_dim > 0 && p->conv_begin + p->conv_dim <= p->n && p->conv_out_stride >= p->conv_dim);
        FK_REQUIRE(p->conv_state_indices ? p->conv_state_rows >= 1 : p->conv_state_rows == p->rows);
    }
    FK_DISPATCH_FLOAT(p->dtype, T, { return conv ? launch<T, true>(p, stream) : launch<T, false>(p, stream); });
    return cudaErrorInvalidValue;
}
