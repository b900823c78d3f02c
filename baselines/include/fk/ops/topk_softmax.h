/* Op contract: topk_softmax (L1): the MoE router's expert choice, as vLLM's
 * `topk_softmax` / HF MixtralSparseMoeBlock compute it:
 *   p[t, :]   = softmax(logits[t, :]) in fp32 over the E experts
 *   ids[t, :] = the k experts with the largest p, in decreasing order of p
 *   w[t, j]   = p[t, ids[t, j]]  (renormalize = 0, vLLM default for e.g. Qwen2-MoE)
 *             = p[t, ids[t, j]] / sum_j' p[t, ids[t, j']]  (renormalize = 1: Mixtral, whose HF
 *               code does `routing_weights /= routing_weights.sum(dim=-1, keepdim=True)`)
 * Ties: equal values pick the lower expert index first (torch.topk on CUDA does not promise an
 * order among ties; this contract fixes one so results are reproducible and testable).
 * Selection uses the logits themselves (softmax is monotone, so it is the same choice as on
 * exact probabilities, and it is immune to two close logits rounding to one f32 probability).
 * Logits are sanitised first: NaN reads as -inf, +inf as FLT_MAX. A row whose logits are all
 * -inf gets uniform probabilities 1/E (a finite answer where torch.softmax gives NaN).
 * HF does not give the per-slot "token_expert_indices" that older vLLM returned; nothing
 * downstream here needs it (moe_align_block_size works from ids), so it is not produced.
 * Launcher: FK_OP_LAUNCHER(topk_softmax)(const fk_topk_softmax_params*, cudaStream_t)
 * dtypes: logits f32, f16, bf16 (rows may be strided); weights f32; ids i32.
 * Limits: 1 <= E <= FK_TOPK_SOFTMAX_MAX_EXPERTS, 1 <= k <= min(E, FK_TOPK_SOFTMAX_MAX_K). */
#pragma once
#include "fk/dtype.h"

#define FK_TOPK_SOFTMAX_MAX_EXPERTS 256
#define FK_TOPK_SOFTMAX_MAX_K 8

typedef struct fk_topk_softmax_params {
    float* topk_weights;    /* [tokens, k], contiguous */
    int32_t* topk_ids;      /* [tokens, k], contiguous */
    const void* logits;     /* [tokens, num_experts], rows logits_stride elements apart */
    int64_t tokens;
    int64_t logits_stride;
    int32_t num_experts;
    int32_t top_k;
    int32_t renormalize;    /* 0 or 1 */
    int32_t dtype;          /* of logits */
} fk_topk_softmax_params;
