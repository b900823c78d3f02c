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
// wave on 132 SMs) and walks its sequence in chunks of 32 tokens (16 at d_state 64). Each
// chunk's u, delta, z, B and C are loaded into registers while the previous chunk is scanned,
// then written to shared memory as fp32: dt = softplus(delta + bias), dt*u, D*u and silu(z)
// once per (token, channel), B and C transposed to [state][token] so a lane reads 4 tokens
// of a state as one conflict-free 16-byte load. Real models' layouts (16-bit, rows 16-byte
// aligned, d_state 16/32/64) load whole 16-byte row segments (`VecStager`); anything else
// goes element by element (`ScalarStager`).
// Measured (H200, run 20, ncu, the first version with element loads only): 409M warp
// instructions at 8k tokens, ~45% of them staging, 2.4 warps per scheduler issuing 0.58 per
// cycle: instruction count and latency, not the exp unit, bound it (742 us, 10.7% of copy;
// the previous time-split kernel took 860 us).
// The scan loop is 142 SASS instructions per 8 tokens x 2 states per lane at d_state 16
// (16 MUFU.EX2, 32 FFMA, 32 FMUL, 12 LDS, 7 SHFL, 14 FSEL, 7 FADD), unrolled by two groups.
#include "fk/ops/selective_scan.h"
#include "fk/ssm.cuh"

namespace {

constexpr int kLanes = 8;                  // lanes per channel = tokens per reduce group
constexpr int kChan = 8;                   // channels per block
constexpr int kThreads = kLanes * kChan;   // 64
constexpr int kYP = kChan + 1;             // pitch of the [row][channel] tiles

// The chunk's inputs in shared memory, fp32: what the scan reads ([channel or state][row],
// pitch = 4 mod 32 floats so a lane's 16-byte reads of 4 rows hit distinct bank groups) and
// what the epilogue reads ([row][channel]).
template <int NS, int CHUNK>
struct Tiles {
    static constexpr int kPitch = (CHUNK + 31) / 32 * 32 + 4;
    static_assert(kPitch % 32 == 4, "pitch");
    float b[NS * kPitch];
    float c[NS * kPitch];
    float dt[kChan * kPitch];
    float du[kChan * kPitch];
    float y[CHUNK * kYP];     // the scan's sum over states
    float skip[CHUNK * kYP];  // D * u
    float gate[CHUNK * kYP];  // silu(z), or 1 without z
};

// What every stager needs of the block: its sequence's end, channels and their parameters.
struct Block {
    int64_t end, d0;
};

// Writes one (row, channel) of the step tiles: dt = softplus(delta + bias) (0 past the end,
// where delta was not loaded: the token is then the identity map), dt*u and D*u.
template <int NS, int CHUNK>
__device__ __forceinline__ void stage_step(Tiles<NS, CHUNK>& t, const fk_selective_scan_params& p, int r, int c, bool in,
                                           float delta, float u, float bias, float D) {
    constexpr int P = Tiles<NS, CHUNK>::kPitch;
    float v = delta + bias;
    if (p.delta_softplus) v = fk::softplus(v);
    v = in ? v : 0.f;
    t.dt[c * P + r] = v;
    t.du[c * P + r] = v * u;
    t.skip[r * kYP + c] = D * u;
}

// Any dtype, strides and d_state: element loads, each thread owning one channel and every
// 8th row. Inputs are held in registers from their loads (during the previous chunk's scan)
// to the staging.
template <typename T, int NS, int CHUNK>
struct ScalarStager {
    static constexpr int kRows = CHUNK / (kThreads / kChan);  // rows of u/delta/z per thread
    static constexpr int kBC = NS * CHUNK / kThreads;         // B (and C) elements per thread
    static_assert(kThreads % NS == 0 || NS % kThreads == 0, "B/C staging layout");
    T u[kRows], delta[kRows], z[kRows], b[kBC], c[kBC];
    int gc, gr;
    int64_t gd;
    bool valid;
    float bias, D;

    __device__ void init(const fk_selective_scan_params& p, const Block& blk) {
        gc = threadIdx.x % kChan;
        gr = threadIdx.x / kChan;
        gd = blk.d0 + gc;
        valid = gd < p.dim;
        bias = (valid && p.delta_bias) ? p.delta_bias[gd] : 0.f;
        D = (valid && p.D) ? p.D[gd] : 0.f;
    }

