// selective_scan's cluster ring kernel (sm_90a): part of selective_scan.cu, included inside
// its anonymous namespace after the ring kernel (no include guard: the A/B bench includes
// selective_scan.cu twice, in two namespaces). Same conditions as the ring kernel plus dim a
// multiple of 32.
//
// Why. The ring kernel (selective_scan_ring.cuh) gives a lane 4 of a channel's 16 states, so
// a warp covers 8 channels and all per-chunk work that is per token and state (staging and
// converting B and C) or per token (staging u, delta, z; the sum of y over the 4 lanes of a
// channel) is shared by only 8 channels or repeated 4 times: half of its instructions (run
// 114). Here a lane owns one channel and all 16 of its states: a warp covers 32 channels, B
// and C are converted once per 32 channels, y needs no cross-lane sum, dt and dt*u never leave
// registers. A chunk step is still one state over the warp's 16 tokens (the same 5
// instructions and 1 exponential per element), so a warp takes 16 steps per chunk.
//
// Why a cluster. 32 channels per warp leave mamba-2.8b's 5120 channels 160 groups; the ~20
// warps an SM needs (runs 108, 117-118) then ask for a ring of 16 warps per group, and 160
// blocks of 16 warps would fill 132 SMs in 1.2 waves. So the ring spans a cluster of 4 CTAs of
// 4 warps: 640 CTAs, 6 per SM, one wave. Warp g = 4 * rank + warp owns tokens [16g, 16g + 16)
// of each 256-token chunk; it takes each state from warp g - 1 (g = 0: warp 15's of the previous
// chunk) through an inbox in its own shared memory and a per-state mbarrier: plain stores and
// arrivals inside a CTA, asynchronous stores that count transaction bytes on the barrier
// (st.async) into the next CTA's warp 0. Inboxes are single-
// buffered: warp g - 1 cannot write state j of the next chunk before the ring has gone through
// g's step j of this one, and what it writes is computed from the value g read there, so that
// read cannot see it. (compute-sanitizer's racecheck follows synchronisation inside a CTA only;
// it reports the inbox reads of warps 1-3 and their next-chunk writes as races, run 138.)
//
// Registers are fitted for 6 CTAs per SM (80, no spills): at 5 (92 registers) only 154
// clusters of 4 fit an H200 at once, fewer than mamba-2.8b's 160 channel groups, and the other 6
// ran as a second wave: 454.1 us against 418.4 at 8k tokens, 127.8 against 119.0 at 2k (runs
// 140-141).
//
// Staging (per warp, cp.async): u, delta, B, C of chunk c + 1 are requested as soon as chunk c
// has been converted (before its steps); z of chunk c + 1 once chunk c's output, written over
// z's tile, has been stored. So every tile is single-buffered: ~6 KB per warp, 35 KB per CTA.
// CTAs per SM the registers are fitted for (A/B knob: experiments/ssm/scan_ring32_blocks_variant.cu).
#ifndef FK_RING32_BLOCKS
#define FK_RING32_BLOCKS 6
#endif
#if FK_SM90A
namespace ring32 {

constexpr int kWarps = 4;              // warps per CTA
constexpr int kCluster = 4;            // CTAs per cluster: the ring is 16 warps
constexpr int kRing = kWarps * kCluster;
constexpr int kTok = 16;               // tokens per warp per chunk
constexpr int kChunk = kRing * kTok;   // 256 tokens
constexpr int kChan = 32;              // channels per CTA: lane = channel
constexpr int kNS = 16;                // states (d_state <= 16; the others are inert)
static_assert(kNS == 16, "B and C rows are converted 16 states at a time (bc_row_to_column)");
constexpr int kThreads = 32 * kWarps;
static_assert(kRing <= kNS, "warp 0 takes warp 15's state of a step one chunk later: no more warps than steps");

struct WarpTiles {
    static constexpr int kActBytes = kTok * kChan * 2;  // [token][channel] rows of 64 bytes
    static constexpr int kBCBytes = kTok * kNS * 2;     // [token][state] rows of 32 bytes
    alignas(16) unsigned char u[kActBytes], dt[kActBytes], z[kActBytes], b[kBCBytes], c[kBCBytes];
    float bt[kNS][kTok];  // B, fp32 [state][token]
    float pad[16];        // C's rows 16 banks from B's: the conversion's B and C stores do not conflict
    float ct[kNS][kTok];  // C
};
struct BlockSmem {
    WarpTiles warp[kWarps];
    float a[kNS][kChan];              // A * log2(e) [state][channel], 0 for states >= d_state
    float inbox[kWarps][kNS][32];     // the state entering warp w's tokens, per step and lane
    uint64_t in_bar[kWarps][kNS];     // inbox[w][j] filled (32 arrivals per chunk)
};

// Piece i (0, 1) of lane `lane` of one of u, delta, z for the warp's tokens [t0, t0 + kTok):
// a tile is 64 pieces of 16 bytes (16 rows of 4); rows at or past `rows` arrive as zeros.
template <typename T>
__device__ __forceinline__ void stage_act(unsigned char* dst, const void* src, int64_t stride, int i, int t0, int rows, int d0, int lane) {
    const int piece = lane + 32 * i, k = piece / 4, col = 8 * (piece % 4);
    const bool in = k < rows;
    const int64_t row = t0 + (in ? k : 0);  // (int64: row * stride may pass 2^31)
    cp_async16(dst + piece * 16, static_cast<const T*>(src) + row * stride + d0 + col, in ? 16 : 0);
}
// Chunk c's u, delta, B, C (one group of copies); B/C rows at or past `rows` and columns past
// d_state arrive as zeros.
template <typename T>
__device__ __forceinline__ void stage_inputs(WarpTiles& W, const fk_selective_scan_params& p, int t0, int rows, int d0, int lane) {
#pragma unroll
    for (int i = 0; i < 2; ++i) {
        stage_act<T>(W.u, p.u, p.u_stride, i, t0, rows, d0, lane);
        stage_act<T>(W.dt, p.delta, p.delta_stride, i, t0, rows, d0, lane);
    }
    {  // B, C: row k = lane / 2, half h = lane % 2 (states 8h .. 8h + 7)
        const int k = lane / 2, h = lane % 2;
        const int bytes = k < rows ? min(max(p.d_state - 8 * h, 0), 8) * 2 : 0;
        const int64_t row = t0 + (bytes > 0 ? k : 0);
        cp_async16(W.b + lane * 16, static_cast<const T*>(p.B) + row * p.b_stride + (bytes > 0 ? 8 * h : 0), bytes);
        cp_async16(W.c + lane * 16, static_cast<const T*>(p.C) + row * p.c_stride + (bytes > 0 ? 8 * h : 0), bytes);
    }
}
template <typename T>
__device__ __forceinline__ void stage_z(WarpTiles& W, const fk_selective_scan_params& p, int t0, int rows, int d0, int lane) {
    if (!p.z) return;
#pragma unroll
    for (int i = 0; i < 2; ++i) stage_act<T>(W.z, p.z, p.z_stride, i, t0, rows, d0, lane);
}

template <typename T>
__global__ void __cluster_dims__(kCluster, 1, 1) __launch_bounds__(kThreads, FK_RING32_BLOCKS) ring32_kernel(const fk_selective_scan_params p) {
    extern __shared__ __align__(16) unsigned char smem_raw[];
    BlockSmem& S = *reinterpret_cast<BlockSmem*>(smem_raw);
    const int warp = __shfl_sync(0xffffffffu, threadIdx.x / 32, 0), lane = threadIdx.x % 32;
    const int rank = static_cast<int>(fk::attn::cluster_ctarank());
    const int g = kWarps * rank + warp;  // this warp's place in the ring
    const int s = blockIdx.y, N = p.d_state;
    const int start = p.cu_seqlens[s], end = p.cu_seqlens[s + 1];
    const int d0 = (blockIdx.x / kCluster) * kChan, d = d0 + lane;
    WarpTiles& W = S.warp[warp];

    for (int i = threadIdx.x; i < kNS * kChan; i += kThreads) {
        const int n = i / kChan, ch = i % kChan;
        S.a[n][ch] = n < N ? p.A[(static_cast<int64_t>(d0) + ch) * N + n] * fk::kLog2e : 0.f;
    }
    // Warp 0's inbox is filled from another CTA by asynchronous stores (transaction bytes on the
    // barrier, one arrival: its lane 0's expect_tx); the others' by 32 lanes' plain arrivals.
    if (threadIdx.x < kWarps * kNS) fk::attn::mbar_init(smem_addr(&S.in_bar[threadIdx.x / kNS][threadIdx.x % kNS]), threadIdx.x < kNS ? 1 : 32);
    fk::attn::mbar_init_fence();
    fk::attn::cluster_sync();  // every CTA's barriers exist before any remote arrival

    float* const fin = p.final_state ? p.final_state + (static_cast<int64_t>(s) * p.dim + d) * N : nullptr;
    const float* const ini = p.initial_state ? p.initial_state + (static_cast<int64_t>(s) * p.dim + d) * N : nullptr;
    const bool last_warp = g == kRing - 1;
    // Where this warp's states go: the next warp's inbox, in this CTA or (warp 3) the next one's.
    const uint32_t next_rank = warp == kWarps - 1 ? (rank + 1) % kCluster : rank;
    const int next_warp = (warp + 1) % kWarps;
    const auto push = [&](int j, float h) {
        const uint32_t slot = smem_addr(&S.inbox[next_warp][j][lane]), bar = smem_addr(&S.in_bar[next_warp][j]);
        if (warp == kWarps - 1) {
            fk::attn::st_async_cluster(fk::attn::cluster_map(slot, next_rank), h, fk::attn::cluster_map(bar, next_rank));
        } else {
            S.inbox[next_warp][j][lane] = h;
            fk::attn::mbar_arrive(bar);
        }
    };

    if (start == end) {  // nothing to scan: the final state is the initial one
        if (last_warp && fin)
            for (int n = 0; n < N; ++n) fin[n] = ini ? ini[n] : 0.f;
        fk::attn::cluster_sync();
        return;
    }
    // The initial state, as warp 15's hand-off "before chunk 0" (phase 0 of warp 0's inbox).
    if (last_warp)
        for (int j = 0; j < kNS; ++j) push(j, ini && j < N ? ini[j] : 0.f);

    const float dbias = p.delta_bias ? p.delta_bias[d] : 0.f;
    const float Dd = p.D ? p.D[d] : 0.f;
    const auto rows_of = [&](int c0) {
        const int r = end - (c0 + kTok * g);
        return r < 0 ? 0 : r > kTok ? kTok : r;
    };
    stage_inputs<T>(W, p, start + kTok * g, rows_of(start), d0, lane);
    cp_async_commit();
    stage_z<T>(W, p, start + kTok * g, rows_of(start), d0, lane);
    cp_async_commit();

    const uint32_t in_bar0 = smem_addr(&S.in_bar[warp][0]);
    int ci = 0;
#pragma unroll 1
    for (int c0 = start; c0 < end; c0 += kChunk, ++ci) {
        const int rows = rows_of(c0);
        const bool last_chunk = c0 + kChunk >= end;
        cp_async_wait<1>();  // this chunk's inputs (its z may still be in flight)
        __syncwarp();

        // B, C -> fp32 [state][token]: lane k < 16 converts B's row k, lane 16 + k C's.
        {
            const int m = lane / kTok, k = lane % kTok;
            bc_row_to_column<T>((m ? W.c : W.b) + k * 32, (m ? &W.ct[0][0] : &W.bt[0][0]) + k, kTok);
        }
        // dt, dt * u and y's D * u for this lane's channel, in registers.
        float dt[kTok], du[kTok], y[kTok];
        {
            const T* ut = reinterpret_cast<const T*>(W.u);
            const T* dtt = reinterpret_cast<const T*>(W.dt);
#pragma unroll
            for (int k = 0; k < kTok; ++k) {
                float v = fk::to_float(dtt[k * kChan + lane]) + dbias;
                if (p.delta_softplus) v = fk::softplus(v);
                const float u = fk::to_float(ut[k * kChan + lane]);
                dt[k] = k < rows ? v : 0.f;
                du[k] = dt[k] * u;
                y[k] = Dd * u;
            }
        }
        __syncwarp();  // the raw inputs are consumed and B, C converted
        if (!last_chunk) stage_inputs<T>(W, p, c0 + kChunk + kTok * g, rows_of(c0 + kChunk), d0, lane);
        cp_async_commit();  // (possibly empty: keeps the group count of the waits fixed)

#pragma unroll 1
        for (int j = 0; j < kNS; ++j) {
            const float an = S.a[j][lane];
            float dA[kTok];
#pragma unroll
            for (int k = 0; k < kTok; ++k) dA[k] = fk::ex2_ftz(dt[k] * an);
            // (warp 0: its inbox is filled by the previous CTA's asynchronous stores, 128 bytes)
            if (warp == 0 && lane == 0) fk::attn::mbar_arrive_expect_tx(in_bar0 + 8 * j, 32 * sizeof(float));
            fk::attn::mbar_wait(in_bar0 + 8 * j, ci & 1);
            float h = S.inbox[warp][j][lane];
#pragma unroll
            for (int q = 0; q < kTok / 4; ++q) {
                const float4 bq = *reinterpret_cast<const float4*>(&W.bt[j][4 * q]);
                const float4 cq = *reinterpret_cast<const float4*>(&W.ct[j][4 * q]);
                const float bb[4] = {bq.x, bq.y, bq.z, bq.w}, cc[4] = {cq.x, cq.y, cq.z, cq.w};
#pragma unroll
                for (int e = 0; e < 4; ++e) {
                    const int k = 4 * q + e;
                    h = fmaf(dA[k], h, bb[e] * du[k]);
                    y[k] = fmaf(cc[e], h, y[k]);
                }
            }
            // Warp 15's last chunk has no reader (warp 0 may have left): its states are final
            // (tokens past the end are identity maps).
            if (!(last_warp && last_chunk)) push(j, h);
            else if (fin && j < N) fin[j] = h;
        }

        cp_async_wait<1>();  // this chunk's z (the next chunk's inputs may still be in flight)
        __syncwarp();
        {
            T* zt = reinterpret_cast<T*>(W.z);
#pragma unroll
            for (int k = 0; k < kTok; ++k) {
                float o = y[k];
                if (p.z) o *= fk::silu(fk::to_float(zt[k * kChan + lane]));
                zt[k * kChan + lane] = fk::from_float<T>(o);
            }
        }
        __syncwarp();
#pragma unroll
        for (int i = 0; i < 2; ++i) {
            const int piece = lane + 32 * i, k = piece / 4, col = 8 * (piece % 4);
            if (k < rows) {
                const uint4 v = *reinterpret_cast<const uint4*>(W.z + piece * 16);
                *reinterpret_cast<uint4*>(static_cast<T*>(p.out) + static_cast<int64_t>(c0 + kTok * g + k) * p.out_stride + d0 + col) = v;
            }
        }
        __syncwarp();  // the output is read from z's tile before the next z lands there
        if (!last_chunk) stage_z<T>(W, p, c0 + kChunk + kTok * g, rows_of(c0 + kChunk), d0, lane);
        cp_async_commit();
    }
    cp_async_wait<0>();
    fk::attn::cluster_sync();  // no CTA leaves while another may still write its inboxes
}

// Whether this kernel takes the call: the ring kernel's conditions and 32-channel groups; and
// sequences of 1024 tokens or more on average, since every warp of the ring walks every
// 256-token chunk, tokens or not: at 8192 tokens 455.7 us against the ring kernel's 499.6,
// 127.6 against 133.6 at 2048, 73.2 against 72.6 at 1000, 44.7 against 29.8 at 300 (run 138,
// at 5 CTAs per SM).
inline bool fits(const fk_selective_scan_params* p) {
    if (p->dim % kChan != 0 || p->tokens > INT32_MAX - kChunk || !ring::fits(p)) return false;
    return p->tokens >= 1024 * p->batch;
}

template <typename T> cudaError_t launch(const fk_selective_scan_params* p, cudaStream_t stream) {
    const auto kernel = ring32_kernel<T>;
    constexpr int kSmem = static_cast<int>(sizeof(BlockSmem));
    const cudaError_t e = use_smem(kernel, kSmem);
    if (e != cudaSuccess) return e;
    const dim3 grid(static_cast<unsigned>(p->dim / kChan * kCluster), static_cast<unsigned>(p->batch));
    kernel<<<grid, kThreads, kSmem, stream>>>(*p);
    return cudaGetLastError();
}

}  // namespace ring32
#endif
