// prefill_attention baseline (L1). Contract: include/fk/ops/prefill_attention.h.
// Variable-length (varlen) attention for prefill and chunked prefill, as FlashAttention's
// flash_attn_varlen_func (vLLM's FlashAttention backend): queries packed along tokens,
// keys/values contiguous (cu_seqlens_k) or in the NHD paged cache (block_table, seq_lens_k),
// GQA/MQA, causal bottom-right aligned, optional left window; f16/bf16 in, fp32 softmax.
// Two kernels:
//   - include/fk/attention/prefill_sm90.cuh: Hopper (sm_90a) warp-specialised wgmma kernel,
//     head_dim 64/128; chosen when this library is built for sm_90a (FK_SM90A=1 from build.rs;
//     a copy of this file built elsewhere without that define runs the portable kernel).
//   - include/fk/attention/prefill_sm80.cuh: portable FlashAttention-2-style mma.sync kernel
//     (sm_80+), every head_dim (64/128/256, and the encoders' 72/80 in zero-padded 128-wide
//     tiles); the fallback, and forced with variant = 1.
// The launcher checks every size and alignment, resets *status, and launches on `stream`
// only (no allocation, no host sync: capturable in a CUDA graph).
#include "fk/common.cuh"
#include "fk/ops/prefill_attention.h"
#include "fk/attention/prefill_sm80.cuh"
#include "fk/attention/prefill_sm90.cuh"

#ifndef FK_SM90A
#define FK_SM90A 0
#endif

namespace {

using fk::attn::Sm80Cfg;
using fk::attn::Sm90Cfg;

constexpr int64_t kMaxLen = int64_t(1) << 30;  // lengths and row counts stay < 2^30 (int32 index math)

template <typename T, int D, bool PAGED>
cudaError_t launch_sm80(const fk_prefill_attention_params* p, cudaStream_t stream) {
    using C = Sm80Cfg<D>;
    auto kernel = fk::attn::prefill_sm80_kernel<T, D, PAGED>;
    cudaError_t e = cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, C::SMEM);
    if (e != cudaSuccess) return e;
    const dim3 grid(static_cast<unsigned>(p->heads), static_cast<unsigned>(fk::ceil_div(p->max_seqlen_q, C::BM)),
                    static_cast<unsigned>(p->batch));
    if (grid.y > 65535) return cudaErrorInvalidValue;
    kernel<<<grid, C::THREADS, C::SMEM, stream>>>(*p);
    return cudaGetLastError();
}

#if FK_SM90A
template <typename T, int D, bool PAGED, bool OVERLAP, int STAGES, bool PINGPONG = false>
cudaError_t launch_sm90(const fk_prefill_attention_params* p, cudaStream_t stream) {
    using C = Sm90Cfg<D, STAGES>;
    auto kernel = fk::attn::prefill_sm90_kernel<T, D, PAGED, STAGES, OVERLAP, PINGPONG>;
    cudaError_t e = cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, C::SMEM);
    if (e != cudaSuccess) return e;
    const dim3 grid(static_cast<unsigned>(p->heads), static_cast<unsigned>(fk::ceil_div(p->max_seqlen_q, C::BM)),
                    static_cast<unsigned>(p->batch));
    if (grid.y > 65535) return cudaErrorInvalidValue;
    kernel<<<grid, C::THREADS, C::SMEM, stream>>>(*p);
    return cudaGetLastError();
}
#endif