    __device__ __forceinline__ void load(const fk_selective_scan_params& p, const Block& blk, int64_t c0) {
        constexpr int kStep = kThreads / kChan;
        const T zero = fk::from_float<T>(0.f);
        const T* up = static_cast<const T*>(p.u) + (c0 + gr) * p.u_stride + gd;
        const T* dp = static_cast<const T*>(p.delta) + (c0 + gr) * p.delta_stride + gd;
        const T* zp = p.z ? static_cast<const T*>(p.z) + (c0 + gr) * p.z_stride + gd : nullptr;
#pragma unroll
        for (int k = 0; k < kRows; ++k) {
            const bool in = valid && c0 + gr + k * kStep < blk.end;
            u[k] = in ? *up : zero;
            delta[k] = in ? *dp : zero;
            z[k] = (in && zp) ? *zp : zero;
            up += kStep * p.u_stride;
            dp += kStep * p.delta_stride;
            if (zp) zp += kStep * p.z_stride;
        }
        // Element e = tid + kThreads*m: state e % NS, row e / NS (coalesced along a row).
        const T* Bm = static_cast<const T*>(p.B);
        const T* Cm = static_cast<const T*>(p.C);
#pragma unroll
        for (int m = 0; m < kBC; ++m) {
            const int e = threadIdx.x + kThreads * m, n = e % NS, r = e / NS;
            const bool in = n < p.d_state && c0 + r < blk.end;
            b[m] = in ? Bm[(c0 + r) * p.b_stride + n] : zero;
            c[m] = in ? Cm[(c0 + r) * p.c_stride + n] : zero;
        }
    }

    __device__ __forceinline__ void stage(Tiles<NS, CHUNK>& t, const fk_selective_scan_params& p, const Block& blk, int64_t c0) {
        constexpr int P = Tiles<NS, CHUNK>::kPitch;
#pragma unroll
        for (int k = 0; k < kRows; ++k) {
            const int r = gr + (kThreads / kChan) * k;
            stage_step(t, p, r, gc, valid && c0 + r < blk.end, fk::to_float(delta[k]), fk::to_float(u[k]), bias, D);
            t.gate[r * kYP + gc] = p.z ? fk::silu(fk::to_float(z[k])) : 1.f;
        }
#pragma unroll
        for (int m = 0; m < kBC; ++m) {
            const int e = threadIdx.x + kThreads * m, n = e % NS, r = e / NS;
            t.b[n * P + r] = fk::to_float(b[m]);
            t.c[n * P + r] = fk::to_float(c[m]);
        }
    }

    __device__ __forceinline__ void store(const Tiles<NS, CHUNK>& t, const fk_selective_scan_params& p, const Block& blk, int64_t c0) const {
        constexpr int kStep = kThreads / kChan;
        T* op = static_cast<T*>(p.out) + (c0 + gr) * p.out_stride + gd;
#pragma unroll
        for (int k = 0; k < kRows; ++k) {
            const int r = gr + kStep * k;
            if (valid && c0 + r < blk.end) {
                const int i = r * kYP + gc;
                *op = fk::from_float<T>((t.y[i] + t.skip[i]) * t.gate[i]);
            }
            op += kStep * p.out_stride;
        }
    }
};

// 16-bit dtypes with every row segment 16-byte aligned, dim % 8 == 0 and d_state == NS
// (what real models give): one 16-byte load per row of a tensor. Warp 0 loads and stages u
// and delta (8 channels of a row each), warp 1 z, B and C, so a thread issues 2-5 loads per
// chunk instead of ~40 element loads, and the block's rows are read as whole 16-byte
// segments. The output leaves as 8-byte stores of 4 channels.
template <typename T, int NS, int CHUNK>
struct VecStager {
    using V = fk::Packed<T, 8>;
    static constexpr int kRowsPerLane = (CHUNK + 31) / 32;
    static constexpr int kParts = NS / 8;                          // 16-byte pieces of a B row
    static constexpr int kBCPerLane = (CHUNK * kParts + 31) / 32;  // pieces per lane of warp 1
    V x0[kRowsPerLane], x1[kRowsPerLane];  // warp 0: u, delta; warp 1: z (x0)
    V b[kBCPerLane], c[kBCPerLane];
    float bias[kChan], D[kChan];
    int lane;
    bool second;  // warp 1

    __device__ void init(const fk_selective_scan_params& p, const Block& blk) {
        lane = threadIdx.x % 32;
        second = threadIdx.x >= 32;
#pragma unroll
        for (int c = 0; c < kChan; ++c) {
            bias[c] = p.delta_bias ? p.delta_bias[blk.d0 + c] : 0.f;
            D[c] = p.D ? p.D[blk.d0 + c] : 0.f;
        }
    }

