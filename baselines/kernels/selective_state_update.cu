// selective_state_update baseline (L1). Contract: include/fk/ops/selective_state_update.h.
// Mirrors vLLM `selective_state_update` (Mamba-1 and Mamba-2 decode). Any sm_80+ GPU.
// The op streams the fp32 state (read and written once: batch*heads*head_dim*d_state*8
// bytes, far more than the activations), so the work split follows the state: LPR lanes share
// one state row (b, h, p) and y is reduced over them by shuffles. Launched with PDL: it is one
// kernel of a decode step's chain.
//
// Two kernels. The vector kernel (d_state 16, 32, 64, 128 or 256, aligned operands: every
// model's case) gives each lane 4 consecutive states per access, one 16-byte load and store of
// the state and 8-byte loads of B and C (bf16), fully unrolled: the scalar form issued one
// 4-byte access per state in a runtime loop and moved Codestral's 8 MB of state per layer at
// ~0.7 TB/s (11.9 us on the H200, run 31), the memory system starved of requests in flight.
// The scalar kernel keeps every other d_state and unaligned views working.
#include "fk/ops/selective_state_update.h"
#include "fk/ssm.cuh"

namespace {

constexpr int kThreads = 128;

// One state row (b, h, p): where its states are (the constructor, from the launch's
// parameters and the slot table only) and, for the scalar kernel, the token's discretised dt
// and x (`load_token`, the previous kernel's output; the vector kernel loads its token's
// operands all at once itself). Rows past the end, and padding rows (negative state index), are
// `valid == false`: they still take part in the shuffles (whole warps), without touching
// memory.
template <typename T> struct StateRow {
    bool valid;
    int64_t b, hp;
    int h;
    float dt, xv;
    float* st;
    const T* B;
    const T* C;

    __device__ __forceinline__ StateRow(const fk_selective_state_update_params& p, int64_t row) {
        const int64_t hp_count = static_cast<int64_t>(p.heads) * p.head_dim;
        b = row < p.batch * hp_count ? row / hp_count : 0;
        hp = row % hp_count;
        const int64_t srow = p.state_indices ? p.state_indices[b] : b;
        valid = row < p.batch * hp_count && srow >= 0;
        h = static_cast<int>(hp / p.head_dim);
        const int g = h / (p.heads / p.ngroups);
        dt = 0.f;
        xv = 0.f;
        st = p.state + (srow * hp_count + hp) * p.d_state;
        B = static_cast<const T*>(p.B) + b * p.b_stride + static_cast<int64_t>(g) * p.d_state;
        C = static_cast<const T*>(p.C) + b * p.c_stride + static_cast<int64_t>(g) * p.d_state;
    }

    // dt_raw: dt before dt_bias (the input's, or the projection's, see proj_dt_*).
    __device__ __forceinline__ void load_token(const fk_selective_state_update_params& p, float dt_raw) {
        if (!valid) return;
        dt = dt_raw + (p.dt_bias ? p.dt_bias[h] : 0.f);
        if (p.dt_softplus) dt = fk::softplus(dt);
        xv = fk::to_float(static_cast<const T*>(p.x)[b * p.x_stride + hp]);
    }
    __device__ __forceinline__ float input_dt(const fk_selective_state_update_params& p) const {
        return valid ? fk::to_float(static_cast<const T*>(p.dt)[b * p.dt_stride + h]) : 0.f;
    }

    // y (already summed over the row's lanes) + D x, gated by silu(z), stored by one lane.
    __device__ __forceinline__ void finish(const fk_selective_state_update_params& p, float y) const {
        if (p.D) y = fmaf(p.D[h], xv, y);
        if (p.z) y *= fk::silu(fk::to_float(static_cast<const T*>(p.z)[b * p.z_stride + hp]));
        static_cast<T*>(p.out)[b * p.out_stride + hp] = fk::from_float<T>(y);
    }
};

template <int LPR> __device__ __forceinline__ float row_sum(float y) {
#pragma unroll
    for (int off = LPR / 2; off > 0; off /= 2) y += __shfl_xor_sync(0xffffffffu, y, off, LPR);
    return y;
}

// Mamba-1's dt projection inside the step: the row's LPR lanes split dt_rank, each summing
// a strided share, then the shares are added over the lanes; the sum is rounded to the dtype
// as the separate linear layer's output would be. Called by every lane (shuffles).
template <typename T> __device__ __forceinline__ float round_dt(float s) { return fk::to_float(fk::from_float<T>(s)); }

// Any layout: one element at a time.
template <typename T, int LPR> __device__ __forceinline__ float proj_dt_scalar(const fk_selective_state_update_params& p, const StateRow<T>& r, int lane) {
    float s = 0.f;
    if (r.valid) {
        const T* w = static_cast<const T*>(p.dt_proj) + static_cast<int64_t>(r.h) * p.dt_rank;
        const T* in = static_cast<const T*>(p.dt) + r.b * p.dt_stride;
        for (int64_t i = lane; i < p.dt_rank; i += LPR) s = fmaf(fk::to_float(w[i]), fk::to_float(in[i]), s);
    }
    return round_dt<T>(row_sum<LPR>(s));
}

// 16-byte pieces (dt_rank a multiple of a piece's elements, aligned rows; <= kDtPieces pieces
// per lane): the weight pieces are loaded first (`load`, before the PDL wait when settled: a
// model parameter), the token's after.
constexpr int kDtPieces = 8;
template <typename T, int LPR> struct ProjDtVec {
    static constexpr int V = 16 / sizeof(T);
    fk::Packed<T, V> w[kDtPieces];
    __device__ __forceinline__ void load(const fk_selective_state_update_params& p, const StateRow<T>& r, int lane) {
        if (!r.valid) return;
        const T* row = static_cast<const T*>(p.dt_proj) + static_cast<int64_t>(r.h) * p.dt_rank;
        const int pieces = static_cast<int>(p.dt_rank / V);
#pragma unroll
        for (int j = 0; j < kDtPieces; ++j) {
            const int c = lane + j * LPR;
            if (c < pieces) w[j] = *reinterpret_cast<const fk::Packed<T, V>*>(row + c * V);
        }
    }
    __device__ __forceinline__ float dot(const fk_selective_state_update_params& p, const StateRow<T>& r, int lane) const {
        float s = 0.f;
        if (r.valid) {
            const T* in = static_cast<const T*>(p.dt) + r.b * p.dt_stride;
            const int pieces = static_cast<int>(p.dt_rank / V);
#pragma unroll
            for (int j = 0; j < kDtPieces; ++j) {
                const int c = lane + j * LPR;
                if (c >= pieces) break;
                s = fk::dot16_acc(w[j], *reinterpret_cast<const fk::Packed<T, V>*>(in + c * V), s);
            }
        }
        return round_dt<T>(row_sum<LPR>(s));
    }
};

// Any d_state: lane l of the row's LPR lanes owns states l, l + LPR, ..., so each warp access
// to the state is a contiguous run of 4-byte words.
template <typename T, int LPR>
__global__ void __launch_bounds__(kThreads) update_scalar_kernel(const fk_selective_state_update_params p) {
    fk::pdl_grid_sync();
    const int lane = threadIdx.x % LPR;
    StateRow<T> r(p, static_cast<int64_t>(blockIdx.x) * (kThreads / LPR) + threadIdx.x / LPR);
    r.load_token(p, p.dt_proj ? proj_dt_scalar<T, LPR>(p, r, lane) : r.input_dt(p));
    const int N = p.d_state;
    // Mamba-2: one decay for the whole row.
    const float dA_head = (r.valid && !p.a_per_state) ? exp2f(r.dt * p.A[r.h] * fk::kLog2e) : 0.f;
    const float dtx = r.dt * r.xv;
    float y = 0.f;
    if (r.valid) {
        for (int n = lane; n < N; n += LPR) {
            const float dA = p.a_per_state ? exp2f(r.dt * p.A[static_cast<int64_t>(r.h) * N + n] * fk::kLog2e) : dA_head;
            const float s = fmaf(dA, r.st[n], dtx * fk::to_float(r.B[n]));
            r.st[n] = s;
            y = fmaf(s, fk::to_float(r.C[n]), y);
        }
    }
    y = row_sum<LPR>(y);
    if (r.valid && lane == 0) r.finish(p, y);
}

// d_state = 4 * LPR * VPL: lane l owns the VPL groups of 4 states starting at 4 (l + j LPR).
// All of a lane's state loads are issued before any is used. SETTLED (the caller's promise
// FK_SELECTIVE_STATE_UPDATE_STATE_SETTLED): the state and the slot table were not written by
// the launch right before this one, so they are read before the programmatic-dependent-launch
// wait, while that launch (a decode step's in_proj) still streams its weight: the op's one
// large read then leaves the chain, and only the token's x, dt, B, C (L2-resident, just
// written) are read after it. Every kernel of ours triggers its dependents only after its own
// wait, so when this grid runs at all, every launch before the previous one has completed.
// Run 44 (H200, A/B in one call, batch-1 graph decode): Codestral 4445-4454 -> 4400-4401 us
// (79.1-79.5 -> 80.1-80.5 % of copy); Mamba-1, whose state is 20x smaller, 2306-2313 -> 2296-2306.
// dt comes from the input; with dt_proj, update_vec_proj_kernel (below) runs instead (its
// weight pieces take registers that would otherwise cost the other models' state update its
// occupancy).
template <typename T, int LPR, int VPL, bool SETTLED>
__global__ void __launch_bounds__(kThreads) update_vec_kernel(const fk_selective_state_update_params p) {
    constexpr int N = 4 * LPR * VPL;
    if constexpr (!SETTLED) fk::pdl_grid_sync();
    const int lane = threadIdx.x % LPR;
    StateRow<T> r(p, static_cast<int64_t>(blockIdx.x) * (kThreads / LPR) + threadIdx.x / LPR);
    float4 s[VPL];
    if (r.valid) {
#pragma unroll
        for (int j = 0; j < VPL; ++j) s[j] = __ldcs(reinterpret_cast<const float4*>(r.st + 4 * (lane + j * LPR)));
    }
    if constexpr (SETTLED) fk::pdl_grid_sync();
    r.load_token(p, r.input_dt(p));
    float y = 0.f;
    if (r.valid) {
        fk::Packed<T, 4> bv[VPL], cv[VPL];
#pragma unroll
        for (int j = 0; j < VPL; ++j) {
            const int n = 4 * (lane + j * LPR);
            bv[j] = *reinterpret_cast<const fk::Packed<T, 4>*>(r.B + n);
            cv[j] = *reinterpret_cast<const fk::Packed<T, 4>*>(r.C + n);
        }
        const float dtx = r.dt * r.xv;
        const float dA_head = p.a_per_state ? 0.f : exp2f(r.dt * p.A[r.h] * fk::kLog2e);
#pragma unroll
        for (int j = 0; j < VPL; ++j) {
            const int n = 4 * (lane + j * LPR);
            float dA[4] = {dA_head, dA_head, dA_head, dA_head};
            if (p.a_per_state) {
                const float4 a = *reinterpret_cast<const float4*>(p.A + static_cast<int64_t>(r.h) * N + n);
                dA[0] = exp2f(r.dt * a.x * fk::kLog2e);
                dA[1] = exp2f(r.dt * a.y * fk::kLog2e);
                dA[2] = exp2f(r.dt * a.z * fk::kLog2e);
                dA[3] = exp2f(r.dt * a.w * fk::kLog2e);
            }
            float* sv = &s[j].x;
#pragma unroll
            for (int e = 0; e < 4; ++e) {
                sv[e] = fmaf(dA[e], sv[e], dtx * fk::to_float(bv[j].v[e]));
                y = fmaf(sv[e], fk::to_float(cv[j].v[e]), y);
            }
            __stcs(reinterpret_cast<float4*>(r.st + n), s[j]);
        }
    }
    y = row_sum<LPR>(y);
    if (r.valid && lane == 0) r.finish(p, y);
}

// The vector kernel with dt_proj inside (Mamba-1's decode at one or two rows), in one round
// trip after the wait: with the operands loaded where they are used, the path from the wait to
// the state update was four dependent L2 round trips (dt_proj's input, then x, then B and C,
// then z at the end). Here the row's parameters (dt_bias, D, A) are read with the state and
// the dt_proj row before the wait, and every operand of the token is requested before any is
// used. Run 73 (H200, A/B in one call, mamba-2.8b batch-1 graph decode): 2206-2211 -> 2098 us
// (60.0 -> 63.2 % of copy). The same in update_vec_kernel took registers and made Mamba-2's
// (Codestral) step slower (4267-4270 -> 4313-4321 us at batch 1, 12.15 -> 12.53 ms at batch
// 32), so that kernel keeps loading each operand where it is used.
template <typename T, int LPR, int VPL, bool SETTLED>
__global__ void __launch_bounds__(kThreads) update_vec_proj_kernel(const fk_selective_state_update_params p) {
    constexpr int N = 4 * LPR * VPL;
    if constexpr (!SETTLED) fk::pdl_grid_sync();
    const int lane = threadIdx.x % LPR;
    StateRow<T> r(p, static_cast<int64_t>(blockIdx.x) * (kThreads / LPR) + threadIdx.x / LPR);
    float4 s[VPL], a[VPL];
    float bias = 0.f, d_skip = 0.f;
    if (r.valid) {
#pragma unroll
        for (int j = 0; j < VPL; ++j) s[j] = __ldcs(reinterpret_cast<const float4*>(r.st + 4 * (lane + j * LPR)));
        if (p.dt_bias) bias = p.dt_bias[r.h];
        if (p.D) d_skip = p.D[r.h];
        if (p.a_per_state) {
#pragma unroll
            for (int j = 0; j < VPL; ++j) a[j] = *reinterpret_cast<const float4*>(p.A + static_cast<int64_t>(r.h) * N + 4 * (lane + j * LPR));
        }
    }
    ProjDtVec<T, LPR> proj;
    proj.load(p, r, lane);
    if constexpr (SETTLED) fk::pdl_grid_sync();
    fk::Packed<T, 4> bv[VPL], cv[VPL];
    T xt = fk::from_float<T>(0.f), zt = fk::from_float<T>(0.f);
    if (r.valid) {
        xt = static_cast<const T*>(p.x)[r.b * p.x_stride + r.hp];
        if (p.z) zt = static_cast<const T*>(p.z)[r.b * p.z_stride + r.hp];
#pragma unroll
        for (int j = 0; j < VPL; ++j) {
            const int n = 4 * (lane + j * LPR);
            bv[j] = *reinterpret_cast<const fk::Packed<T, 4>*>(r.B + n);
            cv[j] = *reinterpret_cast<const fk::Packed<T, 4>*>(r.C + n);
        }
    }
    float dt = proj.dot(p, r, lane) + bias;  // every lane: shuffles
    if (p.dt_softplus) dt = fk::softplus(dt);
    const float xv = fk::to_float(xt);
    float y = 0.f;
    if (r.valid) {
        // update_vec_kernel's state advance, with A from registers. (Not shared through a
        // function: written that way, update_vec_kernel's code came out reordered and 2-4 %
        // slower for Mamba-2, run 75.)
        const float dtx = dt * xv;
        const float dA_head = p.a_per_state ? 0.f : exp2f(dt * p.A[r.h] * fk::kLog2e);
#pragma unroll
        for (int j = 0; j < VPL; ++j) {
            float dA[4] = {dA_head, dA_head, dA_head, dA_head};
            if (p.a_per_state) {
                dA[0] = exp2f(dt * a[j].x * fk::kLog2e);
                dA[1] = exp2f(dt * a[j].y * fk::kLog2e);
                dA[2] = exp2f(dt * a[j].z * fk::kLog2e);
                dA[3] = exp2f(dt * a[j].w * fk::kLog2e);
            }
            float* sv = &s[j].x;
#pragma unroll
            for (int e = 0; e < 4; ++e) {
                sv[e] = fmaf(dA[e], sv[e], dtx * fk::to_float(bv[j].v[e]));
                y = fmaf(sv[e], fk::to_float(cv[j].v[e]), y);
            }
            __stcs(reinterpret_cast<float4*>(r.st + 4 * (lane + j * LPR)), s[j]);
        }
    }
    y = row_sum<LPR>(y);
    if (r.valid && lane == 0) {
        // StateRow::finish's arithmetic on the operands loaded above.
        if (p.D) y = fmaf(d_skip, xv, y);
        if (p.z) y *= fk::silu(fk::to_float(zt));
        static_cast<T*>(p.out)[r.b * p.out_stride + r.hp] = fk::from_float<T>(y);
    }
}

template <typename K>
cudaError_t launch_rows(K kernel, int lpr, const fk_selective_state_update_params* p, cudaStream_t stream) {
    const int64_t rows = p->batch * p->heads * p->head_dim;
    const int64_t blocks = fk::ceil_div(rows, kThreads / lpr);
    FK_REQUIRE(blocks <= 0x7fffffffLL);
    return fk::launch_pdl(kernel, dim3(static_cast<unsigned>(blocks)), dim3(kThreads), 0, stream, *p);
}

// Lanes per state row of the vector kernel for d_state (see launch_vec).
int vec_lanes(int d_state) { return d_state >= 128 ? 32 : d_state / 4; }

// Can the vector kernel read this call's state, A, B, C (and dt_proj) in 16/8-byte pieces?
bool vec_aligned(const fk_selective_state_update_params* p, int elem_bytes) {
    const auto aligned = [](const void* ptr, int bytes) { return reinterpret_cast<uintptr_t>(ptr) % bytes == 0; };
    const int64_t v = 16 / elem_bytes;  // elements of a 16-byte dt_proj piece
    const bool proj_ok = p->dt_proj == nullptr ||
                         (aligned(p->dt_proj, 16) && aligned(p->dt, 16) && p->dt_rank % v == 0 && p->dt_stride % v == 0 && p->dt_rank / v <= kDtPieces * vec_lanes(p->d_state));
    return proj_ok && aligned(p->state, 16) && (!p->a_per_state || aligned(p->A, 16)) && aligned(p->B, 4 * elem_bytes) &&
           aligned(p->C, 4 * elem_bytes) && p->b_stride % 4 == 0 && p->c_stride % 4 == 0;
}

template <typename T, int LPR, int VPL, bool SETTLED, bool PROJ> constexpr auto vec_kernel() {
    if constexpr (PROJ) {
        return update_vec_proj_kernel<T, LPR, VPL, SETTLED>;
    } else {
        return update_vec_kernel<T, LPR, VPL, SETTLED>;
    }
}

template <typename T, bool SETTLED, bool PROJ> cudaError_t launch_vec(const fk_selective_state_update_params* p, cudaStream_t stream) {
    switch (p->d_state) {
        case 16: return launch_rows(vec_kernel<T, 4, 1, SETTLED, PROJ>(), 4, p, stream);
        case 32: return launch_rows(vec_kernel<T, 8, 1, SETTLED, PROJ>(), 8, p, stream);
        case 64: return launch_rows(vec_kernel<T, 16, 1, SETTLED, PROJ>(), 16, p, stream);
        case 128: return launch_rows(vec_kernel<T, 32, 1, SETTLED, PROJ>(), 32, p, stream);
        case 256: return launch_rows(vec_kernel<T, 32, 2, SETTLED, PROJ>(), 32, p, stream);
        default: return cudaErrorNotSupported;
    }
}

template <typename T, bool PROJ> cudaError_t launch_vec_settled(const fk_selective_state_update_params* p, cudaStream_t stream) {
    return (p->flags & FK_SELECTIVE_STATE_UPDATE_STATE_SETTLED) ? launch_vec<T, true, PROJ>(p, stream) : launch_vec<T, false, PROJ>(p, stream);
}

bool vec_state(int d_state) { return d_state == 16 || d_state == 32 || d_state == 64 || d_state == 128 || d_state == 256; }

template <typename T> cudaError_t launch(const fk_selective_state_update_params* p, cudaStream_t stream) {
    if (vec_state(p->d_state) && vec_aligned(p, sizeof(T))) {
        return p->dt_proj ? launch_vec_settled<T, true>(p, stream) : launch_vec_settled<T, false>(p, stream);
    }
    if (p->d_state >= 32) return launch_rows(update_scalar_kernel<T, 32>, 32, p, stream);
    if (p->d_state >= 16) return launch_rows(update_scalar_kernel<T, 16>, 16, p, stream);
    return launch_rows(update_scalar_kernel<T, 8>, 8, p, stream);
}

}  // namespace

