// Work decomposition shared by the row-normalisation kernels (rms_norm, fused_add_rms_norm,
// layer_norm): one row is owned by a warp (short rows) or by a block (long rows), and
// each thread keeps its VPT packed vectors of the row in registers, so the row is read from
// memory exactly once.
#pragma once
#include "fk/common.cuh"

namespace fk {

struct RowNormLaunch {
    int vpt;            // packed vectors per thread (1, 2, 4 or 8)
    bool warp_per_row;  // warp-per-row mode: 8 rows per 256-thread block
    int threads;
    int64_t blocks;
};

// Threads per block never exceed this, so kernels can declare __launch_bounds__(512) and
// get 128 registers per thread: room for 8 packed vectors without spilling.
constexpr int kRowNormMaxThreads = 512;

// nvec = packed vectors per row. Returns false if the row does not fit in registers
// (more than 512 threads x 8 vectors).
__host__ inline bool rownorm_config(int64_t nvec, int64_t rows, RowNormLaunch* cfg) {
    if (nvec <= 32 * 4) {
        cfg->warp_per_row = true;
        cfg->vpt = nvec <= 32 ? 1 : (nvec <= 64 ? 2 : 4);
        cfg->threads = 256;
        cfg->blocks = ceil_div(rows, 256 / 32);
        return true;
    }
    // Block per row: about 512 threads with the fewest vectors per thread that fit, which
    // keeps several 16-byte loads in flight per SM without starving occupancy.
    cfg->warp_per_row = false;
    for (int vpt = 1; vpt <= 8; vpt *= 2) {
        const int64_t t = ceil_div(nvec, vpt);
        if (t <= kRowNormMaxThreads) {
            cfg->vpt = vpt;
            cfg->threads = static_cast<int>(ceil_div(t, 32) * 32);
            cfg->blocks = rows;
            return true;
        }
    }
    return false;
}

// Row index and lane within the row group for the current thread.
template <bool WARP_PER_ROW> struct RowGroup {
    __device__ __forceinline__ int64_t row() const {
        return WARP_PER_ROW ? static_cast<int64_t>(blockIdx.x) * (blockDim.x / 32) + threadIdx.x / 32
                            : static_cast<int64_t>(blockIdx.x);
    }
    __device__ __forceinline__ int lane() const { return WARP_PER_ROW ? threadIdx.x % 32 : threadIdx.x; }
    __device__ __forceinline__ int size() const { return WARP_PER_ROW ? 32 : blockDim.x; }
    // Must be reached by every thread of the group (block mode: the whole block).
    __device__ __forceinline__ float sum(float v) const { return WARP_PER_ROW ? warp_sum(v) : block_sum(v); }
    // A second reduction in the same kernel (layer_norm's variance after its mean): block_sum
    // has one shared array per kernel, so every thread must have read the first result
    // before the partials are overwritten.
    __device__ __forceinline__ float sum_again(float v) const {
        if (!WARP_PER_ROW) __syncthreads();
        return sum(v);
    }
};

}  // namespace fk

// Instantiate KERNEL<T, N, VPT, WARP> for the chosen config and launch it.
#define FK_ROWNORM_LAUNCH(cfg, T, N, KERNEL, stream, ...)                                        \
    do {                                                                                        \
        const dim3 grid_(static_cast<unsigned>((cfg).blocks)), block_((cfg).threads);           \
        if ((cfg).warp_per_row) {                                                               \
            switch ((cfg).vpt) {                                                                \
                case 1: KERNEL<T, N, 1, true><<<grid_, block_, 0, stream>>>(__VA_ARGS__); break; \
                case 2: KERNEL<T, N, 2, true><<<grid_, block_, 0, stream>>>(__VA_ARGS__); break; \
                default: KERNEL<T, N, 4, true><<<grid_, block_, 0, stream>>>(__VA_ARGS__); break; \
            }                                                                                   \
        } else {                                                                                \
            switch ((cfg).vpt) {                                                                \
                case 1: KERNEL<T, N, 1, false><<<grid_, block_, 0, stream>>>(__VA_ARGS__); break; \
                case 2: KERNEL<T, N, 2, false><<<grid_, block_, 0, stream>>>(__VA_ARGS__); break; \
                case 4: KERNEL<T, N, 4, false><<<grid_, block_, 0, stream>>>(__VA_ARGS__); break; \
                default: KERNEL<T, N, 8, false><<<grid_, block_, 0, stream>>>(__VA_ARGS__); break; \
            }                                                                                   \
        }                                                                                       \
    } while (0)

// FK_ROWNORM_LAUNCH with programmatic dependent launch (fk::launch_pdl): KERNEL must begin
// with fk::pdl_grid_sync(). The baselines use it; a candidate may keep the plain one.
#define FK_ROWNORM_LAUNCH_PDL(cfg, T, N, KERNEL, stream, ...)                                        \
    do {                                                                                        \
        const dim3 grid_(static_cast<unsigned>((cfg).blocks)), block_((cfg).threads);           \
        if ((cfg).warp_per_row) {                                                               \
            switch ((cfg).vpt) {                                                                \
                case 1: (void)fk::launch_pdl(KERNEL<T, N, 1, true>, grid_, block_, 0, stream, __VA_ARGS__); break; \
                case 2: (void)fk::launch_pdl(KERNEL<T, N, 2, true>, grid_, block_, 0, stream, __VA_ARGS__); break; \
                default: (void)fk::launch_pdl(KERNEL<T, N, 4, true>, grid_, block_, 0, stream, __VA_ARGS__); break; \
            }                                                                                   \
        } else {                                                                                \
            switch ((cfg).vpt) {                                                                \
                case 1: (void)fk::launch_pdl(KERNEL<T, N, 1, false>, grid_, block_, 0, stream, __VA_ARGS__); break; \
                case 2: (void)fk::launch_pdl(KERNEL<T, N, 2, false>, grid_, block_, 0, stream, __VA_ARGS__); break; \
                case 4: (void)fk::launch_pdl(KERNEL<T, N, 4, false>, grid_, block_, 0, stream, __VA_ARGS__); break; \
                default: (void)fk::launch_pdl(KERNEL<T, N, 8, false>, grid_, block_, 0, stream, __VA_ARGS__); break; \
            }                                                                                   \
        }                                                                                       \
    } while (0)
