/* Op contract: fused_moe (L1): one grouped expert GEMM over the blocks that
 * moe_align_block_size laid out, vLLM's `fused_moe_kernel` (invoke_fused_moe_kernel). A
 * MixtralSparseMoeBlock runs it twice:
 *   gate_up (activation = 1): x [T, H] (a_rows_per_slot = k: slot s reads row s / k)
 *     x w13 [E, 2I, H] (HF w1 = gate in rows 0..I-1, w3 = up in rows I..2I-1)
 *     -> out[s, i] = round(round(silu(round(g))) * round(u)),  g = x[s/k] . w13[e, i],
 *        u = x[s/k] . w13[e, I+i]  (round = to the dtype, where PyTorch materialises: gate and
 *        up projections, act_fn's output, the product; silu(g) = g / (1 + exp(-g)) in fp32)
 *   down (activation = 0): inter [T*k, I] (a_rows_per_slot = 1) x w2 [E, H, I]
 *     -> out[s, n] = round(w[s] * inter[s] . w2[e, n]),  w[s] = topk_weights[s] if given, else 1
 * for every slot s in expert e's group. Rows are sorted_token_ids[r] for r < *num_tokens_post_padded;
 * block b = r / block_size belongs to expert_ids[b]. Padding rows (sorted id >= num_slots)
 * are neither read nor written; blocks of expert -1 are skipped; an expert id >= E or a
 * negative sorted id is treated like padding (never an out-of-bounds access).
 * Out rows of slots that no valid block names are left untouched.
 * Shapes: weight [E, n_w, K]; activation 1: n_w = 2*N (N = I, out [num_slots, N]);
 * activation 0: n_w = N. K and N multiples of 8 (16-byte rows); a rows a_stride apart,
 * out rows out_stride apart (multiples of 8, 16-byte aligned bases).
 * block_size: a multiple of 16 (the kernel's M tile divides it: 16, 64 or 128 rows).
 * em_capacity = the size of sorted_token_ids (FK_MOE_ALIGN_MAX_PADDED): sizes the grid on the
 * host; blocks past *num_tokens_post_padded exit at once (graph capturable, no sync).
 * Launcher: FK_OP_LAUNCHER(fused_moe)(const fk_fused_moe_params*, cudaStream_t)
 * dtypes: bf16 or f16 (a, weight, out alike), fp32 accumulation on tensor cores (sm_80+ mma). */
#pragma once
#include "fk/dtype.h"

typedef struct fk_fused_moe_params {
    void* out;                            /* [num_slots, N], rows out_stride apart */
    const void* a;                        /* [num_slots / a_rows_per_slot, K], rows a_stride apart */
    const void* weight;                   /* [E, n_w, K], contiguous */
    const int32_t* sorted_token_ids;      /* [em_capacity] */
    const int32_t* expert_ids;            /* [ceil(em_capacity / block_size)] */
    const int32_t* num_tokens_post_padded;/* [1] */
    const float* topk_weights;            /* [num_slots] or NULL (activation 0 only) */
    int64_t num_slots;                    /* T*k */
    int64_t em_capacity;
    int64_t n;                            /* N: out columns */
    int64_t k;                            /* K: reduction length */
    int64_t a_stride;
    int64_t out_stride;
    int32_t num_experts;
    int32_t a_rows_per_slot;              /* top_k for gate_up, 1 for down */
    int32_t block_size;
    int32_t activation;                   /* 0: none, 1: silu(gate) * up */
    int32_t dtype;                        /* FK_DTYPE_BF16 or FK_DTYPE_F16 */
    int32_t pad_;
} fk_fused_moe_params;
