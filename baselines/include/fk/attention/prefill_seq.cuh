// Per-sequence geometry of prefill attention, shared by its kernels: lengths read from the
// device tensors and clamped so that bad data can never address memory out of bounds (and is
// reported), the key row of key j (contiguous or through the block table), and the masks
// (causal bottom-right aligned, left window) as per-row key intervals [lo_i, hi_i).
#pragma once
#include "fk/common.cuh"
#include "fk/ops/prefill_attention.h"

namespace fk {
namespace attn {

struct PrefillSeq {
    int64_t q0;   // first query (and output) row of the sequence
    int64_t k0;   // contiguous source: first key row
    int len_q;
    int len_k;
    int shift;    // len_k - len_q: the causal diagonal of query i is key i + shift
};

// Sequence b's geometry. Bad data (cu_seqlens outside [0, total] or decreasing, seq_lens_k
// past the block table, len_q above max_seqlen_q) is clamped and, if `report`, recorded.
__device__ __forceinline__ PrefillSeq prefill_seq(const fk_prefill_attention_params& p, int b, bool report) {
    bool bad = false;
    auto clamp = [&bad](int64_t v, int64_t lo, int64_t hi) {
        if (v < lo || v > hi) {
            bad = true;
            return v < lo ? lo : hi;
        }
        return v;
    };
    PrefillSeq s;
    const int64_t q0 = clamp(p.cu_seqlens_q[b], 0, p.total_q);
    const int64_t q1 = clamp(p.cu_seqlens_q[b + 1], q0, p.total_q);
    s.q0 = q0;
    s.len_q = static_cast<int>(q1 - q0);
    if (s.len_q > p.max_seqlen_q) bad = true;  // rows past the grid are not computed
    if (p.block_size == 0) {
        const int64_t k0 = clamp(p.cu_seqlens_k[b], 0, p.total_k);
        const int64_t k1 = clamp(p.cu_seqlens_k[b + 1], k0, p.total_k);
        s.k0 = k0;
        s.len_k = static_cast<int>(k1 - k0);
    } else {
        s.k0 = 0;
        s.len_k = static_cast<int>(clamp(p.seq_lens_k[b], 0, int64_t(p.max_blocks_per_seq) * p.block_size));
    }
    s.shift = s.len_k - s.len_q;
    if (bad && report) status_report(p.status, b);
    return s;
}

// Keys visible to query row i: [lo, hi). Lengths are < 2^30 (checked by the launcher).
__device__ __forceinline__ int key_hi(const PrefillSeq& s, int i, bool causal) {
    return causal ? min(s.len_k, max(i + s.shift + 1, 0)) : s.len_k;
}
__device__ __forceinline__ int key_lo(const PrefillSeq& s, int i, int window) {
    return window >= 0 ? static_cast<int>(max(int64_t(i) + s.shift - window, int64_t(0))) : 0;
}

// Key tiles of width BN that query rows [m0, m1) need: [*t_lo, *t_hi), and whether tile t
// needs per-element masking (some key of it is invisible to some row of [m0, m1)).
template <int BN> struct KeyTiles {
    int t_lo, t_hi;
    int full_lo, full_hi;  // keys in [full_lo, full_hi) are visible to every row

    __device__ __forceinline__ KeyTiles(const PrefillSeq& s, int m0, int m1, bool causal, int window) {
        const int lo = key_lo(s, m0, window), hi = key_hi(s, m1 - 1, causal);
        full_lo = key_lo(s, m1 - 1, window);
        full_hi = key_hi(s, m0, causal);
        if (hi > lo) {
            t_lo = lo / BN;
            t_hi = (hi + BN - 1) / BN;
        } else {
            t_lo = t_hi = 0;
        }
    }
    __device__ __forceinline__ bool needs_mask(int t) const {
        return t * BN < full_lo || (t + 1) * BN > full_hi;
    }
};

// Row (in units of the key/value row stride) holding key j of sequence b; `ok` false for a
// block id outside the cache (the caller zero-fills and reports). j < len_k is the caller's.
template <bool PAGED>
__device__ __forceinline__ int64_t key_row(const fk_prefill_attention_params& p, const PrefillSeq& s, int b, int j, bool& ok) {
    if constexpr (!PAGED) {
        ok = true;
        return s.k0 + j;
    } else {
        const int32_t blk = p.block_table[int64_t(b) * p.max_blocks_per_seq + j / p.block_size];
        ok = blk >= 0 && blk < p.num_blocks;
        return ok ? int64_t(blk) * p.block_size + j % p.block_size : 0;
    }
}

}  // namespace attn
}  // namespace fk
