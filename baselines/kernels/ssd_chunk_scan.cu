// ssd_chunk_scan baseline (L1). Contract: include/fk/ops/ssd_chunk_scan.h.
// Mamba-2's state-space-duality prefill (what Dao-AILab's `mamba_chunk_scan_combined` computes
// in five Triton kernels), here as one pass per (sequence, head). Any sm_80+.
//
// Algorithm. Time is cut into chunks of kQ = 64 tokens. Inside a chunk, with cum[i] the running
// sum of dt*A and dte the effective steps, the recurrence unrolls into matrix products:
//   y_i  = sum_{j<=i} (C_i . B_j) exp(cum_i - cum_j) dte_j x_j   (intra-chunk, "attention-like")
//        + exp(cum_i) C_i . S_in                                  (the state entering the chunk)
//   S_out = exp(cum_last) S_in + sum_j x_j (exp(cum_last - cum_j) dte_j B_j)^T
// All four products (C B^T, its masked version times x, C S_in^T, x^T (w B)) run on tensor
// cores (mma.sync m16n8k16, fp32 accumulators).
//
// Why one CTA walks a (sequence, head) from first to last chunk instead of upstream's split
// into chunk-state / state-passing / output kernels: the running state S [head_dim, d_state]
// then lives in the CTA's registers (fp32, as mma accumulators: the chunk's contribution is
// accumulated straight onto the decayed state), so no per-chunk states go through memory
// (for Codestral's 128 heads x 64 x 128 fp32 state that would be 4 MB per chunk, written and
// read back twice). The cost is parallelism, so a head's channels are split over CTAs of
// kPT = 32 channels each: batch x heads x head_dim/32 CTAs (256 for one Codestral sequence,
// 160 for mamba2-2.7b's), each recomputing the chunk's C B^T (a quarter of its work) but with
// half the state and output, ~105 KB of shared memory so two CTAs share an SM. Chunks are
// double-buffered with cp.async: the next chunk's x/B/C arrive while this one computes.
//
// Work split inside the CTA (4 warps): warp w owns output rows 16w..16w+15 of the chunk (the
// intra-chunk products skip the blocks above the causal diagonal) and state columns
// [w*NT/4, (w+1)*NT/4) for the state update. Channel slices and state sizes are padded to the
// tile (kPT; NT in {64, 128}) with zeros, which add nothing to any product.
//
// f32 inputs, and d_state > 128, take `seq_kernel`: the plain recurrence, one warp per
// (sequence, head, channel) with the state spread over the lanes. It is exact in fp32 and is
// not a performance path (f32 Mamba-2 serves only as a reference).
#include "fk/attention/sm80_mma.cuh"
#include "fk/ops/ssd_chunk_scan.h"
#include "fk/ssm.cuh"

#include <initializer_list>
#include <type_traits>

