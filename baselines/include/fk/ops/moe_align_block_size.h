/* Op contract: moe_align_block_size (L1): group the T*k routed token slots by expert and pad
 * each expert's group to a multiple of the grouped GEMM's M tile, as vLLM's
 * `moe_align_block_size` does (the input of its fused_moe kernel).
 * Slot s = t*k + j is token t's j-th choice, expert topk_ids[s]. With c_e = |{s : ids[s] = e}|
 * and P_e = ceil(c_e / B) * B (B = block_size), experts are laid out in order 0..E-1:
 *   sorted_token_ids[off_e + i] = the i-th smallest slot s with ids[s] = e   (i < c_e)
 *                               = T*k (the padding sentinel)                  (c_e <= i < P_e)
 *   off_e = P_0 + ... + P_{e-1};  *num_tokens_post_padded = P_0 + ... + P_{E-1}
 *   expert_ids[b] = the expert owning rows [b*B, (b+1)*B) of sorted_token_ids; -1 past the end
 * Every entry of sorted_token_ids past *num_tokens_post_padded is the sentinel, so all of both
 * buffers is defined. Their sizes depend only on host-known values (no sync, graph capturable):
 *   sorted_token_ids: FK_MOE_ALIGN_MAX_PADDED(T*k, E, B) = T*k + E*(B-1) entries (i32)
 *   expert_ids:       FK_MOE_ALIGN_MAX_BLOCKS(T*k, E, B) = ceil(that / B) entries (i32)
 * vLLM orders slots within an expert by its atomics; this contract orders them by slot index
 * (deterministic; the GEMM result does not depend on the order).
 * Ids outside [0, E) (bad data, or experts another rank owns under expert parallelism) are left
 * out of every group; they are counted in *status if given.
 * Launcher: FK_OP_LAUNCHER(moe_align_block_size)(const fk_moe_align_block_size_params*, cudaStream_t)
 * dtypes: topk_ids i32; outputs i32. Limits: E <= FK_MOE_ALIGN_MAX_EXPERTS, 1 <= B <= 1024,
 * T*k + E*(B-1) < 2^31. One CTA does it all (the step is tiny next to the expert GEMMs). */
#pragma once
#include "fk/dtype.h"

#define FK_MOE_ALIGN_MAX_EXPERTS 512
#define FK_MOE_ALIGN_MAX_PADDED(slots, experts, block) ((slots) + (experts) * ((block) - 1))
#define FK_MOE_ALIGN_MAX_BLOCKS(slots, experts, block) \
    ((FK_MOE_ALIGN_MAX_PADDED(slots, experts, block) + (block) - 1) / (block))

typedef struct fk_moe_align_block_size_params {
    int32_t* sorted_token_ids;        /* [FK_MOE_ALIGN_MAX_PADDED(slots, E, B)] */
    int32_t* expert_ids;              /* [FK_MOE_ALIGN_MAX_BLOCKS(slots, E, B)] */
    int32_t* num_tokens_post_padded;  /* [1] */
    const int32_t* topk_ids;          /* [slots] = [tokens, k] flattened, contiguous */
    fk_status* status;                /* may be NULL: slots whose id is outside [0, E) */
    int64_t slots;                    /* T*k */
    int32_t num_experts;
    int32_t block_size;
} fk_moe_align_block_size_params;
