// A/B bench of Mamba-1 `selective_scan` kernels at mamba-2.8b's prefill shape, in one process.
//
// Compiles the product kernel (baselines/kernels/selective_scan.cu) and, with -DSCAN_VARIANT=
// "file", a variant of it into one program (each inside its own namespace, launchers under
// their own symbol), fills bf16 inputs shaped as MambaMixer feeds the scan (B and C strided row
// views of x_proj's [tokens, dt_rank + 2N] output, softplus with dt_proj's bias, A = -exp(A_log)
// around S4D-real's -(n + 1)), checks every kernel against a float64 CPU recurrence on a set
// of channels (all tokens, output and final state), then times them alternately: CUDA events,
// 3 warm-ups, median of `reps`, against the device-to-device copy rate measured in the same
// process (issue 7's bar: the scan's bytes at >= 50 % of it). One JSON object on stdout.
//
// Build on the device, from the repository root:
//   nvcc -O3 -std=c++17 --expt-relaxed-constexpr -gencode=arch=compute_90a,code=sm_90a \
//     -I baselines/include -DFK_SM90A=1 [-DSCAN_VARIANT='"experiments/ssm/x.cu"'] \
//     experiments/ssm/scan_bench.cu -o /tmp/scan_bench && /tmp/scan_bench [tokens] [reps]
#include <cuda_runtime.h>
#include <cuda_bf16.h>

// The kernels' headers at file scope first: their #pragma once keeps the kernel files'
// own includes from re-entering them inside the namespaces below.
#define FK_SYMBOL_PREFIX fk_bench_unused_
#include "fk/common.cuh"
#include "fk/ssm.cuh"
#include "fk/attention/sm80_mma.cuh"
#include "fk/attention/sm90_sync.cuh"
#include "fk/ops/selective_scan.h"
#undef FK_SYMBOL_PREFIX

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "bench_util.cuh"

namespace product {
#define FK_SYMBOL_PREFIX product_
#include "../../baselines/kernels/selective_scan.cu"
#undef FK_SYMBOL_PREFIX
}  // namespace product
#ifdef SCAN_VARIANT
namespace variant {
#define FK_SYMBOL_PREFIX variant_
#include SCAN_VARIANT
#undef FK_SYMBOL_PREFIX
}  // namespace variant
#endif


using Launcher = cudaError_t (*)(const fk_selective_scan_params*, cudaStream_t);

constexpr int kDim = 5120, kN = 16, kDtRank = 160, kXp = kDtRank + 2 * kN;

__global__ void poison(__nv_bfloat16* p, int64_t n) {
    for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n; i += static_cast<int64_t>(gridDim.x) * blockDim.x)
        p[i] = __float2bfloat16_rn(NAN);
}

static float bf(const __nv_bfloat16& v) { return __bfloat162float(v); }

struct Inputs {
    int64_t L;
    __nv_bfloat16 *u, *delta, *z, *xp, *out;
    float *A, *D, *bias, *state;
    int32_t* cu;
    std::vector<float> hA, hD, hbias;
};

static fk_selective_scan_params params(const Inputs& in) {
    fk_selective_scan_params p{};
    p.out = in.out;
    p.u = in.u;
    p.delta = in.delta;
    p.A = in.A;
    p.B = in.xp + kDtRank;
    p.C = in.xp + kDtRank + kN;
    p.D = in.D;
    p.z = in.z;
    p.delta_bias = in.bias;
    p.cu_seqlens = in.cu;
    p.initial_state = nullptr;
    p.final_state = in.state;
    p.tokens = in.L;
    p.dim = kDim;
    p.u_stride = p.delta_stride = p.z_stride = p.out_stride = kDim;
    p.b_stride = p.c_stride = kXp;
    p.batch = 1;
    p.d_state = kN;
    p.delta_softplus = 1;
    p.dtype = FK_DTYPE_BF16;
    return p;
}