namespace {

using fk::attn::cp_async16;
using fk::attn::cp_async_commit;
using fk::attn::cp_async_wait;
using fk::attn::ldmatrix_x4;
using fk::attn::ldmatrix_x4_trans;
using fk::attn::MmaType;
using fk::attn::smem_addr;

constexpr int kQ = 64;   // tokens per chunk
constexpr int kPT = 32;  // channels of a head per CTA
constexpr int kWarps = 4;
constexpr int kThreads = kWarps * 32;

// Tokens of the chunk starting at t0 (at most kQ).
__device__ __forceinline__ int rows_left(int64_t t0, int64_t end) { return static_cast<int>(end - t0 < kQ ? end - t0 : kQ); }

// The effective step of a token: dt + bias, softplus, clamp.
__device__ __forceinline__ float step_of(float raw, float bias, const fk_ssd_chunk_scan_params& p) {
    float v = raw + bias;
    if (p.dt_softplus) v = fk::softplus(v);
    return fminf(fmaxf(v, p.dt_min), p.dt_max);
}

// Shared-memory layout of the tensor-core kernel. Rows are padded by 16 bytes so that the 8
// row addresses of one ldmatrix fall in 8 different 16-byte bank groups (the pitches, 80, 144
// and 272 bytes, are odd multiples of 16 B).
template <int NT>
struct Smem {
    static constexpr int PT = kPT;
    static constexpr int kXP = PT + 8;  // x row pitch (elements)
    static constexpr int kBP = NT + 8;  // B, C, w*B and state row pitch (elements)
    static constexpr int kX = kQ * kXP * 2;
    static constexpr int kB = kQ * kBP * 2;
    static constexpr int kStage = kX + 2 * kB + kQ * 4;  // x, B, C, raw dt (f32)
    static constexpr int kBw = 2 * kStage;                // offset of w*B
    static constexpr int kS = kBw + kB;                   // offset of the bf16/f16 state copy
    static constexpr int kCum = kS + PT * kBP * 2;        // cum (log2 units), then dte
    static constexpr int kBytes = kCum + 2 * kQ * 4;
};

template <typename T, int NT>
struct Tile {
    using L = Smem<NT>;
    unsigned char* base;
    __device__ T* x(int st) const { return reinterpret_cast<T*>(base + st * L::kStage); }
    __device__ T* b(int st) const { return reinterpret_cast<T*>(base + st * L::kStage + L::kX); }
    __device__ T* c(int st) const { return reinterpret_cast<T*>(base + st * L::kStage + L::kX + L::kB); }
    __device__ float* dt(int st) const { return reinterpret_cast<float*>(base + st * L::kStage + L::kX + 2 * L::kB); }
    __device__ T* bw() const { return reinterpret_cast<T*>(base + L::kBw); }
    __device__ T* s() const { return reinterpret_cast<T*>(base + L::kS); }
    __device__ float* cum() const { return reinterpret_cast<float*>(base + L::kCum); }
    __device__ float* dte() const { return reinterpret_cast<float*>(base + L::kCum + kQ * 4); }
};

// rows x cols (cols < COLS valid) of a strided global matrix into a [kQ][PITCH] tile, zero
// outside. `vec`: 16-byte cp.async (asynchronous; the caller commits the group), else plain
// element loads (complete when this returns).
template <typename T, int COLS, int PITCH>
__device__ __forceinline__ void load_tile(T* dst, const T* src, int64_t stride, int rows, int cols, bool vec) {
    if (vec) {
        constexpr int kVecs = COLS / 8;
        for (int i = threadIdx.x; i < kQ * kVecs; i += kThreads) {
            const int r = i / kVecs, v = i % kVecs;
            const bool ok = r < rows && v * 8 < cols;
            const T* g = ok ? src + r * stride + v * 8 : src;
            cp_async16(smem_addr(dst + r * PITCH + v * 8), g, ok);
        }
    } else {
        for (int i = threadIdx.x; i < kQ * COLS; i += kThreads) {
            const int r = i / COLS, col = i % COLS;
            dst[r * PITCH + col] = (r < rows && col < cols) ? src[r * stride + col] : fk::from_float<T>(0.f);
        }
    }
}

template <typename T, int NT>
__global__ void __launch_bounds__(kThreads, 2) tc_kernel(const fk_ssd_chunk_scan_params p, bool vec) {
    constexpr int PT = kPT;
    using L = Smem<NT>;
    using M = MmaType<T>;
    constexpr int kMT = PT / 16;      // 16-row tiles of the state (its head_dim side)
    constexpr int kNW = NT / kWarps;  // state columns per warp
    constexpr int kNWT = kNW / 8;     // ... in 8-column mma tiles (2 or 4)
    static_assert(kNWT % 2 == 0 && PT % 16 == 0, "tiles are loaded in pairs");
    extern __shared__ __align__(16) unsigned char smem[];
    const Tile<T, NT> sm{smem};

    const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
    const int g = lane / 4, c4 = lane % 4;  // mma fragment coordinates
    // This CTA: head h, its channels pc .. pc + P - 1, of sequence s.
    const int splits = (p.head_dim + kPT - 1) / kPT;
    const int h = blockIdx.x / splits, pc = (blockIdx.x % splits) * kPT, s = blockIdx.y;
    const int P = min(kPT, p.head_dim - pc), N = p.d_state, grp = h / (p.heads / p.ngroups);
    const int64_t start = p.cu_seqlens[s], end = p.cu_seqlens[s + 1];
    const T* xg = static_cast<const T*>(p.x) + static_cast<int64_t>(h) * p.head_dim + pc;
    const T* bg = static_cast<const T*>(p.B) + static_cast<int64_t>(grp) * N;
    const T* cg = static_cast<const T*>(p.C) + static_cast<int64_t>(grp) * N;
    const T* dtg = static_cast<const T*>(p.dt) + h;
    T* outg = static_cast<T*>(p.out) + static_cast<int64_t>(h) * p.head_dim + pc;
    const float a2 = p.A[h] * fk::kLog2e;  // dt*A in log2 units, so decays are one ex2
    const float dtb = p.dt_bias ? p.dt_bias[h] : 0.f;
    const float Dh = p.D ? p.D[h] : 0.f;
    // The slice's first state row: rows pc.. of [batch, heads, head_dim, d_state].
    const int64_t state0 = ((static_cast<int64_t>(s) * p.heads + h) * p.head_dim + pc) * N;

    // The running state: tile (mt, nt) element i is (p = mt*16 + g + 8*(i/2), n = warp*kNW + nt*8 + 2*c4 + i%2).
    float S[kMT][kNWT][4];
    auto each_state = [&](auto&& f) {
#pragma unroll
        for (int mt = 0; mt < kMT; ++mt)
#pragma unroll
            for (int nt = 0; nt < kNWT; ++nt)
#pragma unroll
                for (int i = 0; i < 4; ++i) f(S[mt][nt][i], mt * 16 + g + 8 * (i / 2), warp * kNW + nt * 8 + 2 * c4 + i % 2);
    };
    each_state([&](float& v, int pp, int n) { v = (p.initial_state && pp < P && n < N) ? p.initial_state[state0 + pp * N + n] : 0.f; });

    auto load_chunk = [&](int st, int64_t t0) {
        const int rows = rows_left(t0, end);
        load_tile<T, PT, L::kXP>(sm.x(st), xg + t0 * p.x_stride, p.x_stride, rows, P, vec);
        load_tile<T, NT, L::kBP>(sm.b(st), bg + t0 * p.b_stride, p.b_stride, rows, N, vec);
        load_tile<T, NT, L::kBP>(sm.c(st), cg + t0 * p.c_stride, p.c_stride, rows, N, vec);
        for (int r = threadIdx.x; r < kQ; r += kThreads) sm.dt(st)[r] = r < rows ? fk::to_float(dtg[(t0 + r) * p.dt_stride]) : 0.f;
    };

    const int chunks = static_cast<int>((end - start + kQ - 1) / kQ);
    if (chunks > 0) load_chunk(0, start);
    cp_async_commit();
    for (int ci = 0; ci < chunks; ++ci) {
        const int st = ci & 1;
        const int64_t t0 = start + static_cast<int64_t>(ci) * kQ;
        const int rows = rows_left(t0, end);
        if (ci + 1 < chunks) load_chunk(st ^ 1, t0 + kQ);
        cp_async_commit();
        cp_async_wait<1>();  // everything but the group just issued: chunk ci is in
        __syncthreads();

        // (A) Steps and their running sum. Padding rows get dte = 0: they decay nothing and
        // add nothing (their x, B, C are zero too).
        if (warp == 0) {
            float run = 0.f;
#pragma unroll
            for (int half = 0; half < 2; ++half) {
                const int r = half * 32 + lane;
                const float d = r < rows ? step_of(sm.dt(st)[r], dtb, p) : 0.f;
                float v = d * a2;
#pragma unroll
                for (int o = 1; o < 32; o <<= 1) {
                    const float u = __shfl_up_sync(0xffffffffu, v, o);
                    if (lane >= o) v += u;
                }
                v += run;
                run = __shfl_sync(0xffffffffu, v, 31);
                sm.cum()[r] = v;
                sm.dte()[r] = d;
            }
        }
        __syncthreads();

        // (B) w_j * B_j for the state update, and the incoming state rounded for the mma.
        const float last = sm.cum()[kQ - 1];
        for (int i = threadIdx.x; i < kQ * NT / 2; i += kThreads) {
            const int r = i / (NT / 2), col = 2 * (i % (NT / 2));
            const float w = fk::ex2_ftz(last - sm.cum()[r]) * sm.dte()[r];
            const T* src = sm.b(st) + r * L::kBP + col;
            *reinterpret_cast<uint32_t*>(sm.bw() + r * L::kBP + col) = M::pack(w * fk::to_float(src[0]), w * fk::to_float(src[1]));
        }
#pragma unroll
        for (int mt = 0; mt < kMT; ++mt)
#pragma unroll
            for (int nt = 0; nt < kNWT; ++nt)
#pragma unroll
                for (int hi = 0; hi < 2; ++hi) {
                    const int pp = mt * 16 + g + 8 * hi, n = warp * kNW + nt * 8 + 2 * c4;
                    *reinterpret_cast<uint32_t*>(sm.s() + pp * L::kBP + n) = M::pack(S[mt][nt][2 * hi], S[mt][nt][2 * hi + 1]);
                }
        __syncthreads();

        // (C) Output rows i0..i0+15 of this warp.
        const int i0 = warp * 16;
        float Y[PT / 8][4] = {};  // tile np element e: (i0 + g + 8*(e/2), np*8 + 2*c4 + e%2)
        float G[kQ / 8][4] = {};  // C_i . B_j, then the masked decay-weighted matrix
#pragma unroll
        for (int kk = 0; kk < NT / 16; ++kk) {
            uint32_t a[4];
            ldmatrix_x4(a, smem_addr(sm.c(st) + (i0 + lane % 16) * L::kBP + kk * 16 + (lane / 16) * 8));
#pragma unroll
            for (int np = 0; np < PT / 8; np += 2) {  // C_i . S_in (state rows are the n side)
                uint32_t b[4];
                ldmatrix_x4(b, smem_addr(sm.s() + (np * 8 + (lane / 16) * 8 + lane % 8) * L::kBP + kk * 16 + ((lane / 8) % 2) * 8));
                M::mma(Y[np], a, b[0], b[1]);
                M::mma(Y[np + 1], a, b[2], b[3]);
            }
#pragma unroll
            for (int jp = 0; jp < kQ / 16; ++jp) {  // C_i . B_j, blocks on or below the diagonal
                if (jp > warp) continue;
                uint32_t b[4];
                ldmatrix_x4(b, smem_addr(sm.b(st) + (jp * 16 + (lane / 16) * 8 + lane % 8) * L::kBP + kk * 16 + ((lane / 8) % 2) * 8));
                M::mma(G[2 * jp], a, b[0], b[1]);
                M::mma(G[2 * jp + 1], a, b[2], b[3]);
            }
        }
        const float cum_lo = sm.cum()[i0 + g], cum_hi = sm.cum()[i0 + g + 8];
        const float in_lo = fk::ex2_ftz(cum_lo), in_hi = fk::ex2_ftz(cum_hi);
#pragma unroll
        for (int np = 0; np < PT / 8; ++np) {
            Y[np][0] *= in_lo;
            Y[np][1] *= in_lo;
            Y[np][2] *= in_hi;
            Y[np][3] *= in_hi;
        }
#pragma unroll
        for (int jt = 0; jt < kQ / 8; ++jt) {
            if (jt / 2 > warp) continue;
#pragma unroll
            for (int e = 0; e < 4; ++e) {
                const int i = i0 + g + 8 * (e / 2), j = jt * 8 + 2 * c4 + e % 2;
                const float ci = e < 2 ? cum_lo : cum_hi;
                G[jt][e] = j <= i ? G[jt][e] * fk::ex2_ftz(ci - sm.cum()[j]) * sm.dte()[j] : 0.f;
            }
        }
#pragma unroll
        for (int kk = 0; kk < kQ / 16; ++kk) {  // (masked G) . x over j
            if (kk > warp) continue;
            const uint32_t a[4] = {M::pack(G[2 * kk][0], G[2 * kk][1]), M::pack(G[2 * kk][2], G[2 * kk][3]),
                                   M::pack(G[2 * kk + 1][0], G[2 * kk + 1][1]), M::pack(G[2 * kk + 1][2], G[2 * kk + 1][3])};
#pragma unroll
            for (int np = 0; np < PT / 8; np += 2) {
                uint32_t b[4];
                ldmatrix_x4_trans(b, smem_addr(sm.x(st) + (kk * 16 + ((lane / 8) % 2) * 8 + lane % 8) * L::kXP + np * 8 + (lane / 16) * 8));
                M::mma(Y[np], a, b[0], b[1]);
                M::mma(Y[np + 1], a, b[2], b[3]);
            }
        }
        // y + D x, stored as pairs of channels.
#pragma unroll
        for (int np = 0; np < PT / 8; ++np)
#pragma unroll
            for (int hi = 0; hi < 2; ++hi) {
                const int i = i0 + g + 8 * hi, pp = np * 8 + 2 * c4;
                if (i >= rows || pp >= P) continue;
                const T* xs = sm.x(st) + i * L::kXP + pp;
                const float y0 = Y[np][2 * hi] + Dh * fk::to_float(xs[0]);
                const float y1 = Y[np][2 * hi + 1] + Dh * fk::to_float(xs[1]);
                T* o = outg + (t0 + i) * p.out_stride + pp;
                if (vec) {
                    *reinterpret_cast<uint32_t*>(o) = M::pack(y0, y1);
                } else {
                    o[0] = fk::from_float<T>(y0);
                    if (pp + 1 < P) o[1] = fk::from_float<T>(y1);
                }
            }

        // (D) S = exp(cum_last) S + x^T (w B) over the chunk's real rows.
        const float decay = fk::ex2_ftz(last);
#pragma unroll
        for (int mt = 0; mt < kMT; ++mt)
#pragma unroll
            for (int nt = 0; nt < kNWT; ++nt)
#pragma unroll
                for (int i = 0; i < 4; ++i) S[mt][nt][i] *= decay;
#pragma unroll
        for (int kk = 0; kk < kQ / 16; ++kk) {
            if (kk * 16 >= rows) break;
            uint32_t bw[kNWT][2];
#pragma unroll
            for (int nt = 0; nt < kNWT; nt += 2) {
                uint32_t b[4];
                ldmatrix_x4_trans(b, smem_addr(sm.bw() + (kk * 16 + ((lane / 8) % 2) * 8 + lane % 8) * L::kBP + warp * kNW + nt * 8 + (lane / 16) * 8));
                bw[nt][0] = b[0];
                bw[nt][1] = b[1];
                bw[nt + 1][0] = b[2];
                bw[nt + 1][1] = b[3];
            }
#pragma unroll
            for (int mt = 0; mt < kMT; ++mt) {
                uint32_t a[4];  // x^T: rows p, columns t (x is stored [t][p]: a transposed load)
                ldmatrix_x4_trans(a, smem_addr(sm.x(st) + (kk * 16 + (lane / 16) * 8 + lane % 8) * L::kXP + mt * 16 + ((lane / 8) % 2) * 8));
#pragma unroll
                for (int nt = 0; nt < kNWT; ++nt) M::mma(S[mt][nt], a, bw[nt][0], bw[nt][1]);
            }
        }
        __syncthreads();  // this chunk's buffers, w*B, the state copy and cum are free again
    }
    cp_async_wait<0>();

    if (p.final_state) {
        each_state([&](float& v, int pp, int n) {
            if (pp < P && n < N) p.final_state[state0 + pp * N + n] = v;
        });
    }
}

// The plain recurrence: one warp per (channel p, head, sequence); lane l holds states
// l, l+32, ... (NPL of them).
template <typename T, int NPL>
__global__ void __launch_bounds__(kThreads) seq_kernel(const fk_ssd_chunk_scan_params p) {
    const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
    const int P = p.head_dim, N = p.d_state;
    const int pp = blockIdx.x * kWarps + warp, h = blockIdx.y, s = blockIdx.z;
    if (pp >= P) return;
    const int grp = h / (p.heads / p.ngroups);
    const int64_t start = p.cu_seqlens[s], end = p.cu_seqlens[s + 1];
    const T* x = static_cast<const T*>(p.x) + static_cast<int64_t>(h) * P + pp;
    const T* dt = static_cast<const T*>(p.dt) + h;
    const T* B = static_cast<const T*>(p.B) + static_cast<int64_t>(grp) * N;
    const T* C = static_cast<const T*>(p.C) + static_cast<int64_t>(grp) * N;
    T* out = static_cast<T*>(p.out) + static_cast<int64_t>(h) * P + pp;
    const float a2 = p.A[h] * fk::kLog2e;
    const float dtb = p.dt_bias ? p.dt_bias[h] : 0.f;
    const float Dh = p.D ? p.D[h] : 0.f;
    const int64_t state0 = ((static_cast<int64_t>(s) * p.heads + h) * P + pp) * N;

    float st[NPL];
#pragma unroll
    for (int k = 0; k < NPL; ++k) {
        const int n = lane + 32 * k;
        st[k] = (p.initial_state && n < N) ? p.initial_state[state0 + n] : 0.f;
    }
    for (int64_t t = start; t < end; ++t) {
        const float d = step_of(fk::to_float(dt[t * p.dt_stride]), dtb, p);
        const float decay = fk::ex2_ftz(d * a2);
        const float xv = fk::to_float(x[t * p.x_stride]);
        float acc = 0.f;
#pragma unroll
        for (int k = 0; k < NPL; ++k) {
            const int n = lane + 32 * k;
            if (n < N) {
                st[k] = fmaf(decay, st[k], d * xv * fk::to_float(B[t * p.b_stride + n]));
                acc = fmaf(st[k], fk::to_float(C[t * p.c_stride + n]), acc);
            }
        }
        acc = fk::warp_sum(acc);
        if (lane == 0) out[t * p.out_stride] = fk::from_float<T>(acc + Dh * xv);
    }
    if (p.final_state) {
#pragma unroll
        for (int k = 0; k < NPL; ++k) {
            const int n = lane + 32 * k;
            if (n < N) p.final_state[state0 + n] = st[k];
        }
    }
}

template <typename T, int NT>
cudaError_t launch_tc(const fk_ssd_chunk_scan_params* p, cudaStream_t stream) {
    const auto kernel = tc_kernel<T, NT>;
    constexpr int kSmem = Smem<NT>::kBytes;
    cudaError_t e = cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, kSmem);
    if (e != cudaSuccess) return e;
    // 16-byte loads need every row start 16-byte aligned: base pointers, strides and the
    // column offsets (of heads, 32-channel slices and groups) all multiples of 8 elements.
    const void* ptrs[] = {p->x, p->B, p->C, p->out};
    bool vec = p->head_dim % 8 == 0 && p->d_state % 8 == 0;
    for (const void* q : ptrs) vec = vec && reinterpret_cast<uintptr_t>(q) % 16 == 0;
    for (int64_t st : {p->x_stride, p->b_stride, p->c_stride, p->out_stride}) vec = vec && st % 8 == 0;
    const int64_t ctas = static_cast<int64_t>(p->heads) * fk::ceil_div(p->head_dim, kPT);
    kernel<<<dim3(static_cast<unsigned>(ctas), p->batch), kThreads, kSmem, stream>>>(*p, vec);
    return cudaGetLastError();
}