template <typename T, bool PAGED>
cudaError_t launch_t(const fk_prefill_attention_params* p, cudaStream_t stream) {
#if FK_SM90A
    if (p->variant != 1 && (p->head_dim == 64 || p->head_dim == 128)) {
#ifdef FK_PREFILL_EXPERIMENTS
        // experiments/prefill/harness.cu compares the forms of the Hopper kernel:
        // 2 plain, 3 overlapped, 4 overlapped + ping-pong, 5 the same with the other stage count.
        if (p->variant >= 2) {
            const bool d64 = p->head_dim == 64;
            switch (p->variant) {
                case 2: return d64 ? launch_sm90<T, 64, PAGED, false, 4>(p, stream) : launch_sm90<T, 128, PAGED, false, 2>(p, stream);
                case 3: return d64 ? launch_sm90<T, 64, PAGED, true, 4>(p, stream) : launch_sm90<T, 128, PAGED, true, 2>(p, stream);
                case 4: return d64 ? launch_sm90<T, 64, PAGED, true, 4, true>(p, stream) : launch_sm90<T, 128, PAGED, true, 2, true>(p, stream);
                default: return d64 ? launch_sm90<T, 64, PAGED, true, 2, true>(p, stream) : launch_sm90<T, 128, PAGED, true, 3, true>(p, stream);
            }
        }
#endif
        // The measured winners (H100, experiments/prefill/NOTES.md): head_dim 128 overlapped +
        // ping-pong with 3 stages; head_dim 64 overlapped with 4 stages (ping-pong lost 2-4%).
        if (p->head_dim == 64) return launch_sm90<T, 64, PAGED, true, 4>(p, stream);
        return launch_sm90<T, 128, PAGED, true, 3, true>(p, stream);
    }
#endif
    switch (p->head_dim) {
        case 64: return launch_sm80<T, 64, PAGED>(p, stream);
        // SigLIP so400m (72) and ViT-H (80): 128-wide tiles, the padding zero-filled (the
        // swizzle needs whole groups of 8 chunks; FlashAttention-2 pads these to 96 instead).
        // Small BERTs (MiniLM, BERT-small: 32) the same way: 4x the MMA work of a 32-wide
        // tile, but correct with no new kernel instance.
        case 32: case 72: case 80:
        case 128: return launch_sm80<T, 128, PAGED>(p, stream);
        default: return launch_sm80<T, 256, PAGED>(p, stream);
    }
}

bool aligned16(const void* ptr) { return reinterpret_cast<uintptr_t>(ptr) % 16 == 0; }

}  // namespace

FK_OP_LAUNCHER(prefill_attention)(const fk_prefill_attention_params* p, cudaStream_t stream) {
    FK_REQUIRE(p != nullptr && stream != nullptr);
    FK_REQUIRE(p->dtype == FK_DTYPE_F16 || p->dtype == FK_DTYPE_BF16);
    FK_REQUIRE(p->head_dim == 32 || p->head_dim == 64 || p->head_dim == 72 || p->head_dim == 80 || p->head_dim == 128 || p->head_dim == 256);
    FK_REQUIRE(p->batch >= 0 && p->batch <= 65535);
    FK_REQUIRE(p->heads > 0 && p->kv_heads > 0 && p->heads % p->kv_heads == 0);
    FK_REQUIRE(p->total_q >= 0 && p->total_q < kMaxLen && p->max_seqlen_q >= 0 && p->max_seqlen_q < kMaxLen);
    FK_REQUIRE(p->causal == 0 || p->causal == 1);
    FK_REQUIRE(p->window_left >= -1 && p->window_left < kMaxLen);
    FK_REQUIRE(p->scale > 0.f && p->scale < 3.0e38f);
#ifdef FK_PREFILL_EXPERIMENTS
    FK_REQUIRE(p->variant >= 0 && p->variant <= 5);
#else
    FK_REQUIRE(p->variant == 0 || p->variant == 1);
#endif
    const int64_t qw = int64_t(p->heads) * p->head_dim, kw = int64_t(p->kv_heads) * p->head_dim;
    FK_REQUIRE(p->query_stride >= qw && p->key_stride >= kw && p->value_stride >= kw);
    const bool paged = p->block_size > 0;
    if (paged) {
        FK_REQUIRE(p->max_blocks_per_seq > 0 && p->num_blocks > 0 && p->block_table && p->seq_lens_k);
        FK_REQUIRE(int64_t(p->max_blocks_per_seq) * p->block_size < kMaxLen);
        FK_REQUIRE(p->key_stride == kw && p->value_stride == kw);  // the cache rows are dense
    } else {
        FK_REQUIRE(p->block_size == 0 && p->cu_seqlens_k && p->total_k >= 0 && p->total_k < kMaxLen);
    }
    cudaError_t e = fk::status_reset(p->status, stream);
    if (e != cudaSuccess) return e;
    if (p->batch == 0 || p->max_seqlen_q == 0) return cudaSuccess;
    FK_REQUIRE(p->out && p->query && p->key && p->value && p->cu_seqlens_q);
    // Every tile row is copied as 16-byte pieces: rows and their starts must be 16-byte aligned.
    for (const void* ptr : {static_cast<const void*>(p->out), p->query, p->key, p->value}) FK_REQUIRE(aligned16(ptr));
    FK_REQUIRE(p->query_stride % 8 == 0 && p->key_stride % 8 == 0 && p->value_stride % 8 == 0);
    if (p->dtype == FK_DTYPE_BF16) return paged ? launch_t<__nv_bfloat16, true>(p, stream) : launch_t<__nv_bfloat16, false>(p, stream);
    return paged ? launch_t<__half, true>(p, stream) : launch_t<__half, false>(p, stream);
}
