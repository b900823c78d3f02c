#!/usr/bin/env bash
# Runs a GPU bundle made by `cargo xtask gpu-bundle` on a machine with a GPU and no Rust
# toolchain: every GPU test binary, the PyTorch peer, then every bench binary, in one go.
# Results land in $OUT (default ./gpu-results):
#   log.txt             everything printed, in order
#   tests.json          per test binary: exit code, passed/failed/ignored, expected outcome
#   peer.json           PyTorch times at the bench shapes
#   bench-*.json        bench reports (fastkernels.bench.v1), one per bench binary
#   hf-*.json, e2e-*.json  end to end: HF transformers generate and ours (same GPU, same run)
#   eval-llama.json     the engine workloads (cargo fastkernels eval)
#   summary.txt         the short verdict
# (only 8 files come back from a device call: select steps with the variables below)
# Usage: bash bundle/run.sh   (from the folder holding bundle/)
#        FK_SKIP_TESTS=1 bash bundle/run.sh   (peer + benches only)
# Selection (device time is scarce): FK_TESTS / FK_BENCHES are extended regexes over binary
# names (default: all); FK_TEST_ARGS is passed to every test binary (a libtest filter, e.g.
# "paged_attention"); FK_BENCH_ARGS to every bench binary (e.g. "--op paged --quick");
# FK_SKIP_PEER=1 skips the PyTorch op peer; FK_SKIP_MOE_PEER=1 the HF MixtralSparseMoeBlock peer; FK_SKIP_E2E=1 the end-to-end runs, FK_SKIP_HF=1 their
# HF transformers peer; FK_SKIP_CLI=1 the `generate` CLI check; FK_SKIP_SERVE=1 the `serve` smoke test; FK_SKIP_EVAL=1 the engine
# workloads (FK_EVAL_WORKLOADS=LLM.mixed,LLM.single_request picks some; FK_EVAL_ARGS adds flags).
set -uo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
OUT="${OUT:-$PWD/gpu-results}"
mkdir -p "$OUT"
log="$OUT/log.txt"
: >"$log"
t0=$SECONDS
say() { echo "$@" | tee -a "$log"; }
stamp() { say "   [t+$((SECONDS - t0))s]"; }

if [ -f "$here/bin.tar.xz" ] && [ ! -d "$here/bin" ]; then
    tar -C "$here" -xJf "$here/bin.tar.xz"
fi
export FASTKERNELS_GIT_SHA="$(cat "$here/GIT_SHA" 2>/dev/null || echo unknown)"
export FASTKERNELS_GOLDENS="$here/goldens"
say "== fastkernels GPU bundle $FASTKERNELS_GIT_SHA on $(hostname), $(date -u +%FT%TZ)"
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm,clocks.max.mem,clocks.sm,clocks.mem,temperature.gpu,power.draw --format=csv 2>&1 | tee -a "$log"

# 1. Tests. manifest lines: "test <binary> <expect: pass|fail> <description>"
echo "[" >"$OUT/tests.json"
first=1
verdict=0
while read -r kind bin expect desc; do
    [ "$kind" = "test" ] || continue
    [ -z "${FK_SKIP_TESTS:-}" ] || continue
    echo "$bin" | grep -qE "${FK_TESTS:-.}" || continue
    say ""
    say "== test $bin ($desc; expected: $expect)"
    # shellcheck disable=SC2086
    "$here/bin/$bin" --test-threads 1 ${FK_TEST_ARGS:-} 2>&1 | tee "$OUT/.cur" >>"$log"
    rc=${PIPESTATUS[0]}
    line=$(grep -E "^test result:" "$OUT/.cur" | tail -1)
    passed=$(echo "$line" | sed -nE 's/.* ([0-9]+) passed.*/\1/p'); failed=$(echo "$line" | sed -nE 's/.* ([0-9]+) failed.*/\1/p')
    ignored=$(echo "$line" | sed -nE 's/.* ([0-9]+) ignored.*/\1/p')
    failing=$(grep -E "^test .* FAILED$" "$OUT/.cur" | sed -E 's/^test (\[gpu\] )?//; s/ +\.\.\. FAILED$//' | head -20 | python3 -c 'import json,sys; print(json.dumps([l.rstrip() for l in sys.stdin]))')
    ok=true
    if [ "$expect" = "pass" ] && [ "$rc" != 0 ]; then ok=false; fi
    if [ "$expect" = "fail" ] && [ "$rc" = 0 ]; then ok=false; fi
    if [ "${passed:-0}" = 0 ] && [ "$expect" = "pass" ]; then ok=false; fi  # all ignored is not a pass
    $ok || verdict=1
    stamp
    say "-- $bin: exit $rc, ${passed:-?} passed, ${failed:-?} failed, ${ignored:-?} ignored -> $([ "$ok" = true ] && echo as expected || echo UNEXPECTED)"
    [ $first = 1 ] || echo "," >>"$OUT/tests.json"
    first=0
    printf '{"binary":"%s","description":"%s","expect":"%s","exit":%s,"passed":%s,"failed":%s,"ignored":%s,"as_expected":%s,"failing":%s}' \
        "$bin" "$desc" "$expect" "$rc" "${passed:-null}" "${failed:-null}" "${ignored:-null}" "$ok" "$failing" >>"$OUT/tests.json"
