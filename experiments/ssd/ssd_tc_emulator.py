#!/usr/bin/env python3
"""Lane-level emulation of `tc_kernel` in baselines/kernels/ssd_chunk_scan.cu (no GPU).

The kernel's risk is its fragment bookkeeping: which lane loads which shared-memory row for
each ldmatrix, and how mma.m16n8k16 fragments map to matrix elements. This script replays
the kernel's address arithmetic and fragment use lane by lane, with ldmatrix / mma emulated
from the PTX ISA's layouts, operands rounded to bf16 where the kernel packs them, and
compares the result with the plain recurrence (float64). A wrong address or fragment index
shows up as an O(1) error; a correct transliteration as bf16-sized error (~1e-3 relative).

It checks the emulated algorithm, not the compiled kernel: keep it in step with the .cu.
Usage: python3 experiments/ssd/ssd_tc_emulator.py   (needs numpy)
Run 2026-12-01 (commit of this file): y and final state within 1.2e-3..2.1e-3 rel-L2 of the
recurrence on all slices; moving one ldmatrix lane address makes it fail (checked).
"""
import numpy as np

KQ, KPT, WARPS = 64, 32, 4
LOG2E = 1.4426950408889634


def bf16(x):
    """Round to the nearest bf16 (ties to even), returned as float32."""
    a = np.asarray(x, dtype=np.float32)
    b = a.view(np.uint32).astype(np.uint64)
    b = ((b + 0x7FFF + ((b >> 16) & 1)) >> 16) << 16
    return (b & 0xFFFFFFFF).astype(np.uint32).view(np.float32)


def softplus(v):
    return v if v > 20 else float(np.log1p(np.exp(v)))


