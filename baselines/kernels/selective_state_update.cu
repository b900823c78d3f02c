// selective_state_update baseline (L1). Contract: include/fk/ops/selective_state_update.h.
// Mirrors vLLM `selective_state_update` (Mamba-1 and Mamba-2 decode). Any sm_80+ GPU.
// The op streams the fp32 state (read and written once: batch*heads*head_dim*d_state*8
// bytes, far more than the activations), so the work split follows the state: LPR lanes share
// one state row (b, h, p), lane l owning states l, l+LPR, ..., so every warp access to the
// state is a contiguous run of 4-byte words. y is reduced over the row's lanes by shuffles.
// Launched with PDL: it is one kernel of a decode step's chain.
#include "fk/ops/selective_state_update.h"
#include "fk/ssm.cuh"

namespace {

constexpr int kThreads = 128;

template <typename T, int LPR>
__global__ void __launch_bounds__(kThreads) update_kernel(const fk_selective_state_update_params p) {
    fk::pdl_grid_sync();
    const int lane = threadIdx.x % LPR;
    const int64_t row = static_cast<int64_t>(blockIdx.x) * (kThreads / LPR) + threadIdx.x / LPR;
    const int64_t hp_count = static_cast<int64_t>(p.heads) * p.head_dim;
    // Rows past the end, and padding rows (negative state index), still take part in the
    // shuffles below (whole warps), without memory.
    const int64_t b = row < p.batch * hp_count ? row / hp_count : 0, hp = row % hp_count;
    const int64_t srow = p.state_indices ? p.state_indices[b] : b;
    const bool valid = row < p.batch * hp_count && srow >= 0;
    const int h = static_cast<int>(hp / p.head_dim);
    const int g = h / (p.heads / p.ngroups), N = p.d_state;

    float dt = 0.f, xv = 0.f;
    if (valid) {
        dt = fk::to_float(static_cast<const T*>(p.dt)[b * p.dt_stride + h]) + (p.dt_bias ? p.dt_bias[h] : 0.f);
        if (p.dt_softplus) dt = fk::softplus(dt);
        xv = fk::to_float(static_cast<const T*>(p.x)[b * p.x_stride + hp]);
    }
    const float dtx = dt * xv;
    const T* Bv = static_cast<const T*>(p.B) + b * p.b_stride + static_cast<int64_t>(g) * N;
    const T* Cv = static_cast<const T*>(p.C) + b * p.c_stride + static_cast<int64_t>(g) * N;
    float* st = p.state + (srow * hp_count + hp) * N;
    // Mamba-2: one decay for the whole row.
    const float dA_head = (valid && !p.a_per_state) ? exp2f(dt * p.A[h] * fk::kLog2e) : 0.f;
    float y = 0.f;
    if (valid) {
        for (int n = lane; n < N; n += LPR) {
            const float dA = p.a_per_state ? exp2f(dt * p.A[static_cast<int64_t>(h) * N + n] * fk::kLog2e) : dA_head;
            const float s = fmaf(dA, st[n], dtx * fk::to_float(Bv[n]));
            st[n] = s;
            y = fmaf(s, fk::to_float(Cv[n]), y);
        }
    }
#pragma unroll
    for (int off = LPR / 2; off > 0; off /= 2) y += __shfl_xor_sync(0xffffffffu, y, off, LPR);
    if (!valid || lane != 0) return;
    if (p.D) y = fmaf(p.D[h], xv, y);
    if (p.z) y *= fk::silu(fk::to_float(static_cast<const T*>(p.z)[b * p.z_stride + hp]));
    static_cast<T*>(p.out)[b * p.out_stride + hp] = fk::from_float<T>(y);
}

template <typename T, int LPR>
cudaError_t launch(const fk_selective_state_update_params* p, cudaStream_t stream) {
    const int64_t rows = p->batch * p->heads * p->head_dim;
    const int64_t blocks = fk::ceil_div(rows, kThreads / LPR);
    FK_REQUIRE(blocks <= 0x7fffffffLL);
    return fk::launch_pdl(update_kernel<T, LPR>, dim3(static_cast<unsigned>(blocks)), dim3(kThreads), 0, stream, *p);
}

}  // namespace

FK_OP_LAUNCHER(selective_state_update)(const fk_selective_state_update_params* p, cudaStream_t stream) {
    FK_REQUIRE(p != nullptr && stream != nullptr);
    FK_REQUIRE(p->batch >= 0 && p->heads > 0 && p->head_dim > 0 && p->ngroups > 0 && p->heads % p->ngroups == 0);
    FK_REQUIRE(p->d_state >= 1 && p->d_state <= FK_SELECTIVE_STATE_UPDATE_MAX_DSTATE);
    const int64_t hp = static_cast<int64_t>(p->heads) * p->head_dim;
    FK_REQUIRE(p->x_stride >= hp && p->out_stride >= hp && p->dt_stride >= p->heads);
    FK_REQUIRE(p->z == nullptr || p->z_stride >= hp);
    FK_REQUIRE(p->b_stride >= static_cast<int64_t>(p->ngroups) * p->d_state && p->c_stride >= static_cast<int64_t>(p->ngroups) * p->d_state);
    if (p->batch == 0) return cudaSuccess;
    FK_REQUIRE(p->out && p->state && p->x && p->dt && p->A && p->B && p->C);
    FK_REQUIRE(p->state_indices ? p->state_rows >= 1 : p->state_rows == p->batch);
    cudaError_t e = cudaErrorInvalidValue;
    FK_DISPATCH_FLOAT(p->dtype, T, {
        if (p->d_state >= 32) e = launch<T, 32>(p, stream);
        else if (p->d_state >= 16) e = launch<T, 16>(p, stream);
        else e = launch<T, 8>(p, stream);
    });
    if (e != cudaSuccess) return e;
    return cudaGetLastError();
}
