// Device helpers shared by the state-space-model kernels (causal_conv1d*, selective_scan,
// selective_state_update, rms_norm_gated): the activations Mamba uses, in fp32.
#pragma once
#include "fk/common.cuh"

namespace fk {

constexpr float kLog2e = 1.4426950408889634f;

// The bare MUFU instructions, flushing subnormal results to zero (exp2f / __log2f add a
// rescaling for them: three more instructions on hot lines where such values never matter).
__device__ __forceinline__ float ex2_ftz(float x) {
    float y;
    asm("ex2.approx.ftz.f32 %0, %1;" : "=f"(y) : "f"(x));
    return y;
}
__device__ __forceinline__ float lg2_ftz(float x) {
    float y;
    asm("lg2.approx.ftz.f32 %0, %1;" : "=f"(y) : "f"(x));
    return y;
}

// x * sigmoid(x). The fast divide is within 2 ulp for denominators below 2^126; beyond
// (x < -87) it returns 0, which is silu's value there to fp32 precision anyway.
__device__ __forceinline__ float silu(float x) { return __fdividef(x, 1.f + __expf(-x)); }

// torch.nn.functional.softplus with its default threshold 20 (Mamba's dt activation): above
// it log1p(exp(x)) == x in fp32, and returning x avoids overflowing exp.
// Computed as max(x, 0) + log1p(t), t = exp(-|x|) in (0, 1], without log1pf's ~40
// instructions (this runs once per token and channel of the scan): for t < 1/16 a 5-term
// series (truncation < t^6/6, relative 2e-7), else lg2.approx of 1 + t (absolute error
// 2^-22.6 on [1, 2], relative < 2e-6 since log1p(t) > 0.06 there). ex2.approx of the rounded
// -|x|·log2(e) adds < 4e-7 relative for |x| <= 6 (Mamba's dt range), ~1.2e-6 at |x| = 20.
__device__ __forceinline__ float softplus(float x) {
    // exp(-|x|) below 2^-126 (|x| > 87) flushes to 0: softplus is max(x, 0) to fp32 there.
    const float t = ex2_ftz(-fabsf(x) * kLog2e);
    // t(1 - t(1/2 - t(1/3 - t(1/4 - t/5)))), written with fmaf.
    const float series = t * fmaf(-t, fmaf(-t, fmaf(-t, fmaf(-t, 0.2f, 0.25f), 1.f / 3.f), 0.5f), 1.f);
    const float l = t < 0.0625f ? series : lg2_ftz(1.f + t) * 0.69314718055994531f;
    return x > 20.f ? x : fmaxf(x, 0.f) + l;
}

// One causal_conv1d_update step of a channel whose state `st` holds its `taps` previous inputs
// (oldest first) and whose weight row `w` has taps + 1 entries: returns acc + w . [st..., x]
// and shifts x into the state. MaxTaps bounds taps at compile time (the loops unroll; equal to
// it, they are straight-line code). Shared by the op's kernel and skinny_gemm's conv epilogue,
// whose results must agree bit for bit.
template <int MaxTaps, typename T>
__device__ __forceinline__ float conv_update_step(const T* w, T* st, int taps, T x, float acc) {
    T old[MaxTaps];
#pragma unroll
    for (int t = 0; t < MaxTaps; ++t) {
        if (t >= taps) break;
        old[t] = st[t];
        acc = fmaf(to_float(w[t]), to_float(old[t]), acc);
    }
    acc = fmaf(to_float(w[taps]), to_float(x), acc);
#pragma unroll
    for (int t = 0; t + 1 < MaxTaps; ++t) {
        if (t + 1 >= taps) break;
        st[t] = old[t + 1];
    }
    st[taps - 1] = x;
    return acc;
}

}  // namespace fk
