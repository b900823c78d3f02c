// Hopper prefill attention kernel (sm_90a; head_dim 64 or 128), FlashAttention-3-style
// warp specialisation. A CTA of 3 warpgroups owns 128 query rows of one (sequence, head):
//   warpgroup 0 (producer, few registers): cp.async of the Q tile and of a ring of STAGES
//     K and V tiles (128 keys each) into 128-byte-swizzled shared tiles, row by row, so any
//     row stride and the paged cache (a block-table lookup per row) load the same way; each
//     thread's copies complete a "full" mbarrier asynchronously (cp.async.mbarrier.arrive),
//     so the producer never waits for its own loads, only for consumers to free a stage.
//   warpgroups 1, 2 (consumers, 64 query rows each, most registers): S = Q K^T with wgmma
//     (A and B from shared memory), masking and online softmax in registers (fp32, exp2),
//     then O += P V with wgmma taking P from registers (the S accumulator layout is the A
//     register layout, so P never touches shared memory) and V from shared memory as an
//     MN-major operand (no transpose pass). With OVERLAP the S GEMM of tile j+1 is issued
//     together with the P V GEMM of tile j, and the softmax of tile j+1 runs while P V is on
//     the tensor cores (FlashAttention-3's intra-warpgroup pipelining). With PINGPONG the two
//     consumers also take turns issuing their GEMMs (two named barriers), so one's softmax
//     runs while the other's GEMMs occupy the tensor cores (FlashAttention-3's ping-pong).
// Why: on H100 mma.sync tops out near 2/3 of the tensor-core rate; wgmma from swizzled
// shared memory with two consumer warpgroups per CTA is what reaches it. cp.async instead of
// TMA keeps strided views and paged caches on one code path (TMA would need a tensor map per
// source and block-sized boxes for the cache).
#pragma once
#include "fk/attention/prefill_seq.cuh"
#include "fk/attention/sm80_mma.cuh"
#include "fk/attention/sm90_sync.cuh"
#include "fk/attention/sm90_wgmma_ops.cuh"

#include <math_constants.h>