done <"$here/manifest.txt"
echo "]" >>"$OUT/tests.json"
rm -f "$OUT/.cur"

# 2. PyTorch peer (same shapes, same method), then 3. benches with the peer merged in.
if [ -z "${FK_SKIP_PEER:-}" ]; then
    say ""
    say "== PyTorch peer"
    PYTHONUNBUFFERED=1 python3 "$here/peer_torch_ops.py" --out "$OUT/peer.json" 2>&1 | tee -a "$log"
    stamp
fi
if [ -z "${FK_SKIP_MOE_PEER:-}" ] && grep -E '^bench ' "$here/manifest.txt" | awk '{print $2}' | grep -E "${FK_BENCHES:-.}" | grep -q mixtral; then
    say ""
    say "== HF transformers MixtralSparseMoeBlock peer (merged into peer.json)"
    PYTHONUNBUFFERED=1 python3 "$here/peer_hf_moe.py" --out "$OUT/peer-moe.json" 2>&1 | grep -v -i warn | tee -a "$log"
    python3 - "$OUT/peer.json" "$OUT/peer-moe.json" <<'PY'
import json, os, sys
peer, moe = sys.argv[1], sys.argv[2]
base = json.load(open(peer)) if os.path.exists(peer) else {"schema": "fastkernels.peer.v1", "rows": []}
if os.path.exists(moe):
    base["rows"] += json.load(open(moe))["rows"]
    os.remove(moe)
json.dump(base, open(peer, "w"), indent=1)
PY
    stamp
fi
while read -r kind bin name args; do
    [ "$kind" = "bench" ] || continue
    echo "$bin" | grep -qE "${FK_BENCHES:-.}" || continue
    say ""
    say "== bench $bin -> bench-$name.json $args"
    # shellcheck disable=SC2086
    "$here/bin/$bin" --bench --json "$OUT/bench-$name.json" --peer "$OUT/peer.json" $args ${FK_BENCH_ARGS:-} 2>&1 | tee -a "$log"
    rc=${PIPESTATUS[0]}
    stamp
    [ "$rc" = 0 ] || { verdict=1; say "-- bench $bin exit $rc"; }
done <"$here/manifest.txt"

# 4. The CLI: `cargo fastkernels generate` on every golden folder, checked against transformers.
if [ -z "${FK_SKIP_CLI:-}" ] && [ -x "$here/bin/cargo-fastkernels" ]; then
    say ""
    say "== cargo fastkernels generate vs the transformers goldens"
    python3 "$here/check_generate_cli.py" --cli "$here/bin/cargo-fastkernels" --goldens "$here/goldens/llama" --out "$OUT" 2>&1 | tee -a "$log"
    rc=${PIPESTATUS[0]}
    stamp
    say "-- generate CLI vs goldens: exit $rc -> $([ "$rc" = 0 ] && echo as expected || echo UNEXPECTED)"
    [ "$rc" = 0 ] || verdict=1
fi
if [ -z "${FK_SKIP_SERVE:-}" ] && [ -x "$here/bin/cargo-fastkernels" ]; then
    say ""
    say "== cargo fastkernels serve: greedy tokens over HTTP vs the transformers goldens"
    python3 "$here/check_serve.py" --cli "$here/bin/cargo-fastkernels" --golden "$here/goldens/llama/tiny-gqa-llama3-f32" 2>&1 | tee -a "$log"
    rc=${PIPESTATUS[0]}
    stamp
    say "-- serve smoke: exit $rc -> $([ "$rc" = 0 ] && echo as expected || echo UNEXPECTED)"
    [ "$rc" = 0 ] || verdict=1
