// Run 107's variant of `scan_slab` in baselines/kernels/selective_scan.cu (not a standalone
// header: results/h200/run107-scan-stalls/command.sh splices it into a copy of that file in place
// of the product's state-pair loop). Measured: 652.5 us against the product's 660.5 us in the same
// process (1.2 %), both at ~5.2 stall cycles per issued instruction: not adopted.
// States [n0, n0 + ns) (ns even) of the lane's channel over the chunk, accumulated into y.
// bc: the lane's first B float4 of the slab's state n0 (C is SL rows further); a, carry: this
// channel's A*log2(e) and carries at n0.
// One state at a time, software-pipelined: the decays and inputs of state n + 1 (16 MUFU.EX2,
// 32 FMUL, 4 LDS) are issued in the same basic block as state n's recurrence (a 15-deep FMA
// chain, the 4-step shuffle scan, the 16-deep replay), so one state's exponentials fill the
// other's dependency latency instead of queueing on the MUFU in bursts.
struct StateTerms {
    float dA[kK], dB[kK];
};
__device__ __forceinline__ void state_terms(StateTerms& t, const float* b, float an, const float (&dt)[kK], const float (&du)[kK]) {
#pragma unroll
    for (int q = 0; q < kK / 4; ++q) {
        const float4 bv = *reinterpret_cast<const float4*>(b + 64 * q);
        const float bb[4] = {bv.x, bv.y, bv.z, bv.w};
#pragma unroll
        for (int e = 0; e < 4; ++e) {
            const int k = 4 * q + e;
            t.dA[k] = fk::ex2_ftz(dt[k] * an);  // a decay below 2^-126 is 0 for every purpose (ftz)
            t.dB[k] = bb[e] * du[k];
        }
    }
}
__device__ __forceinline__ void state_recur(const StateTerms& t, const float* c, float an, float* carry, bool first_lane, bool last_lane,
                                            float (&y)[kK], float S) {
    const float cin = *carry;
    // The lane's tokens as one map h -> P h + H.
    float H = t.dB[0];
#pragma unroll
    for (int k = 1; k < kK; ++k) H = fmaf(t.dA[k], H, t.dB[k]);
    float P = fk::ex2_ftz(an * S);
    // Lane 0 starts from the carry: the inclusive scan then gives absolute states.
    if (first_lane) H = fmaf(P, cin, H);
    static_assert(kLanes == 16, "4 scan steps");
    scan_step<1, true>(P, H);
    scan_step<2, true>(P, H);
    scan_step<4, true>(P, H);
    scan_step<8, false>(P, H);
    float h = shift_in(H, cin);
#pragma unroll
    for (int q = 0; q < kK / 4; ++q) {
        const float4 cv = *reinterpret_cast<const float4*>(c + 64 * q);
        const float cc[4] = {cv.x, cv.y, cv.z, cv.w};
#pragma unroll
        for (int e = 0; e < 4; ++e) {
            const int k = 4 * q + e;
            h = fmaf(t.dA[k], h, t.dB[k]);
            y[k] = fmaf(cc[e], h, y[k]);
        }
    }
    if (last_lane) *carry = h;
}
template <int SL>
__device__ __forceinline__ void scan_slab(const float* bc, const float* a, float* carry, int ns, bool first_lane, bool last_lane,
                                          const float (&dt)[kK], const float (&du)[kK], float (&y)[kK], float S) {
    StateTerms t0, t1;
    state_terms(t0, bc, a[0], dt, du);
    int sn = 0;
#pragma unroll 1
    for (; sn + 2 < ns; sn += 2) {
        state_terms(t1, bc + (sn + 1) * kPn, a[sn + 1], dt, du);
        state_recur(t0, bc + (SL + sn) * kPn, a[sn], carry + sn, first_lane, last_lane, y, S);
        state_terms(t0, bc + (sn + 2) * kPn, a[sn + 2], dt, du);
        state_recur(t1, bc + (SL + sn + 1) * kPn, a[sn + 1], carry + sn + 1, first_lane, last_lane, y, S);
    }
    state_terms(t1, bc + (sn + 1) * kPn, a[sn + 1], dt, du);
    state_recur(t0, bc + (SL + sn) * kPn, a[sn], carry + sn, first_lane, last_lane, y, S);
    state_recur(t1, bc + (SL + sn + 1) * kPn, a[sn + 1], carry + sn + 1, first_lane, last_lane, y, S);
}

