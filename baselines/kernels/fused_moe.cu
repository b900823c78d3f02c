// fused_moe baseline (L1). Contract: include/fk/ops/fused_moe.h. sm_80+ (mma.sync).
// The grouped expert GEMM of a MoE block over the blocks moe_align_block_size laid out (vLLM's
// fused_moe_kernel): gate_up with silu(gate) * up fused into the epilogue, or down with the
// routing weight applied. The kernel and its tile configurations: include/fk/moe/fused_moe_sm80.cuh.
// The launcher picks the configuration whose M tile divides block_size (16 / 64 / 128 rows;
// built for sm_90a, blocks of 64 and 128 go to the wgmma kernel of include/fk/moe/fused_moe_sm90.cuh),
// sizes the grid from the host-known capacity of sorted_token_ids (blocks past the device-side
// num_tokens_post_padded exit at once), and launches on `stream` only: capturable in a graph.
#include "fk/common.cuh"
#include "fk/moe/fused_moe_sm80.cuh"
#include "fk/moe/fused_moe_sm90.cuh"
#include "fk/ops/fused_moe.h"

#ifndef FK_SM90A
#define FK_SM90A 0
#endif
#if FK_SM90A
#include "fk/tma_host.cuh"
#endif

namespace {

using fk::moe::LargeCfg;
using fk::moe::MediumCfg;
using fk::moe::SmallCfg;

template <typename T, class C, bool SILU> cudaError_t launch_cfg(const fk_fused_moe_params* p, cudaStream_t stream) {
    auto kernel = fk::moe::fused_moe_kernel<T, C, SILU>;
    cudaError_t e = cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, C::SMEM);
    if (e != cudaSuccess) return e;
    const int64_t cols = SILU ? C::BN / 2 : C::BN;
    const int64_t gx = fk::ceil_div(p->em_capacity, C::BM), gy = fk::ceil_div(p->n, cols);
    FK_REQUIRE(gx <= 0x7fffffff && gy <= 65535);
    return fk::launch_pdl(kernel, dim3(unsigned(gx), unsigned(gy)), dim3(C::THREADS), size_t(C::SMEM), stream, *p);
}

#if FK_SM90A
// The weight [E, n_w, K] as the kernel's TMA source: box 64 (K) x 64 rows, 128-byte swizzle
// (the SW128 tile layout the wgmma descriptors read), out-of-range rows/columns zero-filled.
bool encode_weight_map(CUtensorMap* map, const fk_fused_moe_params* p, bool silu) {
    const cuuint64_t k = cuuint64_t(p->k), n_w = cuuint64_t(silu ? 2 * p->n : p->n);
    const cuuint64_t dims[3] = {k, n_w, cuuint64_t(p->num_experts)}, strides[2] = {k * 2, n_w * k * 2};
    const cuuint32_t box[3] = {64, 64, 1};
    return fk::encode_sw128_map<3>(map, p->weight, p->dtype, dims, strides, box);
}

template <typename T, bool SILU, int WM> cudaError_t launch_sm90(const fk_fused_moe_params* p, const CUtensorMap& wmap, cudaStream_t stream) {
    using C = fk::moe::Sm90Cfg<WM>;
    auto kernel = fk::moe::fused_moe_sm90_kernel<T, SILU, WM>;
    cudaError_t e = cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, C::SMEM);
    if (e != cudaSuccess) return e;
    const int64_t cols = SILU ? C::BN / 2 : C::BN;
    const int64_t gx = fk::ceil_div(p->em_capacity, C::BM), gy = fk::ceil_div(p->n, cols);
    FK_REQUIRE(gx <= 0x7fffffff && gy <= 65535);
    return fk::launch_pdl(kernel, dim3(unsigned(gx), unsigned(gy)), dim3(C::THREADS), size_t(C::SMEM), stream, *p, wmap);
}
#endif

template <typename T, bool SILU> cudaError_t launch_t(const fk_fused_moe_params* p, cudaStream_t stream) {
#if FK_SM90A
    // Without a tensor map (a driver older than CUDA 12.0's API) the portable kernel runs.
    CUtensorMap wmap;
    if (p->block_size % 64 == 0 && encode_weight_map(&wmap, p, SILU))
        return p->block_size % 128 == 0 ? launch_sm90<T, SILU, 2>(p, wmap, stream) : launch_sm90<T, SILU, 1>(p, wmap, stream);
#endif
    if (p->block_size % LargeCfg::BM == 0) return launch_cfg<T, LargeCfg, SILU>(p, stream);
    if (p->block_size % MediumCfg::BM == 0) return launch_cfg<T, MediumCfg, SILU>(p, stream);
    return launch_cfg<T, SmallCfg, SILU>(p, stream);
}

bool aligned16(const void* ptr) { return reinterpret_cast<uintptr_t>(ptr) % 16 == 0; }

}  // namespace

FK_OP_LAUNCHER(fused_moe)(const fk_fused_moe_params* p, cudaStream_t stream) {
    FK_REQUIRE(p != nullptr && stream != nullptr);
    FK_REQUIRE(p->dtype == FK_DTYPE_BF16 || p->dtype == FK_DTYPE_F16);
    FK_REQUIRE(p->activation == 0 || p->activation == 1);
    FK_REQUIRE(p->activation == 0 || p->topk_weights == nullptr);
    FK_REQUIRE(p->num_experts >= 1 && p->a_rows_per_slot >= 1);
    FK_REQUIRE(p->block_size >= 16 && p->block_size <= 1024 && p->block_size % 16 == 0);
    FK_REQUIRE(p->num_slots >= 0 && p->num_slots < (int64_t(1) << 31));
    FK_REQUIRE(p->em_capacity >= 0 && p->em_capacity < (int64_t(1) << 31));
    FK_REQUIRE(p->n > 0 && p->k > 0 && p->n % 8 == 0 && p->k % 8 == 0);
    FK_REQUIRE(p->a_stride >= p->k && p->a_stride % 8 == 0 && p->out_stride >= p->n && p->out_stride % 8 == 0);
    if (p->em_capacity == 0 || p->num_slots == 0) return cudaSuccess;
    FK_REQUIRE(p->out && p->a && p->weight && p->sorted_token_ids && p->expert_ids && p->num_tokens_post_padded);
    for (const void* ptr : {static_cast<const void*>(p->out), p->a, p->weight}) FK_REQUIRE(aligned16(ptr));
    const bool silu = p->activation == 1;
    if (p->dtype == FK_DTYPE_BF16) return silu ? launch_t<__nv_bfloat16, true>(p, stream) : launch_t<__nv_bfloat16, false>(p, stream);
    return silu ? launch_t<__half, true>(p, stream) : launch_t<__half, false>(p, stream);
}
