// selective_scan baseline (L1). Contract: include/fk/ops/selective_scan.h.
// Mirrors Dao-AILab `selective_scan_fwd` (Mamba-1 prefill, varlen as vLLM runs it). Any sm_80+.
//
// Work split. The recurrence h_t = a_t h_{t-1} + b_t is sequential in time, and one long
// sequence has only dim (5120 for mamba-2.8b) independent channels: too few threads to keep a
// GPU busy if each walked its channel's whole sequence alone. So time is also split: a block
// owns 16 channels of one sequence (4 per warp) and walks it in chunks of 128 tokens; inside a
// chunk each channel's 8 lanes own 16 consecutive tokens each (8 at d_state > 32). Per state n a lane reduces its
// tokens to one affine map h -> P h + Q, an 8-lane shuffle scan composes the maps, and each
// lane then replays its tokens from the exact incoming state. exp(dt*A) is computed once per
// (token, channel, state): the exponentials, not the bytes, bound this op at d_state 16, so
// nothing is recomputed. The chunk's B and C rows (shared by all channels) are staged in
// shared memory once per block, laid out for conflict-free 16-byte reads (see slot()).
// Per-channel inputs (u, delta, z) and the output are read/written once, as row segments of
// the 16 channels of the block (full 32-byte sectors in 16-bit types).
// Cost model (mamba-2.8b, d_state 16, from the sm_90a SASS, not yet measured): the per-state
// loop is ~8 issue slots per (token, channel, state) against one MUFU exp2 (8 cycles per
// warp at 16 MUFU lanes/clk/SM), i.e. exp-bound; the per-(token, channel) work outside it
// (loads, softplus via log1pf, silu, store) and the B/C staging add about as much again, so
// 8k tokens x 5120 channels should take ~0.3 ms on an H200 against ~85 us to move the bytes
// (~30% of copy bandwidth). The next step would be a cheaper accurate softplus and vector
// loads of B/C; see the report of issue 7.
#include "fk/ops/selective_scan.h"
#include "fk/ssm.cuh"

