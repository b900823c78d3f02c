# Top SASS lines of an ncu source-page CSV (ncu -i X --page source --print-source sass --csv)
# by stall samples, with each line's three largest stall reasons.
import csv, sys
rows = list(csv.reader(open(sys.argv[1])))
hdr = rows[1]
ix = {h: i for i, h in enumerate(hdr)}
stalls = [h for h in hdr if h.startswith("stall_") and "Not Issued" not in h]
data = []
for r in rows[2:]:
    if len(r) != len(hdr):
        continue
    data.append((float(r[ix["Warp Stall Sampling (All Samples)"]] or 0), r))
total = sum(d[0] for d in data)
by_reason = {h: sum(float(r[ix[h]] or 0) for _, r in data) for h in stalls}
print("samples", total, {h[6:]: round(100 * v / total, 1) for h, v in sorted(by_reason.items(), key=lambda x: -x[1]) if v})
for s, r in sorted(data, key=lambda d: -d[0])[:int(sys.argv[2]) if len(sys.argv) > 2 else 40]:
    top = sorted(((float(r[ix[h]] or 0), h[6:]) for h in stalls), reverse=True)[:3]
    print(f"{100 * s / total:5.1f}% {r[0]} {r[1][:60]:60s} " + " ".join(f"{n}:{100 * v / total:.1f}" for v, n in top if v))
