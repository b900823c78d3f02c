/* Op contract: moe_sum (L1): combine each token's k expert outputs, vLLM's `moe_sum`
 * (the last step of fused_experts) / the index_add_ of HF MixtralSparseMoeBlock:
 *   out[t, h] = sum_j w[t, j] * input[t, j, h]   over j with 0 <= topk_ids[t, j] < E
 * w = topk_weights, or 1 when topk_weights is NULL. The convention of this workspace is that
 * fused_moe's down projection already multiplies by the routing weight (vLLM's
 * mul_routed_weight, one rounding), so moe_sum runs unweighted; pass weights when the GEMM did
 * not. topk_ids may be NULL (every slot counts); with ids, slots routed to an expert outside
 * [0, E) are skipped (expert parallelism, or ids moe_align_block_size rejected).
 * fp32 accumulation in slot order, one rounding to the dtype.
 * Launcher: FK_OP_LAUNCHER(moe_sum)(const fk_moe_sum_params*, cudaStream_t)
 * dtypes: input and out f32, f16, bf16 (same); topk_weights f32; topk_ids i32. k <= 64. */
#pragma once
#include "fk/dtype.h"

typedef struct fk_moe_sum_params {
    void* out;                   /* [tokens, hidden], rows out_stride apart */
    const void* input;           /* [tokens, top_k, hidden], contiguous */
    const float* topk_weights;   /* [tokens, top_k] or NULL */
    const int32_t* topk_ids;     /* [tokens, top_k] or NULL */
    int64_t tokens;
    int64_t hidden;
    int64_t out_stride;
    int32_t top_k;
    int32_t num_experts;         /* bound for topk_ids (unused when topk_ids is NULL) */
    int32_t dtype;
    int32_t pad_;
} fk_moe_sum_params;
