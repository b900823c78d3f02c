/* Op contract: embedding (L1), vLLM `VocabParallelEmbedding` at tp=1 / HF `nn.Embedding`:
 *   out[t, :] = weight[ids[t], :]
 * An id outside [0, vocab) never reads out of bounds: its row is written as zeros and the
 * offender is counted in *status (the Rust wrapper turns that into an error).
 * Launcher: FK_OP_LAUNCHER(embedding)(const fk_embedding_params* p, cudaStream_t stream)
 * dtypes: weight/out f32, f16, bf16; ids i32 or i64. */
#pragma once
#include "fk/dtype.h"

typedef struct fk_embedding_params {
    void* out;             /* [tokens, hidden], row stride out_stride */
    const void* ids;       /* [tokens] */
    const void* weight;    /* [vocab, hidden], contiguous */
    fk_status* status;     /* required */
    int64_t tokens;
    int64_t hidden;
    int64_t vocab;
    int64_t out_stride;
    int32_t ids_dtype;     /* FK_DTYPE_I32 or FK_DTYPE_I64 */
    int32_t dtype;
} fk_embedding_params;