    __device__ __forceinline__ void load(const fk_selective_scan_params& p, const Block& blk, int64_t c0) {
        V zero;
#pragma unroll
        for (int i = 0; i < 8; ++i) zero.v[i] = fk::from_float<T>(0.f);
#pragma unroll
        for (int k = 0; k < kRowsPerLane; ++k) {
            const int r = lane + 32 * k;
            const bool in = r < CHUNK && c0 + r < blk.end;
            const int64_t t = c0 + r;
            if (!second) {
                x0[k] = in ? *reinterpret_cast<const V*>(static_cast<const T*>(p.u) + t * p.u_stride + blk.d0) : zero;
                x1[k] = in ? *reinterpret_cast<const V*>(static_cast<const T*>(p.delta) + t * p.delta_stride + blk.d0) : zero;
            } else {
                x0[k] = (in && p.z) ? *reinterpret_cast<const V*>(static_cast<const T*>(p.z) + t * p.z_stride + blk.d0) : zero;
            }
        }
        if (!second) return;
#pragma unroll
        for (int m = 0; m < kBCPerLane; ++m) {
            // Piece v: row v % CHUNK, states 8 * (v / CHUNK) .. +7 (consecutive lanes take
            // consecutive rows: the transposed writes of the staging are conflict-free).
            const int v = lane + 32 * m, r = v % CHUNK, part = v / CHUNK;
            const bool in = part < kParts && c0 + r < blk.end;
            const int64_t t = c0 + r;
            b[m] = in ? *reinterpret_cast<const V*>(static_cast<const T*>(p.B) + t * p.b_stride + 8 * part) : zero;
            c[m] = in ? *reinterpret_cast<const V*>(static_cast<const T*>(p.C) + t * p.c_stride + 8 * part) : zero;
        }
    }

    __device__ __forceinline__ void stage(Tiles<NS, CHUNK>& t, const fk_selective_scan_params& p, const Block& blk, int64_t c0) {
        constexpr int P = Tiles<NS, CHUNK>::kPitch;
#pragma unroll
        for (int k = 0; k < kRowsPerLane; ++k) {
            const int r = lane + 32 * k;
            if (r >= CHUNK) continue;
            const bool in = c0 + r < blk.end;
            if (!second) {
#pragma unroll
                for (int c = 0; c < kChan; ++c) stage_step(t, p, r, c, in, fk::to_float(x1[k].v[c]), fk::to_float(x0[k].v[c]), bias[c], D[c]);
            } else {
#pragma unroll
                for (int c = 0; c < kChan; ++c) t.gate[r * kYP + c] = p.z ? fk::silu(fk::to_float(x0[k].v[c])) : 1.f;
            }
        }
        if (!second) return;
#pragma unroll
        for (int m = 0; m < kBCPerLane; ++m) {
            const int v = lane + 32 * m, r = v % CHUNK, part = v / CHUNK;
            if (part >= kParts) continue;
#pragma unroll
            for (int e = 0; e < 8; ++e) {
                t.b[(8 * part + e) * P + r] = fk::to_float(b[m].v[e]);
                t.c[(8 * part + e) * P + r] = fk::to_float(c[m].v[e]);
            }
        }
    }