namespace {

constexpr int kSeg = 8;          // time lanes per channel
constexpr int kThreads = 128;
constexpr int kChanPerBlock = kThreads / kSeg;

// 2^x for x <= 0 (a decay): a decay below 2^-126 is 0 for every purpose.
__device__ __forceinline__ float decay2(float x) { return fk::ex2_ftz(x); }

// Shared-memory slot of (state n, chunk row r = lane * ITEMS + item): the 8 time lanes of a
// channel read their 4 consecutive items of one state as one 16-byte load, the 8 loads
// together one contiguous 128-byte line (no bank conflict; the other channels of the warp
// read the same line, a broadcast). The pitch of 4 extra floats per state keeps the fill's
// writes (consecutive threads, consecutive n) at most 4-way conflicted.
template <int ITEMS>
__device__ __forceinline__ int slot(int n, int r) {
    constexpr int kChunk = kSeg * ITEMS;
    const int lane = r / ITEMS, item = r % ITEMS;
    return n * (kChunk + 4) + (item / 4) * (kSeg * 4) + lane * 4 + item % 4;
}

template <typename T, int NS, int ITEMS>
// 3 blocks per SM (at most 168 registers): 320 blocks of mamba-2.8b's one-sequence prefill
// then fit in one wave of 132 SMs.
__global__ void __launch_bounds__(kThreads, 3) scan_kernel(const fk_selective_scan_params p) {
    constexpr int kChunk = kSeg * ITEMS;
    __shared__ __align__(16) float sB[NS * (kChunk + 4)];
    __shared__ __align__(16) float sC[NS * (kChunk + 4)];
    __shared__ float sA[kChanPerBlock][NS + 1];  // A * log2(e) of the block's channels

    const int tid = threadIdx.x, lane = tid % kSeg;
    const int64_t d0 = static_cast<int64_t>(blockIdx.x) * kChanPerBlock;
    const int64_t d = d0 + tid / kSeg;
    const bool valid = d < p.dim;
    const int s = blockIdx.y, N = p.d_state;
    const int64_t start = p.cu_seqlens[s], end = p.cu_seqlens[s + 1];
    const T* u = static_cast<const T*>(p.u);
    const T* delta = static_cast<const T*>(p.delta);
    const T* z = static_cast<const T*>(p.z);
    const T* Bm = static_cast<const T*>(p.B);
    const T* Cm = static_cast<const T*>(p.C);
    T* out = static_cast<T*>(p.out);
    const float dbias = (valid && p.delta_bias) ? p.delta_bias[d] : 0.f;
    const float Dd = (valid && p.D) ? p.D[d] : 0.f;

    for (int i = tid; i < kChanPerBlock * N; i += kThreads) {
        const int c = i / N, n = i % N;
        sA[c][n] = d0 + c < p.dim ? p.A[(d0 + c) * N + n] * fk::kLog2e : 0.f;
    }

    float h[NS];  // the channel's state entering the chunk (same in all 8 lanes)
#pragma unroll
    for (int n = 0; n < NS; ++n) h[n] = (valid && n < N && p.initial_state) ? p.initial_state[(s * p.dim + d) * N + n] : 0.f;

    for (int64_t c0 = start; c0 < end; c0 += kChunk) {
        __syncthreads();  // sA is written; the previous chunk's readers of sB/sC are done
        {
            // Thread -> (state, first row) with compile-time strides (no runtime division);
            // consecutive threads read consecutive states of a row: coalesced.
            static_assert(kThreads % NS == 0 && kChunk % (kThreads / NS) == 0, "fill layout");
            constexpr int kRowsPerPass = kThreads / NS;
            const int n = tid % NS, r0 = tid / NS;
            if (n < N) {
                const T* bp = Bm + (c0 + r0) * p.b_stride + n;
                const T* cp = Cm + (c0 + r0) * p.c_stride + n;
#pragma unroll 4
                for (int k = 0; k < kChunk / kRowsPerPass; ++k) {
                    const int r = r0 + k * kRowsPerPass;
                    const bool in = c0 + r < end;
                    sB[slot<ITEMS>(n, r)] = in ? fk::to_float(bp[k * kRowsPerPass * p.b_stride]) : 0.f;
                    sC[slot<ITEMS>(n, r)] = in ? fk::to_float(cp[k * kRowsPerPass * p.c_stride]) : 0.f;
                }
            }
        }
        __syncthreads();

        // Tokens past the end (or invalid channels) get dt = 0, u = 0: the identity map.
        // y starts as the skip term D*u, so u need not stay in registers. All loads are
        // issued before any use, so their latencies overlap instead of adding up.
        const int64_t t0 = c0 + lane * ITEMS;
        const int64_t rem = end - t0;  // this lane's tokens in the sequence (may be <= 0)
        const int nin = (!valid || rem <= 0) ? 0 : (rem < ITEMS ? static_cast<int>(rem) : ITEMS);
        T rd[ITEMS], ru[ITEMS];
        {
            // Row pointers bumped by the stride (a 64-bit add) rather than recomputed from
            // i * stride (a 64-bit multiply per item).
            const T* dp = delta + t0 * p.delta_stride + d;
            const T* up = u + t0 * p.u_stride + d;
#pragma unroll
            for (int i = 0; i < ITEMS; ++i) {
                rd[i] = i < nin ? *dp : fk::from_float<T>(0.f);
                ru[i] = i < nin ? *up : fk::from_float<T>(0.f);
                dp += p.delta_stride;
                up += p.u_stride;
            }
        }
        float dt[ITEMS], du[ITEMS], y[ITEMS];
        float dt_sum = 0.f;
#pragma unroll
        for (int i = 0; i < ITEMS; ++i) {
            // Branch-free: every item computes its step, the missing ones are zeroed.
            float v = fk::to_float(rd[i]) + dbias;
            if (p.delta_softplus) v = fk::softplus(v);
            v = i < nin ? v : 0.f;
            const float uv = fk::to_float(ru[i]);
            dt[i] = v;
            dt_sum += v;
            du[i] = v * uv;
            y[i] = Dd * uv;
        }

#pragma unroll
        for (int n = 0; n < NS; ++n) {
            if (n >= N) break;
            const float a = sA[tid / kSeg][n];
            float dA[ITEMS], bx[ITEMS], cv[ITEMS];
#pragma unroll
            for (int q = 0; q < ITEMS / 4; ++q) {
                const float4 b4 = *reinterpret_cast<const float4*>(&sB[slot<ITEMS>(n, lane * ITEMS + 4 * q)]);
                const float4 c4 = *reinterpret_cast<const float4*>(&sC[slot<ITEMS>(n, lane * ITEMS + 4 * q)]);
                bx[4 * q] = b4.x; bx[4 * q + 1] = b4.y; bx[4 * q + 2] = b4.z; bx[4 * q + 3] = b4.w;
                cv[4 * q] = c4.x; cv[4 * q + 1] = c4.y; cv[4 * q + 2] = c4.z; cv[4 * q + 3] = c4.w;
            }
            // This lane's tokens as the map h -> P h + Q. P, the product of the decays, is
            // one exponential of the summed steps (one MUFU instead of ITEMS multiplies).
            float P = decay2(dt_sum * a), Q = 0.f;
#pragma unroll
            for (int i = 0; i < ITEMS; ++i) {
                dA[i] = decay2(dt[i] * a);
                bx[i] *= du[i];
                Q = fmaf(dA[i], Q, bx[i]);
            }
            // Inclusive scan of the maps over the 8 lanes (earlier lanes' maps apply first).
#pragma unroll
            for (int off = 1; off < kSeg; off *= 2) {
                const float Pp = __shfl_up_sync(0xffffffffu, P, off, kSeg);
                const float Qp = __shfl_up_sync(0xffffffffu, Q, off, kSeg);
                if (lane >= off) {
                    Q = fmaf(P, Qp, Q);
                    P *= Pp;
                }
            }
            // The state entering this lane's tokens: the previous lanes' map applied to h.
            float Pe = __shfl_up_sync(0xffffffffu, P, 1, kSeg);
            float Qe = __shfl_up_sync(0xffffffffu, Q, 1, kSeg);
            if (lane == 0) {
                Pe = 1.f;
                Qe = 0.f;
            }
            float hn = fmaf(Pe, h[n], Qe);
#pragma unroll
            for (int i = 0; i < ITEMS; ++i) {
                hn = fmaf(dA[i], hn, bx[i]);
                y[i] = fmaf(hn, cv[i], y[i]);
            }
            h[n] = __shfl_sync(0xffffffffu, hn, kSeg - 1, kSeg);  // the last lane's state ends the chunk
        }

        if (z) {
            const T* zp = z + t0 * p.z_stride + d;
            T rz[ITEMS];
#pragma unroll
            for (int i = 0; i < ITEMS; ++i) {
                rz[i] = i < nin ? *zp : fk::from_float<T>(0.f);
                zp += p.z_stride;
            }
#pragma unroll
            for (int i = 0; i < ITEMS; ++i) y[i] *= fk::silu(fk::to_float(rz[i]));
        }
        T* op = out + t0 * p.out_stride + d;
#pragma unroll
        for (int i = 0; i < ITEMS; ++i) {
            if (i < nin) *op = fk::from_float<T>(y[i]);
            op += p.out_stride;
        }
    }

    // Every lane read the initial state above; the write below may overwrite it in place.
    __syncwarp();
    if (valid && lane == 0 && p.final_state) {
#pragma unroll
        for (int n = 0; n < NS; ++n)
            if (n < N) p.final_state[(s * p.dim + d) * N + n] = h[n];
    }
}

// 16 tokens per lane (128-token chunks) amortise the per-state scan over more work; at
// d_state 64 the staged B and C of such a chunk would pass the 48 KiB of static shared
// memory, so that size walks 64-token chunks.
template <typename T>
cudaError_t launch(const fk_selective_scan_params* p, cudaStream_t stream) {
    const dim3 grid(static_cast<unsigned>(fk::ceil_div(p->dim, kChanPerBlock)), static_cast<unsigned>(p->batch));
    if (p->d_state <= 16)
        scan_kernel<T, 16, 16><<<grid, kThreads, 0, stream>>>(*p);
    else if (p->d_state <= 32)
        scan_kernel<T, 32, 16><<<grid, kThreads, 0, stream>>>(*p);
    else
        scan_kernel<T, 64, 8><<<grid, kThreads, 0, stream>>>(*p);
    return cudaGetLastError();
}

}  // namespace

FK_OP_LAUNCHER(selective_scan)(const fk_selective_scan_params* p, cudaStream_t stream) {
    FK_REQUIRE(p != nullptr && stream != nullptr);
    FK_REQUIRE(p->tokens >= 0 && p->dim > 0 && p->batch > 0 && p->batch <= 65535);
    FK_REQUIRE(p->d_state >= 1 && p->d_state <= FK_SELECTIVE_SCAN_MAX_DSTATE);
    FK_REQUIRE(p->u_stride >= p->dim && p->delta_stride >= p->dim && p->out_stride >= p->dim);
    FK_REQUIRE(p->z == nullptr || p->z_stride >= p->dim);
    FK_REQUIRE(p->b_stride >= p->d_state && p->c_stride >= p->d_state);
    FK_REQUIRE(p->cu_seqlens != nullptr && p->A != nullptr);
    FK_REQUIRE(p->tokens == 0 || (p->out && p->u && p->delta && p->B && p->C));
    FK_REQUIRE(fk::ceil_div(p->dim, kChanPerBlock) <= 0x7fffffffLL);
    FK_DISPATCH_FLOAT(p->dtype, T, { return launch<T>(p, stream); });
    return cudaSuccess;
}