// float64 recurrence over all tokens for the checked channels; returns the worst relative L2
// (output, state) and max-abs of the output over them.
struct Check {
    double out_rel = 0, out_max_abs = 0, state_rel = 0;
    bool nan = false;
};
static Check check(const Inputs& in, cudaStream_t st, Launcher f) {
    const int64_t L = in.L;
    const int64_t nel = L * kDim;
    poison<<<1024, 256, 0, st>>>(in.out, nel);
    CHECK(cudaMemsetAsync(in.state, 0xff, sizeof(float) * kDim * kN, st));
    const fk_selective_scan_params p = params(in);
    CHECK(f(&p, st));
    CHECK(cudaStreamSynchronize(st));
    std::vector<__nv_bfloat16> u(nel), dl(nel), z(nel), out(nel), xp(L * kXp);
    std::vector<float> state(kDim * kN);
    CHECK(cudaMemcpy(u.data(), in.u, nel * 2, cudaMemcpyDeviceToHost));
    CHECK(cudaMemcpy(dl.data(), in.delta, nel * 2, cudaMemcpyDeviceToHost));
    CHECK(cudaMemcpy(z.data(), in.z, nel * 2, cudaMemcpyDeviceToHost));
    CHECK(cudaMemcpy(out.data(), in.out, nel * 2, cudaMemcpyDeviceToHost));
    CHECK(cudaMemcpy(xp.data(), in.xp, L * kXp * 2, cudaMemcpyDeviceToHost));
    CHECK(cudaMemcpy(state.data(), in.state, sizeof(float) * kDim * kN, cudaMemcpyDeviceToHost));
    Check c;
    for (int64_t i = 0; i < nel; ++i)
        if (std::isnan(bf(out[i]))) { c.nan = true; break; }
    const int chans[] = {0, 1, 2, 7, 8, 9, 1000, 2559, 2560, 4095, 5111, 5118, 5119};
    double num = 0, den = 0, snum = 0, sden = 0;
    for (int d : chans) {
        double h[kN] = {};
        for (int64_t t = 0; t < L; ++t) {
            double dt = bf(dl[t * kDim + d]) + in.hbias[d];
            dt = dt > 20 ? dt : std::log1p(std::exp(dt));
            const double uv = bf(u[t * kDim + d]);
            double y = in.hD[d] * uv;
            for (int n = 0; n < kN; ++n) {
                h[n] = std::exp(dt * in.hA[d * kN + n]) * h[n] + dt * bf(xp[t * kXp + kDtRank + n]) * uv;
                y += bf(xp[t * kXp + kDtRank + kN + n]) * h[n];
            }
            const double zv = bf(z[t * kDim + d]);
            y *= zv / (1 + std::exp(-zv));
            const double o = bf(out[t * kDim + d]);
            num += (o - y) * (o - y);
            den += y * y;
            c.out_max_abs = std::max(c.out_max_abs, std::fabs(o - y));
        }
        for (int n = 0; n < kN; ++n) {
            const double s = state[d * kN + n];
            snum += (s - h[n]) * (s - h[n]);
            sden += h[n] * h[n];
        }
    }
    c.out_rel = std::sqrt(num / den);
    c.state_rel = std::sqrt(snum / sden);
    if (std::isnan(c.out_rel) || std::isnan(c.state_rel)) c.nan = true;
    return c;
}

