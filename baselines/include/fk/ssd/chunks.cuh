// ssd_chunk_scan's chunk numbering, shared by its kernels: each sequence's chunks of
// FK_SSD_CHUNK_SCAN_CHUNK tokens start at its first token, and chunk k of sequence s is
// workspace slot floor(cu_seqlens[s] / CHUNK) + s + k (strictly increasing in s, so a slot
// names at most one chunk; some slots name none).
#pragma once
#include "fk/ops/ssd_chunk_scan.h"
#include "fk/ssm.cuh"

#include <stdint.h>

namespace fk {
namespace ssd {

constexpr int kChunk = FK_SSD_CHUNK_SCAN_CHUNK;

struct SlotChunk {
    int seq;     // the sequence
    int64_t t0;  // its first token
    int rows;    // tokens in it (1 .. kChunk); 0 when the slot names no chunk
};

// The effective step of a token: dt + bias, softplus, clamp.
__device__ __forceinline__ float step_of(float raw, float bias, const fk_ssd_chunk_scan_params& p) {
    float v = raw + bias;
    if (p.dt_softplus) v = fk::softplus(v);
    return fminf(fmaxf(v, p.dt_min), p.dt_max);
}

// Tokens of the chunk starting at t0 of a sequence ending at `end` (at most kChunk; t0 < end).
__device__ __forceinline__ int rows_left(int64_t t0, int64_t end) { return static_cast<int>(end - t0 < kChunk ? end - t0 : kChunk); }

// The chunk of slot q: the sequence is the last one whose first slot is <= q.
__device__ __forceinline__ SlotChunk chunk_of_slot(const fk_ssd_chunk_scan_params& p, int64_t q) {
    int lo = 0, hi = p.batch - 1;
    while (lo < hi) {
        const int mid = (lo + hi + 1) / 2;
        if (p.cu_seqlens[mid] / kChunk + mid <= q) lo = mid; else hi = mid - 1;
    }
    const int64_t start = p.cu_seqlens[lo], end = p.cu_seqlens[lo + 1];
    const int64_t t0 = start + (q - (start / kChunk + lo)) * kChunk;
    return {lo, t0, t0 < end ? rows_left(t0, end) : 0};
}

}  // namespace ssd
}  // namespace fk
