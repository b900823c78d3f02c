/* Op contract: sample (L1): one token per row of logits, greedy or temperature / top-k /
 * top-p sampling, seeded and reproducible (vLLM's Sampler / HF generate's logits warpers +
 * multinomial, with a counter-based RNG instead of a stateful generator).
 *
 * Per row r (all parameters are device arrays, so a CUDA graph replays one launch with
 * new values). x_i = logits[r, i] as f32, with NaN read as -inf and +inf as FLT_MAX.
 *  - invalid row: temperature NaN, top_k < 0, top_p NaN or outside (0, 1]: out[r] = -1 and
 *    the row is reported in *status (if given).
 *  - greedy when temperature <= 0 or top_k == 1: out[r] = the smallest i with x_i = max x
 *    (torch.argmax / HF greedy).
 *  - otherwise z_i = fl32(x_i / T) (IEEE division; an overflow to +inf becomes FLT_MAX;
 *    -0 becomes +0), M = max z, e_i = exp(z_i - M) with z_i - M rounded to f32.
 *    If M = -inf (every logit -inf) out[r] = 0.
 *    top-k (0 < k < vocab): K = { i : z_i >= the k-th largest z } (ties at the k-th value
 *    kept); else K = all.
 *    top-p (p < 1), as vLLM / HF (mass relative to the top-k set): tau = the largest value v
 *    with sum_{i in K, z_i >= v} e_i >= p * sum_{i in K} e_i; F = { i in K : z_i >= tau }
 *    (ties at the boundary kept); else F = K.
 *    u = uniform01(seed, counter) (fk_sample_uniform below, identical on the host). The row's
 *    position in the batch is deliberately not an input: a request draws the same token
 *    wherever the scheduler puts it, so callers give rows distinct seeds;
 *    out[r] = the smallest i in F with sum_{j in F, j <= i} e_j > u * sum_{j in F} e_j.
 *  The kernel sums e as 2^-44 fixed point (exact, order-independent: the same inputs give
 *  the same token on every run and GPU); the CPU reference works in f64, so the two can
 *  differ only when u * Z lands within 2.4e-7 relative (expf's 2 ulp) of a cumulative
 *  boundary, or the top-p target within that of a cut.
 * Launcher: FK_OP_LAUNCHER(sample)(const fk_sample_params* p, cudaStream_t stream)
 * dtypes: logits f32, f16, bf16 (rows may be strided); temperature f32, top_k i32, top_p f32,
 * rng i64 [batch, 2] = (seed, counter); out i32. vocab <= 262144, batch <= 65535.
 * Needs sm_90 (thread-block clusters: 8 CTAs share a row through distributed shared memory). */
#pragma once
#include "fk/dtype.h"

typedef struct fk_sample_params {
    int32_t* out;                 /* [batch] */
    const void* logits;           /* [batch, vocab], row stride logits_stride (elements) */
    const float* temperature;     /* [batch] */
    const int32_t* top_k;         /* [batch] */
    const float* top_p;           /* [batch] */
    const int64_t* rng;           /* [batch, 2]: seed, counter */
    fk_status* status;            /* may be NULL: rows with invalid parameters */
    int64_t batch;
    int64_t vocab;
    int64_t logits_stride;
    int32_t dtype;                /* of logits */
    int32_t pad_;
} fk_sample_params;

/* The counter-based RNG: SplitMix64's finaliser chained over (seed, counter, row); the top 53
 * bits of the result give u in [0, 1). The Rust reference implements the same function. */
#ifdef __CUDACC__
#define FK_SAMPLE_HD __host__ __device__
#else
#define FK_SAMPLE_HD
#endif
static inline FK_SAMPLE_HD uint64_t fk_sample_mix64(uint64_t z) {
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}
static inline FK_SAMPLE_HD double fk_sample_uniform(int64_t seed, int64_t counter) {
    uint64_t h = fk_sample_mix64((uint64_t)seed ^ 0x243f6a8885a308d3ull);
    h = fk_sample_mix64(h ^ ((uint64_t)counter * 0x9e3779b97f4a7c15ull));
    h = fk_sample_mix64(h + 0x13198a2e03707344ull);
    return (double)(h >> 11) * (1.0 / 9007199254740992.0);
}