    __device__ __forceinline__ void store(const Tiles<NS, CHUNK>& t, const fk_selective_scan_params& p, const Block& blk, int64_t c0) const {
        // Thread -> (row, half of the 8 channels).
        for (int i = threadIdx.x; i < 2 * CHUNK; i += kThreads) {
            const int r = i % CHUNK, half = i / CHUNK;
            if (c0 + r >= blk.end) continue;
            fk::Packed<T, 4> o;
#pragma unroll
            for (int q = 0; q < 4; ++q) {
                const int j = r * kYP + 4 * half + q;
                o.v[q] = fk::from_float<T>((t.y[j] + t.skip[j]) * t.gate[j]);
            }
            *reinterpret_cast<fk::Packed<T, 4>*>(static_cast<T*>(p.out) + (c0 + r) * p.out_stride + blk.d0 + 4 * half) = o;
        }
    }
};

template <typename T, int NS, int CHUNK, typename Stager>
// 5 blocks per SM at d_state 16 (one wave of 640 blocks on 132 SMs); the larger state
// sizes need more registers than that leaves.
__global__ void __launch_bounds__(kThreads, NS == 16 ? 5 : 4) scan_kernel(const fk_selective_scan_params p) {
    constexpr int kS = NS / kLanes;  // states per lane
    constexpr int P = Tiles<NS, CHUNK>::kPitch;
    static_assert(NS % kLanes == 0 && CHUNK % kLanes == 0, "layout");
    __shared__ __align__(16) Tiles<NS, CHUNK> t;

    const int tid = threadIdx.x;
    const int s = blockIdx.y, N = p.d_state;
    const Block blk{p.cu_seqlens[s + 1], static_cast<int64_t>(blockIdx.x) * kChan};
    const int64_t start = p.cu_seqlens[s];

    // Scan role: channel sc of the block, lane sl owning states sl + kLanes*j.
    const int sc = tid / kLanes, sl = tid % kLanes;
    const int64_t sd = blk.d0 + sc;
    const bool s_valid = sd < p.dim;
    float a[kS], h[kS];
#pragma unroll
    for (int j = 0; j < kS; ++j) {
        const int n = sl + kLanes * j;
        const bool in = s_valid && n < N;
        a[j] = in ? p.A[sd * N + n] * fk::kLog2e : 0.f;
        h[j] = (in && p.initial_state) ? p.initial_state[(s * p.dim + sd) * N + n] : 0.f;
    }

    Stager st;
    st.init(p, blk);
    if (start < blk.end) st.load(p, blk, start);

    for (int64_t c0 = start; c0 < blk.end; c0 += CHUNK) {
        __syncthreads();  // the previous chunk's readers of the shared tiles are done
        st.stage(t, p, blk, c0);
        __syncthreads();
        // The next chunk's loads are in flight while this one is scanned.
        if (c0 + CHUNK < blk.end) st.load(p, blk, c0 + CHUNK);

        const int rows = blk.end - c0 < CHUNK ? static_cast<int>(blk.end - c0) : CHUNK;
        const int groups = (rows + kLanes - 1) / kLanes;
#pragma unroll 2
        for (int g = 0; g < groups; ++g) {
            const int t0 = g * kLanes;
            float dt[kLanes], du[kLanes], part[kLanes];
#pragma unroll
            for (int q = 0; q < kLanes / 4; ++q) {
                const float4 t4 = *reinterpret_cast<const float4*>(&t.dt[sc * P + t0 + 4 * q]);
                const float4 u4 = *reinterpret_cast<const float4*>(&t.du[sc * P + t0 + 4 * q]);
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
                    const float4 b4 = *reinterpret_cast<const float4*>(&t.b[n * P + t0 + 4 * q]);
                    const float4 c4 = *reinterpret_cast<const float4*>(&t.c[n * P + t0 + 4 * q]);
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
            t.y[(t0 + sl) * kYP + sc] = keep + __shfl_xor_sync(0xffffffffu, send, 1);
        }
        __syncthreads();
        st.store(t, p, blk, c0);
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

template <typename T, int NS, int CHUNK>
cudaError_t launch_size(const fk_selective_scan_params* p, cudaStream_t stream, bool vec) {
    const dim3 grid(static_cast<unsigned>(fk::ceil_div(p->dim, kChan)), static_cast<unsigned>(p->batch));
    if constexpr (sizeof(T) == 2) {
        if (vec) {
            scan_kernel<T, NS, CHUNK, VecStager<T, NS, CHUNK>><<<grid, kThreads, 0, stream>>>(*p);
            return cudaGetLastError();
        }
    }
    scan_kernel<T, NS, CHUNK, ScalarStager<T, NS, CHUNK>><<<grid, kThreads, 0, stream>>>(*p);
    return cudaGetLastError();
}

template <typename T>
cudaError_t launch(const fk_selective_scan_params* p, cudaStream_t stream) {
    // The vector stager's conditions: 16-byte row segments everywhere, B/C rows exactly
    // d_state wide (no reads past a row's states).
    const void* ptrs[] = {p->u, p->delta, p->z, p->out, p->B, p->C};
    const int64_t strides[] = {p->u_stride, p->delta_stride, p->z ? p->z_stride : 0, p->out_stride, p->b_stride, p->c_stride};
    const bool vec16 = fk::vec16_ok(p->dim, sizeof(T), ptrs, 6, strides, 6);
    // At d_state 64 a chunk's staged B/C take 2 x 64 x CHUNK / 64 registers per thread.
    if (p->d_state <= 16)
        return launch_size<T, 16, 32>(p, stream, vec16 && p->d_state == 16);
    if (p->d_state <= 32)
        return launch_size<T, 32, 32>(p, stream, vec16 && p->d_state == 32);
    return launch_size<T, 64, 16>(p, stream, vec16 && p->d_state == 64);
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
