// selective_scan baseline (L1). Contract: include/fk/ops/selective_scan.h.
// Mirrors Dao-AILab `selective_scan_fwd` (Mamba-1 prefill, varlen as vLLM runs it). Any sm_80+.
//
// What bounds it. Per (token, channel, state) the op needs one exp2 (the decay), and the
// H100/H200 do 16 exp2 per SM per clock against 128 FMAs: at mamba-2.8b (d_state 16, 5120
// channels) 8k tokens are 671M exponentials, >= 160 us on 132 SMs, which is the same time the
// bytes (u, delta, z in, y out: 336 MB) take at ~2 TB/s. So the kernel is built to keep the
// exp unit busy: one exp per element, about as many other instructions as the exp unit's
// 8 cycles per warp instruction leave room for, and enough independent work per warp to
// hide latencies with the few warps one long sequence offers (dim x 8 lanes in all).
//
// Work split. Time is sequential per (channel, state), so a thread walks the whole sequence
// for its states, and parallelism comes from splitting the states: 8 lanes per channel, lane
// l owning states l, l+8, ... . The only serial dependency is h = dA*h + B*du, one FMA per
// token and state; the exps, the B*du products and the C-weighted partial outputs of later
// tokens are independent, so a warp has many instructions in flight. Each token's output is
// the sum over the channel's 8 lanes; a reduce-scatter over 8 tokens (3 xor-shuffle steps)
// leaves lane l with token l's sum, ~1.75 instructions per element at d_state 16.
// Staging. A block owns 8 channels (two warps; 640 blocks at dim 5120, 5 per SM in one
// wave on 132 SMs at <= 204 registers) and walks its sequence in chunks of 32 tokens (16 at
// d_state 64). Each chunk's u, delta, z, B and C are loaded into registers while the previous
// chunk is scanned (longer chunks would need more of them than 5 blocks per SM allow), then
// written to shared memory as fp32: dt = softplus(delta + bias), dt*u, D*u and silu(z) once
// per (token, channel) by the loading thread, B and C transposed to [state][token] so a lane
// reads 4 tokens of a state as one conflict-free 16-byte load (pitch = 4 mod 32 floats).
// Output (y + D*u) * silu(z) is written by the thread that loaded that (token, channel), as
// 16-byte row segments of the block's channels.
// The scan loop is 142 SASS instructions per 8 tokens x 2 states per lane at d_state 16
// (16 MUFU.EX2, 32 FFMA, 32 FMUL, 12 LDS, 7 SHFL, 14 FSEL, 7 FADD): issue and the exp unit
// are about equally loaded, ~175 us at 8k tokens on 132 SMs before the staging.
// Measured (H200, runs 19-21, 8k tokens at mamba-2.8b): 742 us (10.7% of copy; the earlier
// kernel, which split time over the lanes, took 860 us). ncu: 409M warp instructions, ~45%
// of them staging and address arithmetic, 2.4 warps per scheduler issuing 0.58 per cycle
// (latency-bound: one sequence gives only dim x 8 threads). A variant with 16-byte row loads
// staged by warp (u/delta in one warp, z/B/C in the other) cut instructions to 291M but ran
// 972 us (0.31 issued per cycle: the unbalanced staging between two barriers), so it was
// not kept. Next: balanced vector staging, or more threads per channel.
#include "fk/ops/selective_scan.h"
#include "fk/ssm.cuh"

