// selective_scan baseline (L1). Contract: include/fk/ops/selective_scan.h.
// Mirrors Dao-AILab `selective_scan_fwd` (Mamba-1 prefill, varlen as vLLM runs it). Any sm_80+.
//
// Work split. The recurrence h_t = a_t h_{t-1} + b_t is sequential in time, and one long
// sequence has only dim (5120 for mamba-2.8b) independent channels: too few threads to keep a
// GPU busy if each walked its channel's whole sequence alone. So time is also split: a block
// owns 16 channels of one sequence (4 per warp) and walks it in chunks of 64 tokens; inside a
// chunk each channel's 8 lanes own 8 consecutive tokens each. Per state n a lane reduces its
// tokens to one affine map h -> P h + Q, an 8-lane shuffle scan composes the maps, and each
// lane then replays its tokens from the exact incoming state. exp(dt*A) is computed once per
// (token, channel, state): the exponentials, not the bytes, bound this op at d_state 16, so
// nothing is recomputed. The chunk's B and C rows (shared by all channels) are staged in
// shared memory once per block, stored so that the 8 time lanes hit 8 different banks.
// Per-channel inputs (u, delta, z) and the output are read/written once, as row segments of
// the 16 channels of the block (full 32-byte sectors in 16-bit types).
#include "fk/ops/selective_scan.h"
#include "fk/ssm.cuh"

namespace {

constexpr int kSeg = 8;                     // time lanes per channel
constexpr int kItems = 8;                   // consecutive tokens per lane
constexpr int kChunk = kSeg * kItems;       // tokens per block iteration
constexpr int kThreads = 128;
constexpr int kChanPerBlock = kThreads / kSeg;

template <typename T, int NS>
__global__ void __launch_bounds__(kThreads) scan_kernel(const fk_selective_scan_params p) {
    // Row r of the chunk (token lane * kItems + item) is stored at item * kSeg + lane: the
    // 8 lanes of a channel read 8 consecutive rows of odd pitch, 8 distinct banks.
    __shared__ float sB[kChunk][NS + 1];
    __shared__ float sC[kChunk][NS + 1];

    const int tid = threadIdx.x, lane = tid % kSeg;
    const int64_t d = static_cast<int64_t>(blockIdx.x) * kChanPerBlock + tid / kSeg;
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

    float h[NS];  // the channel's state entering the chunk (same in all 8 lanes)
#pragma unroll
    for (int n = 0; n < NS; ++n) h[n] = (valid && n < N && p.initial_state) ? p.initial_state[(s * p.dim + d) * N + n] : 0.f;

    for (int64_t c0 = start; c0 < end; c0 += kChunk) {
        __syncthreads();  // the previous chunk's readers of sB/sC are done
        for (int i = tid; i < kChunk * N; i += kThreads) {
            const int r = i / N, n = i % N;
            const int64_t t = c0 + r;
            const int row = (r % kItems) * kSeg + r / kItems;
            sB[row][n] = t < end ? fk::to_float(Bm[t * p.b_stride + n]) : 0.f;
            sC[row][n] = t < end ? fk::to_float(Cm[t * p.c_stride + n]) : 0.f;
        }
        __syncthreads();

        // Tokens past the end (or invalid channels) get dt = 0, u = 0: the identity map.
        float dt[kItems], uu[kItems], du[kItems], y[kItems];
#pragma unroll
        for (int i = 0; i < kItems; ++i) {
            const int64_t t = c0 + lane * kItems + i;
            const bool in = valid && t < end;
            float v = in ? fk::to_float(delta[t * p.delta_stride + d]) + dbias : 0.f;
            if (in && p.delta_softplus) v = fk::softplus(v);
            dt[i] = v;
            uu[i] = in ? fk::to_float(u[t * p.u_stride + d]) : 0.f;
            du[i] = dt[i] * uu[i];
            y[i] = 0.f;
        }

#pragma unroll
        for (int n = 0; n < NS; ++n) {
            if (n >= N) break;
            const float a = valid ? p.A[d * N + n] * fk::kLog2e : 0.f;
            float dA[kItems], bx[kItems];
            float P = 1.f, Q = 0.f;  // this lane's tokens as the map h -> P h + Q
#pragma unroll
            for (int i = 0; i < kItems; ++i) {
                dA[i] = exp2f(dt[i] * a);
                bx[i] = du[i] * sB[i * kSeg + lane][n];
                P *= dA[i];
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
            for (int i = 0; i < kItems; ++i) {
                hn = fmaf(dA[i], hn, bx[i]);
                y[i] = fmaf(hn, sC[i * kSeg + lane][n], y[i]);
            }
            h[n] = __shfl_sync(0xffffffffu, hn, kSeg - 1, kSeg);  // the last lane's state ends the chunk
        }

#pragma unroll
        for (int i = 0; i < kItems; ++i) {
            const int64_t t = c0 + lane * kItems + i;
            if (!valid || t >= end) continue;
            float v = fmaf(Dd, uu[i], y[i]);
            if (z) v *= fk::silu(fk::to_float(z[t * p.z_stride + d]));
            out[t * p.out_stride + d] = fk::from_float<T>(v);
        }
    }

    if (valid && lane == 0 && p.final_state) {
#pragma unroll
        for (int n = 0; n < NS; ++n)
            if (n < N) p.final_state[(s * p.dim + d) * N + n] = h[n];
    }
}

template <typename T>
cudaError_t launch(const fk_selective_scan_params* p, cudaStream_t stream) {
    const dim3 grid(static_cast<unsigned>(fk::ceil_div(p->dim, kChanPerBlock)), static_cast<unsigned>(p->batch));
    if (p->d_state <= 16)
        scan_kernel<T, 16><<<grid, kThreads, 0, stream>>>(*p);
    else if (p->d_state <= 32)
        scan_kernel<T, 32><<<grid, kThreads, 0, stream>>>(*p);
    else
        scan_kernel<T, 64><<<grid, kThreads, 0, stream>>>(*p);
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