int main(int argc, char** argv) {
    const int64_t L = argc > 1 ? std::atoll(argv[1]) : 8192;
    const int reps = argc > 2 ? std::atoi(argv[2]) : 30;
    cudaStream_t st;
    CHECK(cudaStreamCreateWithFlags(&st, cudaStreamNonBlocking));
    Inputs in;
    in.L = L;
    const int64_t nel = L * kDim;
    CHECK(cudaMalloc(&in.u, nel * 2));
    CHECK(cudaMalloc(&in.delta, nel * 2));
    CHECK(cudaMalloc(&in.z, nel * 2));
    CHECK(cudaMalloc(&in.out, nel * 2));
    CHECK(cudaMalloc(&in.xp, L * kXp * 2));
    CHECK(cudaMalloc(&in.A, sizeof(float) * kDim * kN));
    CHECK(cudaMalloc(&in.D, sizeof(float) * kDim));
    CHECK(cudaMalloc(&in.bias, sizeof(float) * kDim));
    CHECK(cudaMalloc(&in.state, sizeof(float) * kDim * kN));
    CHECK(cudaMalloc(&in.cu, sizeof(int32_t) * 2));
    fill_bf16<<<1024, 256, 0, st>>>(in.u, nel, 1, -1.f, 1.f);
    fill_bf16<<<1024, 256, 0, st>>>(in.delta, nel, 2, -0.5f, 0.5f);
    fill_bf16<<<1024, 256, 0, st>>>(in.z, nel, 3, -2.f, 2.f);
    fill_bf16<<<1024, 256, 0, st>>>(in.xp, L * kXp, 4, -1.f, 1.f);
    in.hA.resize(kDim * kN);
    in.hD.resize(kDim);
    in.hbias.resize(kDim);
    for (int d = 0; d < kDim; ++d) {
        // dt_proj.bias = softplus^-1(dt), dt log-uniform in [1e-3, 1e-1] (Mamba's init).
        const double dt = std::exp(std::log(1e-3) + (std::log(1e-1) - std::log(1e-3)) * hash_uniform(d, 5, 0.f, 1.f));
        in.hbias[d] = static_cast<float>(dt + std::log(-std::expm1(-dt)));
        in.hD[d] = hash_uniform(d, 6, 0.5f, 1.5f);
        for (int n = 0; n < kN; ++n) in.hA[d * kN + n] = -(n + 1) * hash_uniform(d * kN + n, 7, 0.5f, 1.5f);
    }
    const int32_t hcu[2] = {0, static_cast<int32_t>(L)};
    CHECK(cudaMemcpy(in.A, in.hA.data(), sizeof(float) * kDim * kN, cudaMemcpyHostToDevice));
    CHECK(cudaMemcpy(in.D, in.hD.data(), sizeof(float) * kDim, cudaMemcpyHostToDevice));
    CHECK(cudaMemcpy(in.bias, in.hbias.data(), sizeof(float) * kDim, cudaMemcpyHostToDevice));
    CHECK(cudaMemcpy(in.cu, hcu, sizeof(hcu), cudaMemcpyHostToDevice));

    std::vector<std::pair<std::string, Launcher>> ks = {{"product", product::product_selective_scan}};
#ifdef SCAN_VARIANT
    ks.push_back({"variant", variant::variant_selective_scan});
#endif
    std::printf("{\"tokens\": %lld, \"dim\": %d, \"d_state\": %d, \"reps\": %d", static_cast<long long>(L), kDim, kN, reps);
    for (auto& k : ks) {
        const Check c = check(in, st, k.second);
        std::printf(", \"%s_check\": {\"out_rel_l2\": %.3e, \"out_max_abs\": %.3e, \"state_rel_l2\": %.3e, \"nan\": %s}", k.first.c_str(), c.out_rel,
                    c.out_max_abs, c.state_rel, c.nan ? "true" : "false");
    }
    // Copy rate: 1 GiB device to device, median of 11.
    {
        std::printf(", \"copy_GBps\": %.1f", copy_rate_gbps(st, size_t(1) << 30, 14, 3));
    }
    // Alternate the kernels rep by rep so clocks and neighbours treat them alike.
    const fk_selective_scan_params p = params(in);
    cudaEvent_t e0, e1;
    CHECK(cudaEventCreate(&e0));
    CHECK(cudaEventCreate(&e1));
    std::vector<std::vector<float>> ms(ks.size());
    for (int r = 0; r < reps + 3; ++r)
        for (size_t k = 0; k < ks.size(); ++k) {
            CHECK(cudaEventRecord(e0, st));
            CHECK(ks[k].second(&p, st));
            CHECK(cudaEventRecord(e1, st));
            CHECK(cudaEventSynchronize(e1));
            float m;
            CHECK(cudaEventElapsedTime(&m, e0, e1));
            if (r >= 3) ms[k].push_back(m);
        }
    const double bytes = 4.0 * nel * 2 + 2.0 * L * kN * 2 + 4.0 * kDim * (kN + 2) + 4.0 * kDim * kN;
    std::printf(", \"bytes\": %.0f", bytes);
    for (size_t k = 0; k < ks.size(); ++k) {
        std::sort(ms[k].begin(), ms[k].end());
        const double med = ms[k][ms[k].size() / 2] * 1e3;
        std::printf(", \"%s_us\": {\"median\": %.2f, \"min\": %.2f, \"max\": %.2f, \"GBps\": %.1f}", ks[k].first.c_str(), med, ms[k].front() * 1e3,
                    ms[k].back() * 1e3, bytes / (med * 1e-6) / 1e9);
    }
    std::printf("}\n");
    return 0;
}
