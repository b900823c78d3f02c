// Host side of TMA (sm_90a kernels that load tiles with cp.async.bulk.tensor): encoding a
// CUtensorMap for a 16-bit tensor. cuTensorMapEncodeTiled is a driver function, reached
// through cudart's entry-point query so the library keeps linking the static runtime only.
#pragma once
#include <cuda.h>
#include <cudaTypedefs.h>  // PFN_cuTensorMapEncodeTiled
#include <cuda_runtime.h>

#include "fk/dtype.h"

namespace fk {

// Null if the driver lacks the function (older than CUDA 12.0's API).
inline PFN_cuTensorMapEncodeTiled_v12000 tensor_map_encoder() {
    static const PFN_cuTensorMapEncodeTiled_v12000 fn = [] {
        void* f = nullptr;
        cudaDriverEntryPointQueryResult q{};
        if (cudaGetDriverEntryPointByVersion("cuTensorMapEncodeTiled", &f, 12000, cudaEnableDefault, &q) != cudaSuccess || q != cudaDriverEntryPointSuccess)
            return PFN_cuTensorMapEncodeTiled_v12000(nullptr);
        return reinterpret_cast<PFN_cuTensorMapEncodeTiled_v12000>(f);
    }();
    return fn;
}

// A RANK-dimensional f16/bf16 tensor (dims innermost first, byte strides of dims 1..RANK-1)
// with box `box` and 128-byte swizzle: the box's inner dimension must be 64 elements, so each
// box row is one 128-byte swizzled row of the SW128 tile layout the wgmma descriptors read.
// Boxes reaching past the tensor are zero-filled. False if the map cannot be made.
template <int RANK>
inline bool encode_sw128_map(CUtensorMap* map, const void* base, int32_t dtype, const cuuint64_t (&dims)[RANK], const cuuint64_t (&strides)[RANK - 1],
                             const cuuint32_t (&box)[RANK]) {
    const PFN_cuTensorMapEncodeTiled_v12000 encode = tensor_map_encoder();
    if (encode == nullptr || (dtype != FK_DTYPE_BF16 && dtype != FK_DTYPE_F16)) return false;
    cuuint32_t elem_strides[RANK];
    for (int i = 0; i < RANK; ++i) elem_strides[i] = 1;
    const CUtensorMapDataType type = dtype == FK_DTYPE_BF16 ? CU_TENSOR_MAP_DATA_TYPE_BFLOAT16 : CU_TENSOR_MAP_DATA_TYPE_FLOAT16;
    return encode(map, type, RANK, const_cast<void*>(base), dims, strides, box, elem_strides, CU_TENSOR_MAP_INTERLEAVE_NONE, CU_TENSOR_MAP_SWIZZLE_128B,
                  CU_TENSOR_MAP_L2_PROMOTION_L2_256B, CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE) == CUDA_SUCCESS;
}

}  // namespace fk
