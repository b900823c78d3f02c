// selective_scan's ring kernel: part of selective_scan.cu (included inside its anonymous
// namespace, after the helpers it shares; no include guard on purpose: the A/B bench includes
// selective_scan.cu twice, in two namespaces). Used for 16-bit dtypes, d_state <= 16, dim a
// multiple of 8 and 16-byte aligned rows (every Mamba-1 checkpoint); the chunked kernel above
// takes everything else.
//
// Why a second design. The chunked kernel splits a chunk's tokens over the 16 lanes of a
// half-warp, so every (token, channel, state) element pays for two FMA chains (the lane's
// local map, then the replay from the true start) and its lane for a 4-step shuffle scan per
// state: ~13 instructions per element and ~150 registers, 12 warps per SM, latency-bound at
// 660 us for 8k tokens of mamba-2.8b on the H200 (runs 107-108). Here the lanes of a warp are
// channels and states (8 channels x 4 lanes, lane sl owning states sl, sl+4, sl+8, sl+12) and
// time is split across the 4 warps of a block instead: warp w owns tokens [16w, 16w+16) of
// each 64-token chunk and walks them once per state (h = dA h + dB; y += C h), taking the
// state entering its tokens from warp w-1 through shared memory, and warp 0 from warp 3's
// previous chunk. One state per step, 4 steps per chunk: warp w runs step j of chunk c while
// w+1 runs step j-1, a ring whose hand-offs are always a step ahead of their reader (that is
// why there are no more warps than steps). Per element: dt*a, exp2, B*du, the chain FMA and
// y's FMA (5 instructions, 1 exp), plus B/C loads as broadcast float4s; the per-token work
// (staging, softplus, the 4-lane sum of y, the gate) is shared by 16 states. The exponentials
// of a step are issued before its hand-off wait, so the ring's critical path is the FMA chain
// alone.
// Measured (H200, mamba-2.8b, one sequence of 8k bf16 tokens, scan_bench.cu): 500.6 us against
// the chunked kernel's 660.1 in the same process (run 116; 491 vs 656 in run 115 with 16 bytes
// of spills; the first version ran 588, run 110). ncu (run 114): 275 M warp instructions (the chunked kernel: 300 M), issue slots 54 %
// busy at 4.6 warps per scheduler, stalls mostly short-scoreboard (shared-memory and exp2
// results; 39 %) and fixed-latency dependencies (16 %); the hand-off waits ~5 %. Half of a
// warp's instructions per chunk are the steps (~105 per state), half the per-chunk work
// (staging, conversion, softplus, the sum of y and the gate). What was tried and lost: B*du
// computed before the wait (spills, +12 %), the first B/C loads before the wait (+1.5 %).
//
// Block: 8 channels x 4 warps (128 threads), ~43 KB of shared memory, 96 registers, so 5
// blocks (20 warps) per SM: mamba-2.8b's 640 channel groups are one wave on 132 SMs. Each
// warp stages its own tokens (cp.async, two buffers: u, delta, z as 16-byte rows of the 8
// channels, B and C rows) and converts B and C to fp32 [state][token] rows; nothing but the
// hand-offs (mbarriers) ties the warps together after the first barrier.
// A/B knobs (experiments/ssm/scan_ring_tok8_variant.cu): tokens per warp per chunk (8 or 16)
// and blocks per SM (the register budget). 8 tokens fit 6-8 blocks without spills but ran
// 591-604 us against 16 tokens at 5 blocks' 500 (run 118): the per-chunk work doubles per element.
#ifndef FK_RING_TOK
#define FK_RING_TOK 16
#endif
#ifndef FK_RING_BLOCKS
#define FK_RING_BLOCKS 5
#endif
namespace ring {

constexpr int kWarps = 4;               // warps per block: the ring along time
constexpr int kTok = FK_RING_TOK;       // tokens per warp per chunk
constexpr int kChunk = kWarps * kTok;   // tokens per chunk
constexpr int kChan = 8;                // channels per block
constexpr int kLanesPerChan = 4;        // lane sl of a channel owns states sl + 4j
constexpr int kNS = 16;                 // states (d_state <= 16; the others are inert)
static_assert(kNS == 16, "B and C rows are converted 16 states at a time (bc_row_to_column)");
constexpr int kSteps = kNS / kLanesPerChan;
constexpr int kTpl = kTok / kLanesPerChan;  // tokens per lane in the per-token work (softplus, gate)
static_assert(kTok % 8 == 0 && kTok <= 16, "the copies give a lane one row (u, delta, z) and one half-row (B, C)");
constexpr int kThreads = 32 * kWarps;
constexpr int kRow = kTok + 4;          // floats per fp32 tile row: a step's 4 rows (n = sl + 4j) hit distinct banks
static_assert(kWarps <= kSteps, "warp 0 takes the last warp's state one step after it is made");
static_assert(kChan * kLanesPerChan == 32, "a warp is 8 channels x 4 lanes");

// One warp's shared memory (16-bit T).
struct WarpTiles {
    static constexpr int kActBytes = kTok * kChan * 2;  // [token][channel] rows of 16 bytes
    static constexpr int kBCBytes = kTok * kNS * 2;     // [token][state] rows of 32 bytes
    static constexpr int kU = 0, kDt = kActBytes, kZ = 2 * kActBytes, kB = 3 * kActBytes, kC = kB + kBCBytes;
    static constexpr int kRawBytes = kC + kBCBytes;
    unsigned char raw[2][kRawBytes];
    float bt[kNS][kRow];        // B, fp32 [state][token]
    float pad[16];              // C's rows 16 banks from B's: the conversion's stores do not conflict
    float ct[kNS][kRow];        // C
    float dt[kChan][kRow];      // softplus(delta + bias), 0 past the end
    float du[kChan][kRow];      // dt * u
    float yp[32][kRow];         // each lane's y over its 4 states, [lane][token]
};
struct BlockSmem {
    WarpTiles warp[kWarps];
    float a[kChan][kNS];              // A * log2(e), 0 for states >= d_state
    float hand[kWarps][kSteps][32];   // state leaving warp w's tokens at step j, per lane
    uint64_t bar[kWarps][kSteps];     // hand[w][j] written (32 arrivals per chunk)
};

// The hand-off barriers: fk::attn's mbarrier operations on their shared-memory addresses. The
// wait is try_wait on sm_90; older GPUs (this file builds for sm_80+) poll test_wait.
__device__ __forceinline__ void bar_wait(uint32_t bar, uint32_t parity) {
#if __CUDA_ARCH__ >= 900
    fk::attn::mbar_wait(bar, parity);
#else
    asm volatile(
        "{\n.reg .pred done;\nRING_WAIT:\n"
        "mbarrier.test_wait.parity.shared::cta.b64 done, [%0], %1;\n"
        "@!done bra RING_WAIT;\n}\n" ::"r"(bar),
        "r"(parity)
        : "memory");
#endif
}

// N (2 or 4) consecutive floats of shared memory as one vector access.
template <int N> __device__ __forceinline__ void load_vec(const float* p, float (&v)[N]) {
    if constexpr (N == 4) {
        const float4 t = *reinterpret_cast<const float4*>(p);
        v[0] = t.x, v[1] = t.y, v[2] = t.z, v[3] = t.w;
    } else {
        static_assert(N == 2, "2 or 4");
        const float2 t = *reinterpret_cast<const float2*>(p);
        v[0] = t.x, v[1] = t.y;
    }
}
template <int N> __device__ __forceinline__ void store_vec(float* p, const float (&v)[N]) {
    if constexpr (N == 4) {
        *reinterpret_cast<float4*>(p) = make_float4(v[0], v[1], v[2], v[3]);
    } else {
        static_assert(N == 2, "2 or 4");
        *reinterpret_cast<float2*>(p) = make_float2(v[0], v[1]);
    }
}

// The warp's tokens [t0, t0 + kTok) of u, delta, z (8 channels from d0) and of B, C (d_state N)
// into raw buffer `buf`; rows at or past `rows` (and B/C columns past N) are zero-filled. One
// copy instruction per tensor, its addresses from the kernel parameters (the constant bank):
// per-lane pointers kept across chunks would cost registers the steps need.
template <typename T>
__device__ __forceinline__ void stage(unsigned char* buf, const fk_selective_scan_params& p, int t0, int rows, int d0, int lane) {
    {  // u, delta, z: row k = lane (lanes below kTok), 16 bytes each
        const int k = lane % kTok;
        const bool in = k < rows;
        const int64_t row = t0 + (in ? k : 0);  // (int64: row * stride may pass 2^31)
        if (lane < kTok) {
            cp_async16(buf + WarpTiles::kU + k * 16, static_cast<const T*>(p.u) + row * p.u_stride + d0, in ? 16 : 0);
            cp_async16(buf + WarpTiles::kDt + k * 16, static_cast<const T*>(p.delta) + row * p.delta_stride + d0, in ? 16 : 0);
            if (p.z) cp_async16(buf + WarpTiles::kZ + k * 16, static_cast<const T*>(p.z) + row * p.z_stride + d0, in ? 16 : 0);
        }
    }
    if (lane < 2 * kTok) {  // B, C: row k = lane / 2, 16-byte half h = lane % 2 (states 8h..8h+7)
        const int k = lane / 2, h = lane % 2;
        const int bytes = k < rows ? min(max(p.d_state - 8 * h, 0), 8) * 2 : 0;
        const int64_t row = t0 + (bytes > 0 ? k : 0);
        cp_async16(buf + WarpTiles::kB + lane * 16, static_cast<const T*>(p.B) + row * p.b_stride + (bytes > 0 ? 8 * h : 0), bytes);
        cp_async16(buf + WarpTiles::kC + lane * 16, static_cast<const T*>(p.C) + row * p.c_stride + (bytes > 0 ? 8 * h : 0), bytes);
    }
}

template <typename T>
__global__ void __launch_bounds__(kThreads, FK_RING_BLOCKS) ring_kernel(const fk_selective_scan_params p) {
    extern __shared__ __align__(16) unsigned char smem_raw[];
    BlockSmem& S = *reinterpret_cast<BlockSmem*>(smem_raw);
    const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
    const int c = lane / kLanesPerChan, sl = lane % kLanesPerChan;
    const int s = blockIdx.y, N = p.d_state;
    // 32-bit token and channel indices (cu_seqlens are int32; fits() bounds the rest): fewer
    // registers live across the steps, which need all of the 96 that 5 blocks per SM allow.
    const int start = p.cu_seqlens[s], end = p.cu_seqlens[s + 1];
    const int d0 = blockIdx.x * kChan, d = d0 + c;
    WarpTiles& W = S.warp[warp];

    {
        const int i = threadIdx.x, ac = i / kNS, an = i % kNS;  // 128 threads = 8 x 16
        S.a[ac][an] = an < N ? p.A[(static_cast<int64_t>(d0) + ac) * N + an] * fk::kLog2e : 0.f;
    }
    if (threadIdx.x < kWarps * kSteps) fk::attn::mbar_init(smem_addr(&S.bar[threadIdx.x / kSteps][threadIdx.x % kSteps]), 32);
#if __CUDA_ARCH__ >= 900
    fk::attn::mbar_init_fence();
#endif
    __syncthreads();

    const float dbias = p.delta_bias ? p.delta_bias[d] : 0.f;
    const float Dd = p.D ? p.D[d] : 0.f;
    // This lane's channel's rows of the states (made where used: not live across the loop).
    const auto state_row = [&](auto* base) { return base ? base + (s * p.dim + d) * N : nullptr; };

    if (start == end) {  // nothing to scan: the final state is the initial one
        float* const fin = state_row(p.final_state);
        const float* const ini = state_row(p.initial_state);
        if (warp == kWarps - 1 && fin) {
#pragma unroll
            for (int j = 0; j < kSteps; ++j) {
                const int n = sl + kLanesPerChan * j;
                if (n < N) fin[n] = ini ? ini[n] : 0.f;
            }
        }
        return;
    }

    // The initial state, as the last warp's hand-off "before chunk 0" (phase 0 of its barriers).
    if (warp == kWarps - 1) {
        const float* const ini = state_row(p.initial_state);
#pragma unroll
        for (int j = 0; j < kSteps; ++j) {
            const int n = sl + kLanesPerChan * j;
            S.hand[warp][j][lane] = (ini && n < N) ? ini[n] : 0.f;
            fk::attn::mbar_arrive(smem_addr(&S.bar[warp][j]));
        }
    }

    const auto rows_of = [&](int c0) {
        const int r = end - (c0 + kTok * warp);
        return r < 0 ? 0 : r > kTok ? kTok : r;
    };
    stage<T>(W.raw[0], p, start + kTok * warp, rows_of(start), d0, lane);
    cp_async_commit();

    int ci = 0;
#pragma unroll 1
    for (int c0 = start; c0 < end; c0 += kChunk, ++ci) {
        const int cur = ci & 1, rows = rows_of(c0);
        cp_async_wait<0>();
        __syncwarp();  // every lane's copies of this chunk have landed; the other buffer is free
        if (c0 + kChunk < end) stage<T>(W.raw[cur ^ 1], p, c0 + kChunk + kTok * warp, rows_of(c0 + kChunk), d0, lane);
        cp_async_commit();
        const unsigned char* raw = W.raw[cur];

        // B, C -> fp32 [state][token]: lane k < kTok converts B's row k, lane kTok + k C's.
        if (lane < 2 * kTok) {
            const int m = lane / kTok, k = lane % kTok;
            bc_row_to_column<T>(raw + (m ? WarpTiles::kC : WarpTiles::kB) + k * 32, (m ? &W.ct[0][0] : &W.bt[0][0]) + k, kRow);
        }
        // dt and dt*u of tokens kTpl*sl .. of channel c (0 past the end), shared by its 4 lanes.
        {
            const T* ut = reinterpret_cast<const T*>(raw + WarpTiles::kU);
            const T* dtt = reinterpret_cast<const T*>(raw + WarpTiles::kDt);
            float dv[kTpl], uv[kTpl];
#pragma unroll
            for (int e = 0; e < kTpl; ++e) {
                const int k = kTpl * sl + e;
                float v = fk::to_float(dtt[k * kChan + c]) + dbias;
                if (p.delta_softplus) v = fk::softplus(v);
                dv[e] = k < rows ? v : 0.f;
                uv[e] = fk::to_float(ut[k * kChan + c]);
            }
#pragma unroll
            for (int e = 0; e < kTpl; ++e) uv[e] *= dv[e];
            store_vec(&W.dt[c][kTpl * sl], dv);
            store_vec(&W.du[c][kTpl * sl], uv);
        }
        __syncwarp();
        float dt[kTok], du[kTok], y[kTok];
#pragma unroll
        for (int q = 0; q < kTok / 4; ++q) {
            const float4 a = *reinterpret_cast<const float4*>(&W.dt[c][4 * q]);
            const float4 b = *reinterpret_cast<const float4*>(&W.du[c][4 * q]);
            dt[4 * q] = a.x, dt[4 * q + 1] = a.y, dt[4 * q + 2] = a.z, dt[4 * q + 3] = a.w;
            du[4 * q] = b.x, du[4 * q + 1] = b.y, du[4 * q + 2] = b.z, du[4 * q + 3] = b.w;
        }
#pragma unroll
        for (int k = 0; k < kTok; ++k) y[k] = 0.f;

#pragma unroll
        for (int j = 0; j < kSteps; ++j) {
            const int n = sl + kLanesPerChan * j;
            const float an = S.a[c][n];
            float dA[kTok];
#pragma unroll
            for (int k = 0; k < kTok; ++k) dA[k] = fk::ex2_ftz(dt[k] * an);  // below 2^-126: 0 (ftz)
            // The state entering this warp's tokens: the previous warp's of this chunk, or
            // (warp 0) the last warp's of the previous chunk, or the initial state (which the
            // last warp published as its phase 0).
            const int from = (warp + kWarps - 1) % kWarps;
            bar_wait(smem_addr(&S.bar[from][j]), ci & 1);
            float h = S.hand[from][j][lane];
#pragma unroll
            for (int q = 0; q < kTok / 4; ++q) {
                // (B and C of the first tokens requested before the wait: 1.5 % slower, run 115)
                const float4 bq = *reinterpret_cast<const float4*>(&W.bt[n][4 * q]);
                const float4 cq = *reinterpret_cast<const float4*>(&W.ct[n][4 * q]);
                const float cc[4] = {cq.x, cq.y, cq.z, cq.w};
                const float bb[4] = {bq.x, bq.y, bq.z, bq.w};
#pragma unroll
                for (int e = 0; e < 4; ++e) {
                    const int k = 4 * q + e;
                    // (B*du after the wait: computed before it, with the exponentials, it spilled
                    // and ran 12 % slower, run 113)
                    h = fmaf(dA[k], h, bb[e] * du[k]);
                    y[k] = fmaf(cc[e], h, y[k]);
                }
            }
            S.hand[warp][j][lane] = h;
            fk::attn::mbar_arrive(smem_addr(&S.bar[warp][j]));
        }

        // y = sum over the 4 lanes of the channel (each has 4 states), + D u, * silu(z): lane sl
        // finishes tokens kTpl*sl .. kTpl*sl + kTpl-1 and writes them over z in the raw tile.
#pragma unroll
        for (int q = 0; q < kTok / 4; ++q)
            *reinterpret_cast<float4*>(&W.yp[lane][4 * q]) = make_float4(y[4 * q], y[4 * q + 1], y[4 * q + 2], y[4 * q + 3]);
        __syncwarp();
        {
            float sum[kTpl], v[kTpl];
            load_vec(&W.yp[c * kLanesPerChan][kTpl * sl], sum);
#pragma unroll
            for (int o = 1; o < kLanesPerChan; ++o) {
                load_vec(&W.yp[c * kLanesPerChan + o][kTpl * sl], v);
#pragma unroll
                for (int e = 0; e < kTpl; ++e) sum[e] += v[e];
            }
            const T* ut = reinterpret_cast<const T*>(raw + WarpTiles::kU);
            T* zt = reinterpret_cast<T*>(W.raw[cur] + WarpTiles::kZ);
            // Every load before the first store (which could alias them, for the compiler).
            float uv[kTpl], zv[kTpl];
#pragma unroll
            for (int e = 0; e < kTpl; ++e) {
                const int k = kTpl * sl + e;
                uv[e] = fk::to_float(ut[k * kChan + c]);
                zv[e] = p.z ? fk::to_float(zt[k * kChan + c]) : 0.f;
            }
#pragma unroll
            for (int e = 0; e < kTpl; ++e) {
                float o = fmaf(Dd, uv[e], sum[e]);
                if (p.z) o *= fk::silu(zv[e]);
                zt[(kTpl * sl + e) * kChan + c] = fk::from_float<T>(o);
            }
        }
        __syncwarp();
        if (lane < rows) {
            const uint4 v = *reinterpret_cast<const uint4*>(raw + WarpTiles::kZ + lane * 16);
            *reinterpret_cast<uint4*>(static_cast<T*>(p.out) + (c0 + kTok * warp + lane) * p.out_stride + d0) = v;
        }
    }
    cp_async_wait<0>();
    // Tokens past the end are identity maps, so the last warp's last hand-offs (its own
    // writes) are the final state.
    float* const fin = state_row(p.final_state);
    if (warp == kWarps - 1 && fin) {
#pragma unroll
        for (int j = 0; j < kSteps; ++j) {
            const int n = sl + kLanesPerChan * j;
            if (n < N) fin[n] = S.hand[warp][j][lane];
        }
    }
}

// Whether the ring kernel takes this call (see the file's head).
inline bool fits(const fk_selective_scan_params* p) {
    if (p->d_state > kNS || p->dim % kChan != 0 || p->tokens > INT32_MAX - kChunk || p->dim > INT32_MAX / 2) return false;
    const auto rows16 = [](const void* ptr, int64_t stride) {
        return reinterpret_cast<uintptr_t>(ptr) % 16 == 0 && stride % 8 == 0;
    };
    return rows16(p->u, p->u_stride) && rows16(p->delta, p->delta_stride) && rows16(p->out, p->out_stride) &&
           (!p->z || rows16(p->z, p->z_stride)) && rows16(p->B, p->b_stride) && rows16(p->C, p->c_stride);
}

template <typename T> cudaError_t launch(const fk_selective_scan_params* p, cudaStream_t stream) {
    const auto kernel = ring_kernel<T>;
    constexpr int kSmem = static_cast<int>(sizeof(BlockSmem));
    const cudaError_t e = use_smem(kernel, kSmem);
    if (e != cudaSuccess) return e;
    const dim3 grid(static_cast<unsigned>(p->dim / kChan), static_cast<unsigned>(p->batch));
    kernel<<<grid, kThreads, kSmem, stream>>>(*p);
    return cudaGetLastError();
}

}  // namespace ring