namespace fk {
namespace attn {
namespace {

template <int D, int STAGES_> struct Sm90Cfg {
    static constexpr int BM = 128, BN = 128, THREADS = 384, STAGES = STAGES_;
    static constexpr int Q_BYTES = BM * D * 2, KV_BYTES = BN * D * 2;
    static constexpr int SMEM = 1024 + Q_BYTES + 2 * STAGES * KV_BYTES;  // + alignment slack
    // 128 * 56 + 256 * 224 = 384 * 168: the register file the launch bound gives the CTA.
    static constexpr int PRODUCER_REGS = 56, CONSUMER_REGS = 224;
};

template <typename T, int D>
__device__ __forceinline__ void pv_gemm(float (&o)[D / 2], const uint32_t (&a)[4], uint64_t desc) {
    if constexpr (D == 128) WgmmaOps<T>::rs128(o, a, desc, 1);
    else WgmmaOps<T>::rs64(o, a, desc, 1);
}

template <typename T, int D, bool PAGED, int STAGES, bool OVERLAP, bool PINGPONG = false>
__global__ void __launch_bounds__(384, 1) prefill_sm90_kernel(const __grid_constant__ fk_prefill_attention_params p) {
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
    using C = Sm90Cfg<D, STAGES>;
    using M = MmaType<T>;
    constexpr int BM = C::BM, BN = C::BN, CH = D / 8, RSTEP = 128 / CH;
    extern __shared__ uint8_t smem_raw[];
    __shared__ __align__(8) uint64_t bars[1 + 4 * STAGES];
    const int tid = threadIdx.x;
    const int h = blockIdx.x, b = blockIdx.z;
    const int mb = gridDim.y - 1 - blockIdx.y;  // longest (causal) blocks first
    const PrefillSeq s = prefill_seq(p, b, h == 0 && blockIdx.y == 0 && tid == 0);
    const int m0 = mb * BM;
    if (m0 >= s.len_q) return;
    const int m1 = min(m0 + BM, s.len_q);
    const int kvh = h / (p.heads / p.kv_heads);
    const bool causal = p.causal != 0;
    const KeyTiles<BN> tiles(s, m0, m1, causal, p.window_left);

    const uint32_t sq = (smem_addr(smem_raw) + 1023u) & ~1023u;
    const uint32_t sk = sq + C::Q_BYTES, sv = sk + STAGES * C::KV_BYTES;
    const uint32_t q_full = smem_addr(&bars[0]);
    auto k_full = [&](int st) { return smem_addr(&bars[1 + st]); };
    auto v_full = [&](int st) { return smem_addr(&bars[1 + STAGES + st]); };
    auto k_empty = [&](int st) { return smem_addr(&bars[1 + 2 * STAGES + st]); };
    auto v_empty = [&](int st) { return smem_addr(&bars[1 + 3 * STAGES + st]); };
    if (tid == 0) {
        mbar_init(q_full, 128);
        for (int st = 0; st < STAGES; ++st) {
            mbar_init(k_full(st), 128);
            mbar_init(v_full(st), 128);
            mbar_init(k_empty(st), 8);  // one arrival per consumer warp
            mbar_init(v_empty(st), 8);
        }
        mbar_init_fence();
    }
    __syncthreads();

    const int wg = tid / 128, t = tid % 128;
    if (wg == 0) {
        // ---------------- producer ----------------
        setmaxnreg_dec<C::PRODUCER_REGS>();
        const T* query = static_cast<const T*>(p.query);
        const T* key = static_cast<const T*>(p.key);
        const T* value = static_cast<const T*>(p.value);
        const int c = t % CH, r0 = t / CH;  // this thread's 16-byte column and first row
        const int64_t qcol = int64_t(h) * D + c * 8, kcol = int64_t(kvh) * D + c * 8;
#pragma unroll 4
        for (int i = 0; i < BM / RSTEP; ++i) {
            const int r = r0 + i * RSTEP;
            const bool ok = m0 + r < s.len_q;
            cp_async16(sq + sw128_offset<BM>(r, c), ok ? query + (s.q0 + m0 + r) * p.query_stride + qcol : query, ok);
        }
        cp_async_arrive_noinc(q_full);
        int it = 0;
        for (int tt = tiles.t_lo; tt < tiles.t_hi; ++tt, ++it) {
            const int st = it % STAGES;
            const uint32_t free_parity = ((it / STAGES) & 1) ^ 1;
            mbar_wait(k_empty(st), free_parity);
#pragma unroll 4
            for (int i = 0; i < BN / RSTEP; ++i) {
                const int r = r0 + i * RSTEP, j = tt * BN + r;
                bool ok = j < s.len_k;
                int64_t row = 0;
                if (ok) {
                    row = key_row<PAGED>(p, s, b, j, ok);
                    if (!ok && c == 0) status_report(p.status, b);
                }
                cp_async16(sk + st * C::KV_BYTES + sw128_offset<BN>(r, c), ok ? key + row * p.key_stride + kcol : key, ok);
            }
            cp_async_arrive_noinc(k_full(st));
            mbar_wait(v_empty(st), free_parity);
#pragma unroll 4
            for (int i = 0; i < BN / RSTEP; ++i) {
                const int r = r0 + i * RSTEP, j = tt * BN + r;
                bool ok = j < s.len_k;
                const int64_t row = ok ? key_row<PAGED>(p, s, b, j, ok) : 0;
                cp_async16(sv + st * C::KV_BYTES + sw128_offset<BN>(r, c), ok ? value + row * p.value_stride + kcol : value, ok);
            }
            cp_async_arrive_noinc(v_full(st));
        }
        cp_async_wait_all();
    } else {
        // ---------------- consumers ----------------
        setmaxnreg_inc<C::CONSUMER_REGS>();
        const int w = wg - 1, warp = t / 32, lane = t % 32, g = lane / 4, c4 = lane % 4;
        const int row0 = m0 + w * 64 + warp * 16 + g;  // rows row0, row0 + 8 of the sequence
        int lo[2], hi[2];
#pragma unroll
        for (int r = 0; r < 2; ++r) {
            lo[r] = key_lo(s, row0 + 8 * r, p.window_left);
            hi[r] = key_hi(s, row0 + 8 * r, causal);
        }
        const float sl2 = p.scale * 1.4426950408889634f;
        float o[D / 2], sacc[BN / 2];
        uint32_t pf[BN / 16][4];
#pragma unroll
        for (int i = 0; i < D / 2; ++i) o[i] = 0.f;
#pragma unroll
        for (int i = 0; i < BN / 2; ++i) sacc[i] = 0.f;
        float mrow[2] = {-CUDART_INF_F, -CUDART_INF_F}, lrow[2] = {0.f, 0.f}, corr[2];

        const uint64_t qdesc = sw128_desc(sq + w * 64 * 128, 16, 1024);
        auto s_gemm = [&](int st) {
            const uint64_t kdesc = sw128_desc(sk + st * C::KV_BYTES, 16, 1024);
#pragma unroll
            for (int kk = 0; kk < D / 16; ++kk) {
                const uint32_t qoff = (kk / 4) * (BM * 128) + (kk % 4) * 32;
                const uint32_t koff = (kk / 4) * (BN * 128) + (kk % 4) * 32;
                WgmmaOps<T>::ss128(sacc, qdesc + (qoff >> 4), kdesc + (koff >> 4), kk > 0);
            }
        };
        auto pv_issue = [&](int st) {
            const uint64_t vdesc = sw128_desc(sv + st * C::KV_BYTES, BN * 128, 1024);
#pragma unroll
            for (int kk = 0; kk < BN / 16; ++kk) pv_gemm<T, D>(o, pf[kk], vdesc + ((kk * 2048) >> 4));
        };
        // Mask, then exponentiate S in place and update the row statistics; corr[r] is the
        // factor the output rows must be rescaled by (applied by the caller).
        auto softmax = [&](int tt) {
            if (tiles.needs_mask(tt)) {
#pragma unroll
                for (int nb = 0; nb < BN / 8; ++nb)
#pragma unroll
                    for (int e = 0; e < 4; ++e) {
                        const int j = tt * BN + nb * 8 + 2 * c4 + (e & 1), r = e >> 1;
                        if (j < lo[r] || j >= hi[r]) sacc[4 * nb + e] = -CUDART_INF_F;
                    }
            }
#pragma unroll
            for (int r = 0; r < 2; ++r) {
                float mx = -CUDART_INF_F;
#pragma unroll
                for (int nb = 0; nb < BN / 8; ++nb) mx = fmaxf(mx, fmaxf(sacc[4 * nb + 2 * r], sacc[4 * nb + 2 * r + 1]));
                mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 1));
                mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 2));
                const float m_new = fmaxf(mrow[r], mx * sl2);
                const float m_use = m_new == -CUDART_INF_F ? 0.f : m_new;
                corr[r] = exp2_approx(mrow[r] - m_use);
                mrow[r] = m_new;
                float sum = 0.f;
#pragma unroll
                for (int nb = 0; nb < BN / 8; ++nb)
#pragma unroll
                    for (int e = 2 * r; e < 2 * r + 2; ++e) {
                        sacc[4 * nb + e] = exp2_approx(fmaf(sacc[4 * nb + e], sl2, -m_use));
                        sum += sacc[4 * nb + e];
                    }
                lrow[r] = lrow[r] * corr[r] + sum;
            }
        };
        auto rescale_and_pack = [&]() {
#pragma unroll
            for (int i = 0; i < D / 8; ++i) {
                o[4 * i + 0] *= corr[0];
                o[4 * i + 1] *= corr[0];
                o[4 * i + 2] *= corr[1];
                o[4 * i + 3] *= corr[1];
            }
#pragma unroll
            for (int kk = 0; kk < BN / 16; ++kk) {
                pf[kk][0] = M::pack(sacc[8 * kk + 0], sacc[8 * kk + 1]);
                pf[kk][1] = M::pack(sacc[8 * kk + 2], sacc[8 * kk + 3]);
                pf[kk][2] = M::pack(sacc[8 * kk + 4], sacc[8 * kk + 5]);
                pf[kk][3] = M::pack(sacc[8 * kk + 6], sacc[8 * kk + 7]);
            }
        };