# ---- warp primitives (PTX ISA layouts; lane t = 4*g + c) --------------------------------
def ldmatrix_x4(tile, addr, trans=False):
    """tile: flat array of shared memory (elements); addr[l]: element offset lane l gives
    (row l%8 of matrix l//8). Returns regs[q][t] = (lo, hi)."""
    regs = [[None] * 32 for _ in range(4)]
    for q in range(4):
        m = np.array([tile[addr[q * 8 + r]: addr[q * 8 + r] + 8] for r in range(8)])
        for t in range(32):
            if trans:
                regs[q][t] = (m[2 * (t % 4)][t // 4], m[2 * (t % 4) + 1][t // 4])
            else:
                regs[q][t] = (m[t // 4][2 * (t % 4)], m[t // 4][2 * (t % 4) + 1])
    return regs


def mma(cfrag, a, b0, b1):
    """cfrag[t][0..3] += (A @ B) fragments; a[q][t], b0[t], b1[t] pairs."""
    A = np.zeros((16, 16))
    B = np.zeros((16, 8))
    for t in range(32):
        g, c = t // 4, t % 4
        A[g, 2 * c:2 * c + 2] = a[0][t]
        A[g + 8, 2 * c:2 * c + 2] = a[1][t]
        A[g, 8 + 2 * c:10 + 2 * c] = a[2][t]
        A[g + 8, 8 + 2 * c:10 + 2 * c] = a[3][t]
        B[2 * c:2 * c + 2, g] = b0[t]
        B[8 + 2 * c:10 + 2 * c, g] = b1[t]
    D = A @ B
    for t in range(32):
        g, c = t // 4, t % 4
        cfrag[t][0] += D[g, 2 * c]
        cfrag[t][1] += D[g, 2 * c + 1]
        cfrag[t][2] += D[g + 8, 2 * c]
        cfrag[t][3] += D[g + 8, 2 * c + 1]


def zeros_frag():
    return [[0.0] * 4 for _ in range(32)]


def pack(lo, hi):
    return (float(bf16(lo)), float(bf16(hi)))


def state_coords(kmt, knwt, knw):
    """(warp, lane, mt, nt, i, p, n) of every state element a CTA's threads hold."""
    for w in range(WARPS):
        for l in range(32):
            g, c4 = l // 4, l % 4
            for mt in range(kmt):
                for nt in range(knwt):
                    for i in range(4):
                        yield w, l, mt, nt, i, mt * 16 + g + 8 * (i // 2), w * knw + nt * 8 + 2 * c4 + i % 2


# ---- the kernel, one CTA (one 32-channel slice of one head, one sequence) ---------------
def tc_cta(x, dt, B, C, A, Dh, dtb, P, N, NT, init, softplus_on=True, dt_lim=(0.0, np.inf)):
    """x [L, P] (this slice's channels), dt [L], B/C [L, N]; returns y [L, P], S [P, N]."""
    PT = KPT
    XP, BP = PT + 8, NT + 8
    KMT, KNW = PT // 16, NT // WARPS
    KNWT = KNW // 8
    L = x.shape[0]
    a2 = A * LOG2E
    # S[warp][lane][mt][nt][i]
    S = np.zeros((WARPS, 32, KMT, KNWT, 4))
    for w, l, mt, nt, i, pp, n in state_coords(KMT, KNWT, KNW):
        S[w, l, mt, nt, i] = init[pp, n] if pp < P and n < N else 0.0
    y = np.full((L, P), np.nan)
    for t0 in range(0, L, KQ):
        rows = min(KQ, L - t0)
        sx = np.zeros(KQ * XP, np.float32)
        sb = np.zeros(KQ * BP, np.float32)
        sc = np.zeros(KQ * BP, np.float32)
        sdt = np.zeros(KQ)
        for r in range(rows):
            sx[r * XP: r * XP + P] = x[t0 + r]
            sb[r * BP: r * BP + N] = B[t0 + r]
            sc[r * BP: r * BP + N] = C[t0 + r]
            sdt[r] = dt[t0 + r]
        # (A)
        cum = np.zeros(KQ)
        dte = np.zeros(KQ)
        run = 0.0
        for r in range(KQ):
            d = 0.0
            if r < rows:
                v = sdt[r] + dtb
                d = min(max(softplus(v) if softplus_on else v, dt_lim[0]), dt_lim[1])
            run += d * a2
            cum[r], dte[r] = run, d
        # (B)
        last = cum[KQ - 1]
        sbw = np.zeros(KQ * BP, np.float32)
        for r in range(KQ):
            w_ = 2.0 ** (last - cum[r]) * dte[r]
            sbw[r * BP: r * BP + NT] = bf16(w_ * sb[r * BP: r * BP + NT])
        ss = np.zeros(PT * BP, np.float32)
        for w in range(WARPS):
            for l in range(32):
                g, c4 = l // 4, l % 4
                for mt in range(KMT):
                    for nt in range(KNWT):
                        for hi in range(2):
                            pp, n = mt * 16 + g + 8 * hi, w * KNW + nt * 8 + 2 * c4
                            ss[pp * BP + n: pp * BP + n + 2] = pack(S[w, l, mt, nt, 2 * hi], S[w, l, mt, nt, 2 * hi + 1])
        # (C) and (D) per warp
        for w in range(WARPS):
            i0 = w * 16
            Y = [zeros_frag() for _ in range(PT // 8)]
            G = [zeros_frag() for _ in range(KQ // 8)]
            for kk in range(NT // 16):
                a = ldmatrix_x4(sc, [(i0 + l % 16) * BP + kk * 16 + (l // 16) * 8 for l in range(32)])
                for np_ in range(0, PT // 8, 2):
                    b = ldmatrix_x4(ss, [(np_ * 8 + (l // 16) * 8 + l % 8) * BP + kk * 16 + ((l // 8) % 2) * 8 for l in range(32)])
                    mma(Y[np_], a, b[0], b[1])
                    mma(Y[np_ + 1], a, b[2], b[3])
                for jp in range(KQ // 16):
                    if jp > w:
                        continue
                    b = ldmatrix_x4(sb, [(jp * 16 + (l // 16) * 8 + l % 8) * BP + kk * 16 + ((l // 8) % 2) * 8 for l in range(32)])
                    mma(G[2 * jp], a, b[0], b[1])
                    mma(G[2 * jp + 1], a, b[2], b[3])
            for l in range(32):
                g, c4 = l // 4, l % 4
                cum_lo, cum_hi = cum[i0 + g], cum[i0 + g + 8]
                for np_ in range(PT // 8):
                    Y[np_][l][0] *= 2.0 ** cum_lo
                    Y[np_][l][1] *= 2.0 ** cum_lo
                    Y[np_][l][2] *= 2.0 ** cum_hi
                    Y[np_][l][3] *= 2.0 ** cum_hi
                for jt in range(KQ // 8):
                    if jt // 2 > w:
                        continue
                    for e in range(4):
                        i, j = i0 + g + 8 * (e // 2), jt * 8 + 2 * c4 + e % 2
                        ci = cum_lo if e < 2 else cum_hi
                        G[jt][l][e] = G[jt][l][e] * 2.0 ** (ci - cum[j]) * dte[j] if j <= i else 0.0
            for kk in range(KQ // 16):
                if kk > w:
                    continue
                a = [[None] * 32 for _ in range(4)]
                for l in range(32):
                    a[0][l] = pack(G[2 * kk][l][0], G[2 * kk][l][1])
                    a[1][l] = pack(G[2 * kk][l][2], G[2 * kk][l][3])
                    a[2][l] = pack(G[2 * kk + 1][l][0], G[2 * kk + 1][l][1])
                    a[3][l] = pack(G[2 * kk + 1][l][2], G[2 * kk + 1][l][3])
                for np_ in range(0, PT // 8, 2):
                    b = ldmatrix_x4(sx, [(kk * 16 + ((l // 8) % 2) * 8 + l % 8) * XP + np_ * 8 + (l // 16) * 8 for l in range(32)], trans=True)
                    mma(Y[np_], a, b[0], b[1])
                    mma(Y[np_ + 1], a, b[2], b[3])
            for l in range(32):
                g, c4 = l // 4, l % 4
                for np_ in range(PT // 8):
                    for hi in range(2):
                        i, pp = i0 + g + 8 * hi, np_ * 8 + 2 * c4
                        if i >= rows or pp >= P:
                            continue
                        y[t0 + i, pp] = Y[np_][l][2 * hi] + Dh * sx[i * XP + pp]
                        if pp + 1 < P:
                            y[t0 + i, pp + 1] = Y[np_][l][2 * hi + 1] + Dh * sx[i * XP + pp + 1]
        # (D) every warp, after (C) read the snapshot
        decay = 2.0 ** last
        for w in range(WARPS):
            S[w] *= decay
            for kk in range(KQ // 16):
                if kk * 16 >= rows:
                    break
                bw = [[None, None] for _ in range(KNWT)]
                for nt in range(0, KNWT, 2):
                    b = ldmatrix_x4(sbw, [(kk * 16 + ((l // 8) % 2) * 8 + l % 8) * BP + w * KNW + nt * 8 + (l // 16) * 8 for l in range(32)], trans=True)
                    bw[nt] = [b[0], b[1]]
                    bw[nt + 1] = [b[2], b[3]]
                for mt in range(KMT):
                    a = ldmatrix_x4(sx, [(kk * 16 + (l // 16) * 8 + l % 8) * XP + mt * 16 + ((l // 8) % 2) * 8 for l in range(32)], trans=True)
                    for nt in range(KNWT):
                        frag = [list(S[w, l, mt, nt]) for l in range(32)]
                        mma(frag, a, bw[nt][0], bw[nt][1])
                        for l in range(32):
                            S[w, l, mt, nt] = frag[l]
    fin = np.full((P, N), np.nan)
    for w, l, mt, nt, i, pp, n in state_coords(KMT, KNWT, KNW):
        if pp < P and n < N:
            fin[pp, n] = S[w, l, mt, nt, i]
    return y, fin


def recurrence(x, dt, B, C, A, Dh, dtb, init, softplus_on=True, dt_lim=(0.0, np.inf)):
    L, P = x.shape
    S = init.astype(np.float64).copy()
    y = np.zeros((L, P))
    for t in range(L):
        v = dt[t] + dtb
        d = min(max(softplus(v) if softplus_on else v, dt_lim[0]), dt_lim[1])
        S = np.exp(d * A) * S + d * np.outer(x[t], B[t])
        y[t] = S @ C[t] + Dh * x[t]
    return y, S


def rel_l2(a, b):
    return float(np.linalg.norm(a - b) / np.linalg.norm(b))


def main():
    rng = np.random.default_rng(0)
    # (L, head_dim, d_state, NT): head_dim 64 = two slices, partial chunks, padding of
    # channels (20 of 32) and states (40 of 64).
    for L, P_total, N, NT in [(130, 64, 128, 128), (70, 20, 40, 64), (1, 32, 64, 64)]:
        x = bf16(rng.normal(size=(L, P_total)))
        B = bf16(rng.normal(size=(L, N)))
        C = bf16(rng.normal(size=(L, N)))
        dt = bf16(rng.normal(0, 0.5, size=L))
        A, Dh, dtb = -3.7, 0.8, -2.5
        init = rng.normal(size=(P_total, N))
        lim = (0.05, 0.3) if P_total == 20 else (0.0, np.inf)
        want_y, want_s = recurrence(x, dt, B, C, A, Dh, dtb, init, dt_lim=lim)
        for pc in range(0, P_total, KPT):
            P = min(KPT, P_total - pc)
            y, s = tc_cta(x[:, pc:pc + P], dt, B, C, A, Dh, dtb, P, N, NT, init[pc:pc + P], dt_lim=lim)
            ey, es = rel_l2(y, want_y[:, pc:pc + P]), rel_l2(s, want_s[pc:pc + P])
            ok = ey < 2e-2 and es < 2e-2 and not np.isnan(y).any()
            print(f"L {L} head_dim {P_total} slice {pc} N {N} (NT {NT}): y rel-L2 {ey:.2e}, state rel-L2 {es:.2e} {'ok' if ok else 'WRONG'}")
            assert ok


if __name__ == "__main__":
    main()
