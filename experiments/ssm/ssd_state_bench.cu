// Bench of ssd_chunk_scan's Hopper state pass (fk/ssd/chunk_sums.cuh + fk/ssd/state_sm90.cuh)
// and of the whole op, at 8k tokens of mamba2-2.7b and Mamba-Codestral-7B, in one process.
//
// Compiles the product (baselines/kernels/ssd_chunk_scan.cu; runs 121-124 built it also with
// diagnostic and A/B knobs of state_sm90.cuh, in commit 29a4445, since removed),
// fills bf16 inputs laid out as Mamba2Mixer feeds the scan
// (x, B and C strided views of the convolved xBC rows; dt with its bias through softplus; A =
// -(1 .. 16)), times the sums pre-pass, the state pass and the whole op (CUDA events, 3
// warm-ups, median of `reps`), and for the product checks the published chunk states of two
// heads against a float64 CPU recurrence. One JSON object per shape on stdout.
//
// Build on the device, from the repository root:
//   nvcc -O3 -std=c++17 --expt-relaxed-constexpr -gencode=arch=compute_90a,code=sm_90a \
//     -I baselines/include -DFK_SM90A=1 \
//     experiments/ssm/ssd_state_bench.cu -o /tmp/ssd_state_bench && /tmp/ssd_state_bench [reps]
#include <cuda_bf16.h>
#include <cuda_runtime.h>

// The kernel file's headers at file scope first (their #pragma once keeps its own includes from
// re-entering them inside the namespace below; the kernels called directly live here).
#define FK_SYMBOL_PREFIX fk_bench_unused_
#include "fk/common.cuh"
#include "fk/ops/ssd_chunk_scan.h"
#include "fk/ssd/chunk_sums.cuh"
#include "fk/ssd/output_sm90.cuh"
#include "fk/ssd/state_sm90.cuh"
#include "fk/tma_host.cuh"
#undef FK_SYMBOL_PREFIX

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <initializer_list>
#include <type_traits>
#include <vector>

#include "bench_util.cuh"

namespace product {
#define FK_SYMBOL_PREFIX product_
#include "../../baselines/kernels/ssd_chunk_scan.cu"
#undef FK_SYMBOL_PREFIX
}  // namespace product

using T = __nv_bfloat16;
using Work = product::Work<T, 128>;
constexpr int kTokens = 8192, kHeadDim = 64, kN = 128, kQ = FK_SSD_CHUNK_SCAN_CHUNK;

struct Shape {
    const char* name;
    int heads, groups;
};

// Median microseconds of `launch()`: 3 warm-ups, `reps` timed runs.
template <typename F> static double median_us(cudaStream_t st, int reps, F&& launch) { return 1e3 * median_event_ms(st, reps, 3, launch); }

static float bf(T v) { return __bfloat162float(v); }

