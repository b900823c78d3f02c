// The rotation of one work item of a head, shared by rotary_embedding (1D positions) and
// rope_2d (DINOv3's patch grid): NeoX pairs (x[i], x[i + half]) as N-element vectors from both
// halves, or GPT-J interleaved pairs. fp32 math, each element rounded once.
#pragma once
#include "fk/common.cuh"

namespace fk {

template <typename T, int N, bool NEOX>
__device__ __forceinline__ void rotate_item(T* head, const float* cos, const float* sin, int half, int item) {
    using P = fk::Packed<T, N>;
    if (NEOX) {
        const int i0 = item * N;
        P a = *reinterpret_cast<const P*>(head + i0);
        P b = *reinterpret_cast<const P*>(head + half + i0);
#pragma unroll
        for (int k = 0; k < N; ++k) {
            const float c = cos[i0 + k], s = sin[i0 + k];
            const float x = fk::to_float(a.v[k]), y = fk::to_float(b.v[k]);
            a.v[k] = fk::from_float<T>(x * c - y * s);
            b.v[k] = fk::from_float<T>(y * c + x * s);
        }
        *reinterpret_cast<P*>(head + i0) = a;
        *reinterpret_cast<P*>(head + half + i0) = b;
    } else {
        static_assert(NEOX || N % 2 == 0 || N == 1, "gpt-j vectors hold whole pairs");
        constexpr int E = N == 1 ? 2 : N;  // scalar path handles one pair (2 elements)
        const int e0 = item * E;
        T* p = head + e0;
#pragma unroll
        for (int k = 0; k < E; k += 2) {
            const int pair = (e0 + k) / 2;
            const float c = cos[pair], s = sin[pair];
            const float x = fk::to_float(p[k]), y = fk::to_float(p[k + 1]);
            p[k] = fk::from_float<T>(x * c - y * s);
            p[k + 1] = fk::from_float<T>(y * c + x * s);
        }
    }
}

}  // namespace fk
