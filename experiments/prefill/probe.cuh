// wgmma building-block probe (sm_90a), included by harness.cu after the kernel sources.
// One CTA of 2 warpgroups reproduces the prefill kernel's operand geometry at head_dim 128:
//   S[128 x 128] = Q[128 x 128] K[128 x 128]^T   (ss128, K-major SW128 tiles, 8 k-steps)
//   O[128 x 128] = P[128 x 128] V[128 x 128]     (rs128, P in registers, V MN-major SW128)
// and runs the P V product with a few (LBO, SBO) choices so a wrong guess is visible.
#pragma once

#if FK_SM90A
namespace probe {
using namespace fk::attn;

__global__ void __launch_bounds__(256) probe_kernel(const __nv_bfloat16* q, const __nv_bfloat16* k, const __nv_bfloat16* pm,
                                                    const __nv_bfloat16* v, float* s_out, float* o_out, uint32_t lbo,
                                                    uint32_t sbo) {
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
    extern __shared__ uint8_t raw[];
    const uint32_t base = (smem_addr(raw) + 1023u) & ~1023u;
    const uint32_t sq = base, sk = sq + 128 * 256, sv = sk + 128 * 256;
    uint8_t* gbase = raw + (base - smem_addr(raw));
    const int tid = threadIdx.x;
    for (int i = tid; i < 128 * 16; i += 256) {
        const int r = i / 16, c = i % 16;
        *reinterpret_cast<uint4*>(gbase + (sq - base) + sw128_offset<128>(r, c)) = *reinterpret_cast<const uint4*>(q + r * 128 + c * 8);
        *reinterpret_cast<uint4*>(gbase + (sk - base) + sw128_offset<128>(r, c)) = *reinterpret_cast<const uint4*>(k + r * 128 + c * 8);
        *reinterpret_cast<uint4*>(gbase + (sv - base) + sw128_offset<128>(r, c)) = *reinterpret_cast<const uint4*>(v + r * 128 + c * 8);
    }
    fence_proxy_async();
    __syncthreads();
    const int w = tid / 128, t = tid % 128, warp = t / 32, lane = t % 32, g = lane / 4, c4 = lane % 4;
    float sacc[64], o[64];
    for (int i = 0; i < 64; ++i) sacc[i] = o[i] = 0.f;
    const uint64_t qdesc = sw128_desc(sq + w * 64 * 128, 16, 1024), kdesc = sw128_desc(sk, 16, 1024);
    reg_fence(sacc);
    wgmma_fence();
#pragma unroll
    for (int kk = 0; kk < 8; ++kk) {
        const uint32_t qoff = (kk / 4) * (128 * 128) + (kk % 4) * 32, koff = (kk / 4) * (128 * 128) + (kk % 4) * 32;
        WgmmaOps<__nv_bfloat16>::ss128(sacc, qdesc + (qoff >> 4), kdesc + (koff >> 4), kk > 0);
    }
    wgmma_commit();
    wgmma_wait<0>();
    reg_fence(sacc);
    const int row = w * 64 + warp * 16 + g;
    for (int nb = 0; nb < 16; ++nb)
        for (int e = 0; e < 4; ++e) s_out[(row + 8 * (e >> 1)) * 128 + nb * 8 + 2 * c4 + (e & 1)] = sacc[4 * nb + e];
    uint32_t pf[8][4];
    auto ld2 = [&](int r, int col) {
        __nv_bfloat162 x;
        x.x = pm[r * 128 + col];
        x.y = pm[r * 128 + col + 1];
        return *reinterpret_cast<uint32_t*>(&x);
    };
    for (int kk = 0; kk < 8; ++kk) {
        pf[kk][0] = ld2(row, 16 * kk + 2 * c4);
        pf[kk][1] = ld2(row + 8, 16 * kk + 2 * c4);
        pf[kk][2] = ld2(row, 16 * kk + 8 + 2 * c4);
        pf[kk][3] = ld2(row + 8, 16 * kk + 8 + 2 * c4);
    }
    const uint64_t vdesc = sw128_desc(sv, lbo, sbo);
    reg_fence(o);
    reg_fence(pf);
    wgmma_fence();
#pragma unroll
    for (int kk = 0; kk < 8; ++kk) WgmmaOps<__nv_bfloat16>::rs128(o, pf[kk], vdesc + ((kk * 2048) >> 4), 1);
    wgmma_commit();
    wgmma_wait<0>();
    reg_fence(o);
    reg_fence(pf);
    for (int nb = 0; nb < 16; ++nb)
        for (int e = 0; e < 4; ++e) o_out[(row + 8 * (e >> 1)) * 128 + nb * 8 + 2 * c4 + (e & 1)] = o[4 * nb + e];
#endif
}
}  // namespace probe