fi

# 5. End to end: the HF transformers peer (same GPU, same workload), then our model.
while read -r kind bin name config; do
    [ "$kind" = "e2e" ] || continue
    [ -z "${FK_SKIP_E2E:-}" ] || continue
    say ""
    say "== end to end $bin (peer: HF transformers generate, config $config)"
    if [ -z "${FK_SKIP_HF:-}" ]; then
        PYTHONUNBUFFERED=1 python3 "$here/peer_hf_generate.py" --config "$here/$config" --out "$OUT/hf-$name.json" 2>&1 | grep -v -i warn | tee -a "$log"
    fi
    "$here/bin/$bin" --bench --json "$OUT/e2e-$name.json" --peer "$OUT/hf-$name.json" 2>&1 | tee -a "$log"
    rc=${PIPESTATUS[0]}
    stamp
    [ "$rc" = 0 ] || { verdict=1; say "-- e2e $bin exit $rc"; }
done <"$here/manifest.txt"

# 6. The engine's workloads (`cargo fastkernels eval`) at Llama-3.1-8B shapes, random bf16 weights.
if [ -z "${FK_SKIP_EVAL:-}" ] && [ -x "$here/bin/cargo-fastkernels" ]; then
    say ""
    say "== cargo fastkernels eval --arch llama --random-weights (${FK_EVAL_WORKLOADS:-all workloads})"
    # shellcheck disable=SC2086
    "$here/bin/cargo-fastkernels" eval --arch llama --random-weights ${FK_EVAL_WORKLOADS:+--workload $FK_EVAL_WORKLOADS} \
        --json "$OUT/eval-llama.json" ${FK_EVAL_ARGS:-} 2>&1 | tee -a "$log"
    rc=${PIPESTATUS[0]}
    stamp
    say "-- eval llama: exit $rc -> $([ "$rc" = 0 ] && echo as expected || echo UNEXPECTED)"
    [ "$rc" = 0 ] || verdict=1
fi

# 7. The encoders (issue 6): for each architecture the HF transformers peer (eager, bf16, SDPA)
# draws random weights at the shipped config, times the Embed.* workloads and saves the model;
# then `cargo fastkernels eval` times the same workloads on the same weights.
if [ -z "${FK_SKIP_ENCODERS:-}" ] && [ -x "$here/bin/cargo-fastkernels" ]; then
    models="${FK_ENCODER_DIR:-$here/encoder-models}"
    for arch in $(echo "${FK_ENCODERS:-colbertv2,bge_m3,siglip2,dinov3}" | tr , ' '); do
        say ""
        say "== encoders: $arch (HF transformers peer, then cargo fastkernels eval on the same weights)"
        PYTHONUNBUFFERED=1 python3 "$here/scripts/peer_hf_encoders.py" --arch "$arch" --save-dir "$models" \
            --out "$OUT/hf-encoders-$arch.json" ${FK_ENCODER_PEER_ARGS:-} 2>&1 | grep -v -i warn | tee -a "$log"
        "$here/bin/cargo-fastkernels" eval --model "$models/$arch" --json "$OUT/eval-$arch.json" ${FK_EVAL_ARGS:-} 2>&1 | tee -a "$log"
        rc=${PIPESTATUS[0]}
        stamp
        say "-- eval $arch: exit $rc -> $([ "$rc" = 0 ] && echo as expected || echo UNEXPECTED)"
        [ "$rc" = 0 ] || verdict=1
        python3 - "$OUT/eval-$arch.json" "$OUT/hf-encoders-$arch.json" <<'PY' 2>&1 | tee -a "$log"
import json, sys
ours, hf = (json.load(open(p)) for p in sys.argv[1:3])
peer = {r["workload"]: r for r in hf["runs"]}
for r in ours["runs"]:
    p = peer.get(r["workload"])
    if p:
        print(f"-- {ours['arch']} {r['workload']}: ours {r['per_s']:.1f} {r['unit']}, HF {p['per_s']:.1f}, ratio {r['per_s'] / p['per_s']:.2f}x")
PY
        rm -rf "${models:?}/$arch"
    done
fi

{
    echo "bundle $FASTKERNELS_GIT_SHA: $([ $verdict = 0 ] && echo ALL AS EXPECTED || echo SOMETHING UNEXPECTED)"
    grep -E "^-- " "$log"
} >"$OUT/summary.txt"
cat "$OUT/summary.txt"
exit $verdict
