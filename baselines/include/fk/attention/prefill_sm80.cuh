// Portable prefill attention kernel (sm_80+, head_dim 32/64/72/80/128/256): the FlashAttention-2
// scheme. A CTA of 4 warps owns 64 query rows of one (sequence, head); each warp owns 16 rows
// and keeps their output accumulator and online-softmax statistics in registers. K/V tiles of
// 64 keys are double-buffered in shared memory with cp.async (the next tile loads while this
// one is used; 32 keys at head_dim 256); S = Q K^T and O += P V run on mma.sync m16n8k16 with operands from ldmatrix
// (V through ldmatrix.trans), and P goes from the S accumulators straight into A fragments.
// Tiles wholly outside a CTA's causal/window band are skipped; only band-edge tiles are masked.
// Shared tiles are rows of D 16-bit values with 16-byte chunks XOR-swizzled by row
// (conflict-free ldmatrix). Used where the Hopper kernel is not: head_dim 256, non-sm_90a
// builds, and by tests that force it.
// D is the tile width; the head's width in memory is p.head_dim <= D (encoders' 32, 72 and 80 run
// in 128-wide tiles: the swizzle works in groups of 8 chunks, so D stays a multiple of 64).
// Chunks past head_dim are zero-filled, so they add nothing to Q K^T, and the output columns
// they produce are not stored. For head_dim == D this is exactly the unpadded kernel.
#pragma once
#include "fk/attention/prefill_seq.cuh"
#include "fk/attention/sm80_mma.cuh"

#include <math_constants.h>

