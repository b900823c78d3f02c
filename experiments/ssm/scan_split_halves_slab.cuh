// Run 109's variant of `scan_slab` in baselines/kernels/selective_scan.cu (not a standalone
// header: results/h200/run109-scan-split-halves/command.sh splices it into a copy of that file in
// place of the product's state-pair loop).
// States [n0, n0 + ns) (ns even) of the lane's channel over the chunk, accumulated into y.
// Same as the product's loop except that a lane's 16 tokens are two halves of 8 with chains of
// their own: the local map is H = P_hi H_lo + H_hi (P_hi = 2^(a S_hi)), and the replay starts the
// second half from P_lo h + H_lo, so the 15- and 16-deep FMA chains become 7- and 8-deep ones,
// four independent chains per state pair instead of two. Costs per state and lane: one more
// MUFU.EX2 (P_lo and P_hi; P = P_lo P_hi), an FMUL and two FFMA (~0.25 per element).
template <int SL>
__device__ __forceinline__ void scan_slab(const float* bc, const float* a, float* carry, int ns, bool first_lane, bool last_lane,
                                          const float (&dt)[kK], const float (&du)[kK], float (&y)[kK], float S) {
    constexpr int kH = kK / 2;
    float Slo = 0.f;
#pragma unroll
    for (int k = 0; k < kH; ++k) Slo += dt[k];
    const float Shi = S - Slo;
#pragma unroll 1
    for (int sn = 0; sn < ns; sn += 2, bc += 2 * kPn, a += 2, carry += 2) {
        const float2 an = *reinterpret_cast<const float2*>(a);
        const float2 cin = *reinterpret_cast<const float2*>(carry);
        float dA0[kK], dB0[kK], dA1[kK], dB1[kK];
#pragma unroll
        for (int q = 0; q < kK / 4; ++q) {
            const float4 b0 = *reinterpret_cast<const float4*>(bc + 64 * q);
            const float4 b1 = *reinterpret_cast<const float4*>(bc + kPn + 64 * q);
            const float bb0[4] = {b0.x, b0.y, b0.z, b0.w}, bb1[4] = {b1.x, b1.y, b1.z, b1.w};
#pragma unroll
            for (int e = 0; e < 4; ++e) {
                const int k = 4 * q + e;
                dA0[k] = fk::ex2_ftz(dt[k] * an.x);
                dA1[k] = fk::ex2_ftz(dt[k] * an.y);
                dB0[k] = bb0[e] * du[k];
                dB1[k] = bb1[e] * du[k];
            }
        }
        // Each half's tokens as a map h -> P h + H, then the lane's: (P_lo P_hi, P_hi H_lo + H_hi).
        float L0 = dB0[0], L1 = dB1[0], U0 = dB0[kH], U1 = dB1[kH];
#pragma unroll
        for (int k = 1; k < kH; ++k) {
            L0 = fmaf(dA0[k], L0, dB0[k]);
            L1 = fmaf(dA1[k], L1, dB1[k]);
            U0 = fmaf(dA0[kH + k], U0, dB0[kH + k]);
            U1 = fmaf(dA1[kH + k], U1, dB1[kH + k]);
        }
        const float Plo0 = fk::ex2_ftz(an.x * Slo), Plo1 = fk::ex2_ftz(an.y * Slo);
        const float Phi0 = fk::ex2_ftz(an.x * Shi), Phi1 = fk::ex2_ftz(an.y * Shi);
        float H0 = fmaf(Phi0, L0, U0), H1 = fmaf(Phi1, L1, U1);
        float P0 = Plo0 * Phi0, P1 = Plo1 * Phi1;
        if (first_lane) {
            H0 = fmaf(P0, cin.x, H0);
            H1 = fmaf(P1, cin.y, H1);
        }
        static_assert(kLanes == 16, "4 scan steps");
        scan_step<1, true>(P0, H0);
        scan_step<1, true>(P1, H1);
        scan_step<2, true>(P0, H0);
        scan_step<2, true>(P1, H1);
        scan_step<4, true>(P0, H0);
        scan_step<4, true>(P1, H1);
        scan_step<8, false>(P0, H0);
        scan_step<8, false>(P1, H1);
        float h0 = shift_in(H0, cin.x), h1 = shift_in(H1, cin.y);
        // The state entering the second half, then both halves replayed side by side.
        float m0 = fmaf(Plo0, h0, L0), m1 = fmaf(Plo1, h1, L1);
        const float* cp = bc + SL * kPn;
#pragma unroll
        for (int q = 0; q < kH / 4; ++q) {
            const float4 c0 = *reinterpret_cast<const float4*>(cp + 64 * q);
            const float4 c1 = *reinterpret_cast<const float4*>(cp + kPn + 64 * q);
            const float4 c2 = *reinterpret_cast<const float4*>(cp + 64 * (q + kH / 4));
            const float4 c3 = *reinterpret_cast<const float4*>(cp + kPn + 64 * (q + kH / 4));
            const float cc0[4] = {c0.x, c0.y, c0.z, c0.w}, cc1[4] = {c1.x, c1.y, c1.z, c1.w};
            const float cc2[4] = {c2.x, c2.y, c2.z, c2.w}, cc3[4] = {c3.x, c3.y, c3.z, c3.w};
#pragma unroll
            for (int e = 0; e < 4; ++e) {
                const int k = 4 * q + e, j = kH + k;
                h0 = fmaf(dA0[k], h0, dB0[k]);
                h1 = fmaf(dA1[k], h1, dB1[k]);
                m0 = fmaf(dA0[j], m0, dB0[j]);
                m1 = fmaf(dA1[j], m1, dB1[j]);
                y[k] = fmaf(cc0[e], h0, y[k]);
                y[k] = fmaf(cc1[e], h1, y[k]);
                y[j] = fmaf(cc2[e], m0, y[j]);
                y[j] = fmaf(cc3[e], m1, y[j]);
            }
        }
        if (last_lane) *reinterpret_cast<float2*>(carry) = make_float2(m0, m1);
    }
}