// float64 recurrence of head h over all tokens; the relative L2 error of the published chunk
// states (every chunk start) and of the fp32 final state.
static void check_head(const fk_ssd_chunk_scan_params& p, const Work& ws, int h, double& rel_states, double& rel_final) {
    const int W = p.heads * kHeadDim, row = static_cast<int>(p.x_stride);
    std::vector<T> xbc(static_cast<size_t>(kTokens) * row), dt(static_cast<size_t>(kTokens) * p.heads);
    CHECK(cudaMemcpy(xbc.data(), p.x, xbc.size() * 2, cudaMemcpyDeviceToHost));
    CHECK(cudaMemcpy(dt.data(), p.dt, dt.size() * 2, cudaMemcpyDeviceToHost));
    std::vector<T> st(static_cast<size_t>(kTokens / kQ) * kHeadDim * kN);
    for (int c = 0; c < kTokens / kQ; ++c)  // slot c (one sequence starting at 0)
        CHECK(cudaMemcpy(st.data() + static_cast<size_t>(c) * kHeadDim * kN, ws.states + ((static_cast<int64_t>(c) * p.heads + h) * kHeadDim) * kN,
                         kHeadDim * kN * 2, cudaMemcpyDeviceToHost));
    std::vector<float> fin(kHeadDim * kN);
    CHECK(cudaMemcpy(fin.data(), p.final_state + static_cast<int64_t>(h) * kHeadDim * kN, fin.size() * 4, cudaMemcpyDeviceToHost));
    float A, bias;
    CHECK(cudaMemcpy(&A, p.A + h, 4, cudaMemcpyDeviceToHost));
    CHECK(cudaMemcpy(&bias, p.dt_bias + h, 4, cudaMemcpyDeviceToHost));
    const int grp = h / (p.heads / p.ngroups);
    std::vector<double> S(kHeadDim * kN, 0.0);
    double err = 0, ref = 0;
    for (int t = 0; t < kTokens; ++t) {
        if (t % kQ == 0) {
            const T* got = st.data() + static_cast<size_t>(t / kQ) * kHeadDim * kN;
            for (int i = 0; i < kHeadDim * kN; ++i) {
                err += (bf(got[i]) - S[i]) * (bf(got[i]) - S[i]);
                ref += S[i] * S[i];
            }
        }
        const double v = bf(dt[static_cast<size_t>(t) * p.heads + h]) + bias;
        const double d = v > 20 ? v : std::log1p(std::exp(v));
        const double decay = std::exp(d * A);
        const T* r = xbc.data() + static_cast<size_t>(t) * row;
        for (int pp = 0; pp < kHeadDim; ++pp) {
            const double dx = d * bf(r[h * kHeadDim + pp]);
            for (int n = 0; n < kN; ++n) S[pp * kN + n] = decay * S[pp * kN + n] + dx * bf(r[W + grp * kN + n]);
        }
    }
    rel_states = std::sqrt(err / ref);
    double ef = 0, rf = 0;
    for (int i = 0; i < kHeadDim * kN; ++i) {
        ef += (fin[i] - S[i]) * (fin[i] - S[i]);
        rf += S[i] * S[i];
    }
    rel_final = std::sqrt(ef / rf);
}

