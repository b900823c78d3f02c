/* Op contract: gather_rows (L1): out[r, :] = index[r] >= 0 ? input[index[r], :] : 0.
 * This is both halves of running a padded batch through varlen kernels (FlashAttention's
 * bert_padding `unpad_input` / `pad_input`): unpad gathers the real tokens of a
 * [batch * seq, width] tensor into a packed [total, width] one; pad gathers them back with
 * index -1 on the padding rows, which become zeros. An index >= in_rows is bad data: the row
 * is written as zeros and reported in *status.
 * Launcher: FK_OP_LAUNCHER(gather_rows)(const fk_gather_rows_params* p, cudaStream_t stream)
 * dtypes: any (rows are copied as bytes); index i32. */
#pragma once
#include "fk/dtype.h"

typedef struct fk_gather_rows_params {
    void* out;              /* [rows, cols], row stride out_stride */
    const void* input;      /* [in_rows, cols], row stride input_stride */
    const int32_t* index;   /* [rows] */
    fk_status* status;      /* may be NULL */
    int64_t rows;
    int64_t cols;
    int64_t in_rows;
    int64_t input_stride;
    int64_t out_stride;
    int32_t dtype;
    int32_t pad_;
} fk_gather_rows_params;