namespace fk {
namespace attn {
namespace {

template <int D> struct Sm80Cfg {
    // head_dim 256 keeps 128 fp32 accumulators per thread: 32-key tiles keep S small enough
    // not to spill.
    static constexpr int WARPS = 4, THREADS = 32 * WARPS, BM = 16 * WARPS, BN = D == 256 ? 32 : 64;
    static constexpr int CHUNKS = D / 8;  // 16-byte chunks per row
    static constexpr int Q_BYTES = BM * D * 2, KV_BYTES = BN * D * 2;
    static constexpr int SMEM = Q_BYTES + 4 * KV_BYTES;  // Q, K[2], V[2]
    static constexpr bool Q_IN_REGS = D <= 128;
};

// Byte offset of (row, chunk) in a tile of rows of CHUNKS 16-byte chunks, swizzled within 8s.
template <int CHUNKS> __device__ __forceinline__ uint32_t sm80_swz(int row, int chunk) {
    return uint32_t((row * CHUNKS + ((chunk & ~7) | ((chunk ^ row) & 7))) * 16);
}

template <typename T, int D, bool PAGED>
__global__ void __launch_bounds__(Sm80Cfg<D>::THREADS) prefill_sm80_kernel(const fk_prefill_attention_params p) {
    using C = Sm80Cfg<D>;
    using M = MmaType<T>;
    constexpr int BM = C::BM, BN = C::BN, CH = C::CHUNKS;
    extern __shared__ __align__(128) uint8_t smem[];
    const int tid = threadIdx.x, warp = tid / 32, lane = tid % 32;
    const int h = blockIdx.x, b = blockIdx.z;
    const int mb = gridDim.y - 1 - blockIdx.y;  // longest (causal) blocks first
    const PrefillSeq s = prefill_seq(p, b, h == 0 && blockIdx.y == 0 && tid == 0);
    const int m0 = mb * BM;
    if (m0 >= s.len_q) return;
    const int m1 = min(m0 + BM, s.len_q);
    const int kvh = h / (p.heads / p.kv_heads);
    // The head's width in memory. Only the 128-wide tiles carry narrower heads (72, 80); for
    // the others it is the constant D, so their code (and register budget) is unchanged.
    const int hd = D == 128 ? p.head_dim : D;
    const bool causal = p.causal != 0;
    const KeyTiles<BN> tiles(s, m0, m1, causal, p.window_left);

    const uint32_t sq = smem_addr(smem);
    const uint32_t sk = sq + C::Q_BYTES, sv = sk + 2 * C::KV_BYTES;
    const T* query = static_cast<const T*>(p.query);
    const T* key = static_cast<const T*>(p.key);
    const T* value = static_cast<const T*>(p.value);

    // Q tile (rows past len_q read as zeros).
    for (int i = tid; i < BM * CH; i += C::THREADS) {
        const int r = i / CH, c = i % CH;
        const bool ok = m0 + r < s.len_q;
        const bool in_head = c * 8 < hd;
        const T* src = ok && in_head ? query + (s.q0 + m0 + r) * p.query_stride + int64_t(h) * hd + c * 8 : query;
        cp_async16(sq + sm80_swz<CH>(r, c), src, ok && in_head);
    }
    auto load_kv = [&](int t, int buf) {
#pragma unroll 1
        for (int i = tid; i < BN * CH; i += C::THREADS) {
            const int r = i / CH, c = i % CH, j = t * BN + r;
            bool ok = j < s.len_k;
            int64_t row = 0;
            if (ok) {
                row = key_row<PAGED>(p, s, b, j, ok);
                if (!ok && c == 0) status_report(p.status, b);
            }
            const int64_t col = int64_t(kvh) * hd + c * 8;
            const bool load = ok && c * 8 < hd;  // padding chunks read as zeros
            cp_async16(sk + buf * C::KV_BYTES + sm80_swz<CH>(r, c), load ? key + row * p.key_stride + col : key, load);
            cp_async16(sv + buf * C::KV_BYTES + sm80_swz<CH>(r, c), load ? value + row * p.value_stride + col : value, load);
        }
    };
    if (tiles.t_lo < tiles.t_hi) load_kv(tiles.t_lo, 0);
    cp_async_commit();

    const int g = lane / 4, c4 = lane % 4;
    const int row0 = m0 + warp * 16 + g;  // this thread's rows: row0 and row0 + 8 (in the sequence)
    int lo[2], hi[2];
#pragma unroll
    for (int r = 0; r < 2; ++r) {
        lo[r] = key_lo(s, row0 + 8 * r, p.window_left);
        hi[r] = key_hi(s, row0 + 8 * r, causal);
    }
    const float sl2 = p.scale * 1.4426950408889634f;  // scores in log2 units
    float o[D / 8][4];
#pragma unroll
    for (int i = 0; i < D / 8; ++i) o[i][0] = o[i][1] = o[i][2] = o[i][3] = 0.f;
    float mrow[2] = {-CUDART_INF_F, -CUDART_INF_F}, lrow[2] = {0.f, 0.f};
    uint32_t qf[C::Q_IN_REGS ? D / 16 : 1][4];

    for (int t = tiles.t_lo; t < tiles.t_hi; ++t) {
        const int buf = (t - tiles.t_lo) & 1;
        cp_async_wait<0>();
        __syncthreads();  // tile t landed for all threads; everyone is done with buffer buf ^ 1
        if (t + 1 < tiles.t_hi) load_kv(t + 1, buf ^ 1);
        cp_async_commit();
        if constexpr (C::Q_IN_REGS) {
            if (t == tiles.t_lo) {
#pragma unroll
                for (int kk = 0; kk < D / 16; ++kk)
                    ldmatrix_x4(qf[kk], sq + sm80_swz<CH>(warp * 16 + lane % 16, 2 * kk + lane / 16));
            }
        }
        const uint32_t kt = sk + buf * C::KV_BYTES, vt = sv + buf * C::KV_BYTES;

        float sacc[BN / 8][4];
#pragma unroll
        for (int i = 0; i < BN / 8; ++i) sacc[i][0] = sacc[i][1] = sacc[i][2] = sacc[i][3] = 0.f;
#pragma unroll
        for (int kk = 0; kk < D / 16; ++kk) {
            uint32_t a[4];
            if constexpr (C::Q_IN_REGS) {
#pragma unroll
                for (int i = 0; i < 4; ++i) a[i] = qf[kk][i];
            } else {
                ldmatrix_x4(a, sq + sm80_swz<CH>(warp * 16 + lane % 16, 2 * kk + lane / 16));
            }
#pragma unroll
            for (int n2 = 0; n2 < BN / 16; ++n2) {
                uint32_t bf[4];
                ldmatrix_x4(bf, kt + sm80_swz<CH>(16 * n2 + lane % 8 + 8 * (lane / 16), 2 * kk + (lane / 8) % 2));
                M::mma(sacc[2 * n2], a, bf[0], bf[1]);
                M::mma(sacc[2 * n2 + 1], a, bf[2], bf[3]);
            }
        }
        if (tiles.needs_mask(t)) {
#pragma unroll
            for (int nb = 0; nb < BN / 8; ++nb)
#pragma unroll
                for (int e = 0; e < 4; ++e) {
                    const int j = t * BN + nb * 8 + 2 * c4 + (e & 1), r = e >> 1;
                    if (j < lo[r] || j >= hi[r]) sacc[nb][e] = -CUDART_INF_F;
                }
        }
        // Online softmax over this tile, rows r = 0 (g) and 1 (g + 8).
#pragma unroll
        for (int r = 0; r < 2; ++r) {
            float mx = -CUDART_INF_F;
#pragma unroll
            for (int nb = 0; nb < BN / 8; ++nb) mx = fmaxf(mx, fmaxf(sacc[nb][2 * r], sacc[nb][2 * r + 1]));
            mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 1));
            mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 2));
            const float m_new = fmaxf(mrow[r], mx * sl2);
            const float m_use = m_new == -CUDART_INF_F ? 0.f : m_new;
            const float corr = exp2_approx(mrow[r] - m_use);
            mrow[r] = m_new;
            float sum = 0.f;
#pragma unroll
            for (int nb = 0; nb < BN / 8; ++nb)
#pragma unroll
                for (int e = 2 * r; e < 2 * r + 2; ++e) {
                    sacc[nb][e] = exp2_approx(fmaf(sacc[nb][e], sl2, -m_use));
                    sum += sacc[nb][e];
                }
            lrow[r] = lrow[r] * corr + sum;
#pragma unroll
            for (int i = 0; i < D / 8; ++i) {
                o[i][2 * r] *= corr;
                o[i][2 * r + 1] *= corr;
            }
        }
        // O += P V, P from the S accumulators as A fragments (16 keys per step).
#pragma unroll
        for (int k2 = 0; k2 < BN / 16; ++k2) {
            const uint32_t a[4] = {M::pack(sacc[2 * k2][0], sacc[2 * k2][1]), M::pack(sacc[2 * k2][2], sacc[2 * k2][3]),
                                   M::pack(sacc[2 * k2 + 1][0], sacc[2 * k2 + 1][1]),
                                   M::pack(sacc[2 * k2 + 1][2], sacc[2 * k2 + 1][3])};
#pragma unroll
            for (int d2 = 0; d2 < D / 16; ++d2) {
                uint32_t bf[4];
                ldmatrix_x4_trans(bf, vt + sm80_swz<CH>(16 * k2 + lane % 8 + 8 * ((lane / 8) % 2), 2 * d2 + lane / 16));
                M::mma(o[2 * d2], a, bf[0], bf[1]);
                M::mma(o[2 * d2 + 1], a, bf[2], bf[3]);
            }
        }
    }
    cp_async_wait<0>();

    T* out = static_cast<T*>(p.out);
    const int64_t out_stride = int64_t(p.heads) * hd;
#pragma unroll
    for (int r = 0; r < 2; ++r) {
        float l = lrow[r];
        l += __shfl_xor_sync(0xffffffffu, l, 1);
        l += __shfl_xor_sync(0xffffffffu, l, 2);
        const float inv = l > 0.f ? 1.f / l : 0.f;
        const int row = row0 + 8 * r;
        if (row < s.len_q) {
            T* dst = out + (s.q0 + row) * out_stride + int64_t(h) * hd + 2 * c4;
#pragma unroll
            for (int i = 0; i < D / 8; ++i)
                if (8 * i < hd)  // head_dim is a multiple of 8: whole 8-column groups
                    *reinterpret_cast<uint32_t*>(dst + 8 * i) = M::pack(o[i][2 * r] * inv, o[i][2 * r + 1] * inv);
        }
    }
}

}  // namespace
}  // namespace attn
}  // namespace fk