int main(int argc, char** argv) {
    const int reps = argc > 1 ? std::atoi(argv[1]) : 20;
    cudaStream_t st;
    CHECK(cudaStreamCreate(&st));
    for (const Shape sh : {Shape{"mamba2-2.7b", 80, 1}, Shape{"Mamba-Codestral-7B", 128, 8}}) {
        const int W = sh.heads * kHeadDim, row = W + 2 * sh.groups * kN;
        T *xbc, *dt, *out;
        float *A, *D, *bias, *fin;
        int32_t* cu;
        CHECK(cudaMalloc(&xbc, sizeof(T) * kTokens * row));
        CHECK(cudaMalloc(&dt, sizeof(T) * kTokens * sh.heads));
        CHECK(cudaMalloc(&out, sizeof(T) * kTokens * W));
        CHECK(cudaMalloc(&A, 4 * sh.heads));
        CHECK(cudaMalloc(&D, 4 * sh.heads));
        CHECK(cudaMalloc(&bias, 4 * sh.heads));
        CHECK(cudaMalloc(&fin, 4 * sh.heads * kHeadDim * kN));
        CHECK(cudaMalloc(&cu, 8));
        fill_bf16<<<1024, 256, 0, st>>>(xbc, static_cast<int64_t>(kTokens) * row, 1, -1.f, 1.f);
        fill_bf16<<<1024, 256, 0, st>>>(dt, static_cast<int64_t>(kTokens) * sh.heads, 2, -1.f, 1.f);
        std::vector<float> hA(sh.heads), hD(sh.heads), hb(sh.heads);
        for (int h = 0; h < sh.heads; ++h) {
            hA[h] = -(1 + h % 16);
            hD[h] = 1.f;
            hb[h] = std::log(std::expm1(std::exp(std::log(1e-3) + (std::log(1e-1) - std::log(1e-3)) * hash_uniform(h, 3, 0.f, 1.f))));
        }
        const int32_t hcu[2] = {0, kTokens};
        CHECK(cudaMemcpy(A, hA.data(), 4 * sh.heads, cudaMemcpyHostToDevice));
        CHECK(cudaMemcpy(D, hD.data(), 4 * sh.heads, cudaMemcpyHostToDevice));
        CHECK(cudaMemcpy(bias, hb.data(), 4 * sh.heads, cudaMemcpyHostToDevice));
        CHECK(cudaMemcpy(cu, hcu, 8, cudaMemcpyHostToDevice));

        fk_ssd_chunk_scan_params p{};
        p.out = out;
        p.x = xbc;
        p.B = xbc + W;
        p.C = xbc + W + sh.groups * kN;
        p.dt = dt;
        p.A = A;
        p.D = D;
        p.dt_bias = bias;
        p.cu_seqlens = cu;
        p.final_state = fin;
        p.tokens = kTokens;
        p.x_stride = p.b_stride = p.c_stride = row;
        p.dt_stride = sh.heads;
        p.out_stride = W;
        p.dt_min = 0.f;
        p.dt_max = INFINITY;
        p.batch = 1;
        p.heads = sh.heads;
        p.head_dim = kHeadDim;
        p.ngroups = sh.groups;
        p.d_state = kN;
        p.dt_softplus = 1;
        p.dtype = FK_DTYPE_BF16;
        p.workspace_bytes = fk_ssd_chunk_scan_workspace_bytes(p.tokens, p.batch, p.heads, p.head_dim, p.d_state, p.dtype);
        CHECK(cudaMalloc(&p.workspace, p.workspace_bytes));
        const Work ws = Work::of(p);
        const int64_t slots = (kTokens + kQ - 1) / kQ + 1;

        using L = fk::ssd::StateSm90Layout;
        const auto state = fk::ssd::state_sm90_kernel<T, 128, Work>;
        CHECK(cudaFuncSetAttribute(state, cudaFuncAttributeMaxDynamicSharedMemorySize, L::kAlloc));
        const dim3 sums_grid(static_cast<unsigned>(slots), (sh.heads + fk::ssd::kSumHeads - 1) / fk::ssd::kSumHeads);
        const int state_ctas = sh.heads * fk::ssd::state_blocks<128>();
        const double op_us = median_us(st, reps, [&] { CHECK(product::product_ssd_chunk_scan(&p, st)); });
        const double sums_us = median_us(st, reps, [&] { fk::ssd::chunk_sums_kernel<T, Work><<<sums_grid, fk::ssd::kSumThreads, 0, st>>>(p, ws); });
        CUtensorMap xmap, bmap, smap;
        if (!product::encode_state_maps<128>(&p, ws.states, slots, &xmap, &bmap, &smap)) return std::fprintf(stderr, "TMA maps\n"), 1;
        const double state_us = median_us(st, reps, [&] { state<<<state_ctas, fk::ssd::kStateSm90Threads, L::kAlloc, st>>>(p, ws, xmap, bmap, smap); });
        CHECK(cudaGetLastError());
        CHECK(cudaStreamSynchronize(st));
        double rs0 = -1, rf0 = -1, rs1 = -1, rf1 = -1;
        {
            CHECK(product::product_ssd_chunk_scan(&p, st));
            CHECK(cudaStreamSynchronize(st));
            check_head(p, ws, 0, rs0, rf0);
            check_head(p, ws, sh.heads - 1, rs1, rf1);
        }
        std::printf("{\"shape\": \"%s\", \"op_us\": %.2f, \"sums_us\": %.2f, \"state_us\": %.2f, "
                    "\"states_rel\": [%.3g, %.3g], \"final_rel\": [%.3g, %.3g]}\n",
                    sh.name, op_us, sums_us, state_us, rs0, rs1, rf0, rf1);
        std::fflush(stdout);
        for (void* q : {static_cast<void*>(xbc), static_cast<void*>(dt), static_cast<void*>(out), static_cast<void*>(A), static_cast<void*>(D),
                        static_cast<void*>(bias), static_cast<void*>(fin), static_cast<void*>(cu), p.workspace})
            CHECK(cudaFree(q));
    }
    return 0;
}