        const int n = tiles.t_hi - tiles.t_lo;
        if (n > 0) {
            mbar_wait(q_full, 0);
            fence_proxy_async();
        }
        // Ping-pong turns: consumer w issues its GEMMs after barrier 1 + w completes, then lets
        // the other go through barrier 2 - w. Consumer 1 opens with one pass (consumer 0 goes
        // first) and skips its last, so every phase gets exactly 256 arrivals.
        auto turn_wait = [&]() {
            if constexpr (PINGPONG) named_bar_sync(1 + w, 256);
        };
        auto turn_pass = [&]() {
            if constexpr (PINGPONG) named_bar_arrive(2 - w, 256);
        };
        if (PINGPONG && w == 1 && n > 0) named_bar_arrive(1, 256);
        if constexpr (!OVERLAP) {
            for (int it = 0; it < n; ++it) {
                const int st = it % STAGES, tt = tiles.t_lo + it;
                const uint32_t par = (it / STAGES) & 1;
                mbar_wait(k_full(st), par);
                fence_proxy_async();
                reg_fence(sacc);
                wgmma_fence();
                s_gemm(st);
                wgmma_commit();
                wgmma_wait<0>();
                reg_fence(sacc);
                if (lane == 0) mbar_arrive(k_empty(st));
                softmax(tt);
                rescale_and_pack();
                mbar_wait(v_full(st), par);
                fence_proxy_async();
                reg_fence(o);
                reg_fence(pf);
                wgmma_fence();
                pv_issue(st);
                wgmma_commit();
                wgmma_wait<0>();
                reg_fence(o);
                reg_fence(pf);
                if (lane == 0) mbar_arrive(v_empty(st));
            }
        } else if (n > 0) {
            // Tile 0: S, softmax, P.
            mbar_wait(k_full(0), 0);
            fence_proxy_async();
            reg_fence(sacc);
            turn_wait();
            wgmma_fence();
            s_gemm(0);
            wgmma_commit();
            turn_pass();
            wgmma_wait<0>();
            reg_fence(sacc);
            if (lane == 0) mbar_arrive(k_empty(0));
            softmax(tiles.t_lo);
            rescale_and_pack();
            for (int it = 1; it < n; ++it) {
                const int st = it % STAGES, prev = (it - 1) % STAGES;
                // Both waits before the fence: no branch may separate wgmma.fence from the
                // wgmmas that use registers (else ptxas inserts its own fence, C7519).
                mbar_wait(k_full(st), (it / STAGES) & 1);
                mbar_wait(v_full(prev), ((it - 1) / STAGES) & 1);
                fence_proxy_async();
                reg_fence(sacc);
                reg_fence(o);
                reg_fence(pf);
                turn_wait();
                wgmma_fence();
                s_gemm(st);
                wgmma_commit();
                pv_issue(prev);
                wgmma_commit();
                turn_pass();
                wgmma_wait<1>();  // S of tile it is done; P V of tile it-1 may still run
                reg_fence(sacc);
                if (lane == 0) mbar_arrive(k_empty(st));
                softmax(tiles.t_lo + it);
                wgmma_wait<0>();
                reg_fence(o);
                reg_fence(pf);
                if (lane == 0) mbar_arrive(v_empty(prev));
                rescale_and_pack();
            }
            const int last = (n - 1) % STAGES;
            mbar_wait(v_full(last), ((n - 1) / STAGES) & 1);
            fence_proxy_async();
            reg_fence(o);
            reg_fence(pf);
            turn_wait();
            wgmma_fence();
            pv_issue(last);
            wgmma_commit();
            if (w == 0) turn_pass();
            wgmma_wait<0>();
            reg_fence(o);
            reg_fence(pf);
            if (lane == 0) mbar_arrive(v_empty(last));
        }

        T* out = static_cast<T*>(p.out);
        const int64_t out_stride = int64_t(p.heads) * D;
#pragma unroll
        for (int r = 0; r < 2; ++r) {
            float l = lrow[r];
            l += __shfl_xor_sync(0xffffffffu, l, 1);
            l += __shfl_xor_sync(0xffffffffu, l, 2);
            const float inv = l > 0.f ? 1.f / l : 0.f;
            const int row = row0 + 8 * r;
            if (row < s.len_q) {
                T* dst = out + (s.q0 + row) * out_stride + int64_t(h) * D + 2 * c4;
#pragma unroll
                for (int i = 0; i < D / 8; ++i)
                    *reinterpret_cast<uint32_t*>(dst + 8 * i) = M::pack(o[4 * i + 2 * r] * inv, o[4 * i + 2 * r + 1] * inv);
            }
        }
    }
#endif
}

}  // namespace
}  // namespace attn
}  // namespace fk