FK_OP_LAUNCHER(selective_state_update)(const fk_selective_state_update_params* p, cudaStream_t stream) {
    FK_REQUIRE(p != nullptr && stream != nullptr);
    FK_REQUIRE(p->batch >= 0 && p->heads > 0 && p->head_dim > 0 && p->ngroups > 0 && p->heads % p->ngroups == 0);
    FK_REQUIRE(p->d_state >= 1 && p->d_state <= FK_SELECTIVE_STATE_UPDATE_MAX_DSTATE);
    const int64_t hp = static_cast<int64_t>(p->heads) * p->head_dim;
    FK_REQUIRE(p->x_stride >= hp && p->out_stride >= hp && (p->dt_proj != nullptr || p->dt_stride >= p->heads));
    FK_REQUIRE(p->z == nullptr || p->z_stride >= hp);
    FK_REQUIRE(p->b_stride >= static_cast<int64_t>(p->ngroups) * p->d_state && p->c_stride >= static_cast<int64_t>(p->ngroups) * p->d_state);
    if (p->batch == 0) return cudaSuccess;
    FK_REQUIRE(p->out && p->state && p->x && p->dt && p->A && p->B && p->C);
    FK_REQUIRE(p->state_indices ? p->state_rows >= 1 : p->state_rows == p->batch);
    FK_REQUIRE((p->flags & ~FK_SELECTIVE_STATE_UPDATE_STATE_SETTLED) == 0);
    FK_REQUIRE(p->dt_proj ? (p->dt_rank >= 1 && p->dt_rank <= 4096 && p->dt_stride >= p->dt_rank) : p->dt_rank == 0);
    cudaError_t e = cudaErrorInvalidValue;
    FK_DISPATCH_FLOAT(p->dtype, T, { e = launch<T>(p, stream); });
    if (e != cudaSuccess) return e;
    return cudaGetLastError();
}