void run_probe() {
    const int n = 128 * 128;
    std::vector<__nv_bfloat16> hq(n), hk(n), hp(n), hv(n);
    std::vector<float> fq(n), fk_(n), fp(n), fv(n);
    srand(3);
    auto rnd = [] { return (rand() / (float)RAND_MAX - 0.5f) * 2.f; };
    for (int i = 0; i < n; ++i) {
        hq[i] = __float2bfloat16(rnd()); fq[i] = __bfloat162float(hq[i]);
        hk[i] = __float2bfloat16(rnd()); fk_[i] = __bfloat162float(hk[i]);
        hp[i] = __float2bfloat16(rnd()); fp[i] = __bfloat162float(hp[i]);
        hv[i] = __float2bfloat16(rnd()); fv[i] = __bfloat162float(hv[i]);
    }
    __nv_bfloat16 *dq, *dk, *dp, *dv;
    float *ds, *dout;
    CK(cudaMalloc(&dq, n * 2)); CK(cudaMalloc(&dk, n * 2)); CK(cudaMalloc(&dp, n * 2)); CK(cudaMalloc(&dv, n * 2));
    CK(cudaMalloc(&ds, n * 4)); CK(cudaMalloc(&dout, n * 4));
    CK(cudaMemcpy(dq, hq.data(), n * 2, cudaMemcpyHostToDevice)); CK(cudaMemcpy(dk, hk.data(), n * 2, cudaMemcpyHostToDevice));
    CK(cudaMemcpy(dp, hp.data(), n * 2, cudaMemcpyHostToDevice)); CK(cudaMemcpy(dv, hv.data(), n * 2, cudaMemcpyHostToDevice));
    std::vector<double> sref(n, 0), oref(n, 0);
    for (int i = 0; i < 128; ++i)
        for (int j = 0; j < 128; ++j) {
            double a = 0, b = 0;
            for (int x = 0; x < 128; ++x) { a += (double)fq[i * 128 + x] * fk_[j * 128 + x]; b += (double)fp[i * 128 + x] * fv[x * 128 + j]; }
            sref[i * 128 + j] = a; oref[i * 128 + j] = b;
        }
    const int smem = 1024 + 3 * 128 * 256;
    CK(cudaFuncSetAttribute(probe::probe_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, smem));
    const uint32_t variants[][2] = {{16384, 1024}, {1024, 16384}, {16, 1024}};
    for (auto& lv : variants) {
        CK(cudaMemset(ds, 0xff, n * 4)); CK(cudaMemset(dout, 0xff, n * 4));
        probe::probe_kernel<<<1, 256, smem>>>(dq, dk, dp, dv, ds, dout, lv[0], lv[1]);
        CK(cudaGetLastError());
        CK(cudaDeviceSynchronize());
        std::vector<float> hs(n), ho(n);
        CK(cudaMemcpy(hs.data(), ds, n * 4, cudaMemcpyDeviceToHost)); CK(cudaMemcpy(ho.data(), dout, n * 4, cudaMemcpyDeviceToHost));
        double es = 0, eo = 0;
        for (int i = 0; i < n; ++i) {
            es = std::max(es, std::isfinite(hs[i]) ? std::fabs(hs[i] - sref[i]) : 1e30);
            eo = std::max(eo, std::isfinite(ho[i]) ? std::fabs(ho[i] - oref[i]) : 1e30);
        }
        printf("probe: QK^T ss128 max err %.3e | PV rs128 (lbo %u, sbo %u) max err %.3e  %s\n", es, lv[0], lv[1], eo,
               (es < 1e-2 && eo < 1e-2) ? "OK" : "MISMATCH");
    }
    cudaFree(dq); cudaFree(dk); cudaFree(dp); cudaFree(dv); cudaFree(ds); cudaFree(dout);
}
#else
void run_probe() { printf("probe: not an sm_90a build\n"); }
#endif