template <typename T>
cudaError_t launch_seq(const fk_ssd_chunk_scan_params* p, cudaStream_t stream) {
    const dim3 grid(static_cast<unsigned>(fk::ceil_div(p->head_dim, kWarps)), p->heads, p->batch);
    if (p->d_state <= 32)
        seq_kernel<T, 1><<<grid, kThreads, 0, stream>>>(*p);
    else if (p->d_state <= 64)
        seq_kernel<T, 2><<<grid, kThreads, 0, stream>>>(*p);
    else if (p->d_state <= 128)
        seq_kernel<T, 4><<<grid, kThreads, 0, stream>>>(*p);
    else
        seq_kernel<T, 8><<<grid, kThreads, 0, stream>>>(*p);
    return cudaGetLastError();
}

template <typename T>
cudaError_t launch(const fk_ssd_chunk_scan_params* p, cudaStream_t stream) {
    if constexpr (std::is_same_v<T, float>) {
        return launch_seq<T>(p, stream);
    } else {
        if (p->d_state > 128) return launch_seq<T>(p, stream);
        return p->d_state <= 64 ? launch_tc<T, 64>(p, stream) : launch_tc<T, 128>(p, stream);
    }
}

}  // namespace

FK_OP_LAUNCHER(ssd_chunk_scan)(const fk_ssd_chunk_scan_params* p, cudaStream_t stream) {
    FK_REQUIRE(p != nullptr && stream != nullptr);
    FK_REQUIRE(p->tokens >= 0 && p->batch > 0 && p->batch <= 65535 && p->heads > 0 && p->heads <= 65535);
    FK_REQUIRE(p->ngroups > 0 && p->heads % p->ngroups == 0);
    FK_REQUIRE(p->head_dim >= 1 && p->head_dim <= FK_SSD_CHUNK_SCAN_MAX_HEADDIM);
    FK_REQUIRE(p->d_state >= 1 && p->d_state <= FK_SSD_CHUNK_SCAN_MAX_DSTATE);
    const int64_t width = static_cast<int64_t>(p->heads) * p->head_dim, bc = static_cast<int64_t>(p->ngroups) * p->d_state;
    FK_REQUIRE(p->x_stride >= width && p->out_stride >= width && p->dt_stride >= p->heads);
    FK_REQUIRE(p->b_stride >= bc && p->c_stride >= bc);
    FK_REQUIRE(p->cu_seqlens != nullptr && p->A != nullptr);
    FK_REQUIRE(p->tokens == 0 || (p->out && p->x && p->dt && p->B && p->C));
    FK_REQUIRE(!(p->dt_min > p->dt_max));
    FK_DISPATCH_FLOAT(p->dtype, T, { return launch<T>(p, stream); });
    return cudaSuccess;
}