namespace {

constexpr int kLanes = 8;                      // lanes per channel = tokens per reduce group
constexpr int kChan = 8;                       // channels per block
constexpr int kThreads = kLanes * kChan;       // 64
constexpr int kRowStep = kThreads / kChan;     // rows between one thread's staged elements

template <typename T, int NS, int CHUNK>
struct Staged {  // one chunk's inputs, in registers between its loads and its staging
    static constexpr int kRows = CHUNK / kRowStep;            // rows of u/delta/z per thread
    static constexpr int kBC = NS * CHUNK / kThreads;         // B (and C) elements per thread
    T u[kRows], delta[kRows], z[kRows];
    T b[kBC], c[kBC];
};

template <typename T, int NS, int CHUNK>
__device__ __forceinline__ void load_chunk(Staged<T, NS, CHUNK>& st, const fk_selective_scan_params& p, int64_t c0,
                                           int64_t end, int64_t d, bool valid, int tid) {
    using S = Staged<T, NS, CHUNK>;
    const T zero = fk::from_float<T>(0.f);
    const int r0 = tid / kChan;
    const T* up = static_cast<const T*>(p.u) + (c0 + r0) * p.u_stride + d;
    const T* dp = static_cast<const T*>(p.delta) + (c0 + r0) * p.delta_stride + d;
    const T* zp = p.z ? static_cast<const T*>(p.z) + (c0 + r0) * p.z_stride + d : nullptr;
#pragma unroll
    for (int k = 0; k < S::kRows; ++k) {
        const bool in = valid && c0 + r0 + k * kRowStep < end;
        st.u[k] = in ? *up : zero;
        st.delta[k] = in ? *dp : zero;
        st.z[k] = (in && zp) ? *zp : zero;
        up += kRowStep * p.u_stride;
        dp += kRowStep * p.delta_stride;
        if (zp) zp += kRowStep * p.z_stride;
    }
    // B/C element e = tid + kThreads * m: state e % NS, row e / NS (consecutive threads read
    // consecutive states of a row: coalesced). NS divides kThreads, so the state is fixed.
    static_assert(kThreads % NS == 0 || NS % kThreads == 0, "B/C staging layout");
    const T* Bm = static_cast<const T*>(p.B);
    const T* Cm = static_cast<const T*>(p.C);
#pragma unroll
    for (int m = 0; m < S::kBC; ++m) {
        const int e = tid + kThreads * m, n = e % NS, r = e / NS;
        const bool in = n < p.d_state && c0 + r < end;
        st.b[m] = in ? Bm[(c0 + r) * p.b_stride + n] : zero;
        st.c[m] = in ? Cm[(c0 + r) * p.c_stride + n] : zero;
    }
}

template <typename T, int NS, int CHUNK>
// 5 blocks per SM at d_state 16 (one wave of 640 blocks on 132 SMs); the larger state sizes
// need more registers than that leaves.
__global__ void __launch_bounds__(kThreads, NS == 16 ? 5 : 4) scan_kernel(const fk_selective_scan_params p) {
    constexpr int kPitch = (CHUNK + 31) / 32 * 32 + 4;  // = 4 (mod 32) floats: lanes' rows start 4 banks apart
    constexpr int kS = NS / kLanes;    // states per lane
    static_assert(kPitch % 32 == 4 && NS % kLanes == 0 && CHUNK % kLanes == 0, "layout");
    using S = Staged<T, NS, CHUNK>;
    __shared__ __align__(16) float sB[NS * kPitch];
    __shared__ __align__(16) float sC[NS * kPitch];
    __shared__ __align__(16) float sDt[kChan * kPitch];
    __shared__ __align__(16) float sDu[kChan * kPitch];
    __shared__ float sY[CHUNK * (kChan + 1)];     // [row][channel]: the scan's sum over states
    __shared__ float sSkip[CHUNK * (kChan + 1)];  // D * u
    __shared__ float sGate[CHUNK * (kChan + 1)];  // silu(z), or 1 without z

    const int tid = threadIdx.x;
    const int s = blockIdx.y, N = p.d_state;
    const int64_t start = p.cu_seqlens[s], end = p.cu_seqlens[s + 1];
    const int64_t d0 = static_cast<int64_t>(blockIdx.x) * kChan;
    T* out = static_cast<T*>(p.out);

    // Scan role: channel sc of the block, lane sl owning states sl + kLanes*j.
    const int sc = tid / kLanes, sl = tid % kLanes;
    const int64_t sd = d0 + sc;
    const bool s_valid = sd < p.dim;
    float a[kS], h[kS];
#pragma unroll
    for (int j = 0; j < kS; ++j) {
        const int n = sl + kLanes * j;
        const bool in = s_valid && n < N;
        a[j] = in ? p.A[sd * N + n] * fk::kLog2e : 0.f;
        h[j] = (in && p.initial_state) ? p.initial_state[(s * p.dim + sd) * N + n] : 0.f;
    }

    // Staging role: channel tid % kChan of the block, rows tid / kChan + kRowStep*k.
    const int gc = tid % kChan, gr = tid / kChan;
    const int64_t gd = d0 + gc;
    const bool g_valid = gd < p.dim;
    const float dbias = (g_valid && p.delta_bias) ? p.delta_bias[gd] : 0.f;
    const float Dd = (g_valid && p.D) ? p.D[gd] : 0.f;

    S next;
    if (start < end) load_chunk<T, NS, CHUNK>(next, p, start, end, gd, g_valid, tid);

    for (int64_t c0 = start; c0 < end; c0 += CHUNK) {
        __syncthreads();  // the previous chunk's readers of the shared tiles are done
#pragma unroll
        for (int k = 0; k < S::kRows; ++k) {
            const int r = gr + kRowStep * k;
            // Rows past the end (and absent channels) were loaded as 0: dt must be 0 there
            // too (softplus(0) is not), making the token the identity map.
            const bool in = g_valid && c0 + r < end;
            float v = fk::to_float(next.delta[k]) + dbias;
            if (p.delta_softplus) v = fk::softplus(v);
            v = in ? v : 0.f;
            const float uv = fk::to_float(next.u[k]);
            sDt[gc * kPitch + r] = v;
            sDu[gc * kPitch + r] = v * uv;
            // The epilogue's terms go through shared memory rather than staying live in
            // registers across the scan.
            sSkip[r * (kChan + 1) + gc] = Dd * uv;
            sGate[r * (kChan + 1) + gc] = p.z ? fk::silu(fk::to_float(next.z[k])) : 1.f;
        }
#pragma unroll
        for (int m = 0; m < S::kBC; ++m) {
            const int e = tid + kThreads * m, n = e % NS, r = e / NS;
            sB[n * kPitch + r] = fk::to_float(next.b[m]);
            sC[n * kPitch + r] = fk::to_float(next.c[m]);
        }
        __syncthreads();
        // The next chunk's loads are in flight while this one is scanned.
        if (c0 + CHUNK < end) load_chunk<T, NS, CHUNK>(next, p, c0 + CHUNK, end, gd, g_valid, tid);

        const int rows = end - c0 < CHUNK ? static_cast<int>(end - c0) : CHUNK;
        const int groups = (rows + kLanes - 1) / kLanes;
#pragma unroll 1
        for (int g = 0; g < groups; ++g) {
            const int t0 = g * kLanes;
            float dt[kLanes], du[kLanes], part[kLanes];
#pragma unroll
            for (int q = 0; q < kLanes / 4; ++q) {
                const float4 t4 = *reinterpret_cast<const float4*>(&sDt[sc * kPitch + t0 + 4 * q]);
                const float4 u4 = *reinterpret_cast<const float4*>(&sDu[sc * kPitch + t0 + 4 * q]);
                dt[4 * q] = t4.x; dt[4 * q + 1] = t4.y; dt[4 * q + 2] = t4.z; dt[4 * q + 3] = t4.w;
                du[4 * q] = u4.x; du[4 * q + 1] = u4.y; du[4 * q + 2] = u4.z; du[4 * q + 3] = u4.w;
            }
#pragma unroll
            for (int i = 0; i < kLanes; ++i) part[i] = 0.f;
#pragma unroll
            for (int j = 0; j < kS; ++j) {
                const int n = sl + kLanes * j;
                float bv[kLanes], cv[kLanes];
#pragma unroll
                for (int q = 0; q < kLanes / 4; ++q) {
                    const float4 b4 = *reinterpret_cast<const float4*>(&sB[n * kPitch + t0 + 4 * q]);
                    const float4 c4 = *reinterpret_cast<const float4*>(&sC[n * kPitch + t0 + 4 * q]);
                    bv[4 * q] = b4.x; bv[4 * q + 1] = b4.y; bv[4 * q + 2] = b4.z; bv[4 * q + 3] = b4.w;
                    cv[4 * q] = c4.x; cv[4 * q + 1] = c4.y; cv[4 * q + 2] = c4.z; cv[4 * q + 3] = c4.w;
                }
#pragma unroll
                for (int i = 0; i < kLanes; ++i) {
                    // A decay below 2^-126 is 0 for every purpose (ftz).
                    h[j] = fmaf(fk::ex2_ftz(dt[i] * a[j]), h[j], bv[i] * du[i]);
                    part[i] = fmaf(h[j], cv[i], part[i]);
                }
            }
            // Reduce-scatter over the channel's 8 lanes: after the step with xor k, a lane
            // keeps the half of its tokens whose bit k matches its own lane bit k.
            float q4[4], q2[2];
            const bool b2 = sl & 4, b1 = sl & 2, b0 = sl & 1;
#pragma unroll
            for (int k = 0; k < 4; ++k) {
                const float send = b2 ? part[k] : part[k + 4], keep = b2 ? part[k + 4] : part[k];
                q4[k] = keep + __shfl_xor_sync(0xffffffffu, send, 4);
            }
#pragma unroll
            for (int k = 0; k < 2; ++k) {
                const float send = b1 ? q4[k] : q4[k + 2], keep = b1 ? q4[k + 2] : q4[k];
                q2[k] = keep + __shfl_xor_sync(0xffffffffu, send, 2);
            }
            const float send = b0 ? q2[0] : q2[1], keep = b0 ? q2[1] : q2[0];
            sY[(t0 + sl) * (kChan + 1) + sc] = keep + __shfl_xor_sync(0xffffffffu, send, 1);
        }
        __syncthreads();

        T* op = out + (c0 + gr) * p.out_stride + gd;
#pragma unroll
        for (int k = 0; k < S::kRows; ++k) {
            const int r = gr + kRowStep * k;
            if (g_valid && c0 + r < end) {
                const int i = r * (kChan + 1) + gc;
                *op = fk::from_float<T>((sY[i] + sSkip[i]) * sGate[i]);
            }
            op += kRowStep * p.out_stride;
        }
    }

    // Every thread read its initial state above (before the loop); writing in place is safe.
    if (s_valid && p.final_state) {
#pragma unroll
        for (int j = 0; j < kS; ++j) {
            const int n = sl + kLanes * j;
            if (n < N) p.final_state[(s * p.dim + sd) * N + n] = h[j];
        }
    }
}

template <typename T>
cudaError_t launch(const fk_selective_scan_params* p, cudaStream_t stream) {
    const dim3 grid(static_cast<unsigned>(fk::ceil_div(p->dim, kChan)), static_cast<unsigned>(p->batch));
    // At d_state 64 a chunk's staged B/C take 2 x 64 x CHUNK / 64 registers per thread.
    if (p->d_state <= 16)
        scan_kernel<T, 16, 32><<<grid, kThreads, 0, stream>>>(*p);
    else if (p->d_state <= 32)
        scan_kernel<T, 32, 32><<<grid, kThreads, 0, stream>>>(*p);
    else
        scan_kernel<T, 64, 16><<<grid, kThreads, 0, stream>>>(*p);
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
    FK_REQUIRE(fk::ceil_div(p->dim, kChan) <= 0x7fffffffLL);
    FK_DISPATCH_FLOAT(p->dtype, T, { return launch<T>(p, stream); });
    return cudaSuccess;
}
