"""Per-CTA view of run 131's raw traces (int64 [132 CTAs][64 layers][16]: marks 0-14 clock64 of
consumer thread 0 / the producer, 15 the SM id). Marks: 0 layer start, 1 params, 2 norm, 3 in_proj,
4 conv, 5 x_proj, 6 B1 (z rows + wait), 7 dt_proj, 8 state update, 9 B2, 10 y staged, 11 out_proj,
12 B3. A CTA that waits little at a barrier arrived late. Usage: xz -dk trace-*.bin.xz; python3 per_cta.py trace-1.bin [trace-2.bin]"""
import struct, sys

G, LAYERS, M, MHZ = 132, 64, 16, 1980.0
names = ["params", "norm", "in_proj", "conv", "x_proj", "B1", "dt_proj", "su", "B2", "y_stage", "out_proj", "B3"]


def load(path):
    raw = open(path, "rb").read()
    v = struct.unpack("<%dq" % (len(raw) // 8), raw)
    return [[v[(c * LAYERS + l) * M:(c * LAYERS + l + 1) * M] for l in range(LAYERS)] for c in range(G)]


def per_cta(t, l0=4, l1=60):
    out = []
    for c in range(G):
        ph = [sum(t[c][l][k + 1] - t[c][l][k] for l in range(l0, l1)) / (l1 - l0) / MHZ for k in range(12)]
        out.append((t[c][l0][15], ph))
    return out


def corr(a, b):
    n = len(a); ma = sum(a) / n; mb = sum(b) / n
    sa = sum((x - ma) ** 2 for x in a) ** 0.5; sb = sum((y - mb) ** 2 for y in b) ** 0.5
    return sum((x - ma) * (y - mb) for x, y in zip(a, b)) / (sa * sb)


runs = [per_cta(load(p)) for p in sys.argv[1:]]
r = runs[0]
for k in (5, 6, 8, 10, 11):
    vals = sorted(ph[k] for _, ph in r)
    print("%-8s min %.2f p10 %.2f median %.2f p90 %.2f max %.2f" % (names[k], vals[0], vals[13], vals[66], vals[118], vals[-1]))
if len(runs) > 1:
    for k in (5, 6, 8, 11):
        print("%-8s per-CTA mean, launch 1 vs 2: correlation %.2f" % (names[k], corr([ph[k] for _, ph in runs[0]], [ph[k] for _, ph in runs[1]])))
print("CTAs by B2 wait (late arrivers first): cta smid B1 dt_proj B2 out_proj B3")
order = sorted(range(G), key=lambda c: r[c][1][8])
for c in order[:12] + order[-6:]:
    sm, ph = r[c]
    print("%4d %4d  %.2f %.2f %.2f %.2f %.2f" % (c, sm, ph[5], ph[6], ph[8], ph[10], ph[11]))
