#!/usr/bin/env bash
# Builds the standalone harness into $1 (default /work/main/.fastkernels/scratch/prefill/harness).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
CU="${CU:-$root/.fastkernels/cuda/nvidia/cu13}"
out="${1:-/work/main/.fastkernels/scratch/prefill/harness}"
mkdir -p "$(dirname "$out")"
"$CU/bin/nvcc" -std=c++17 -O3 --expt-relaxed-constexpr -lineinfo -gencode=arch=compute_90a,code=sm_90a \
    -I"$root/baselines/include" -DFK_SYMBOL_PREFIX=fk_baseline_ -DFK_SM90A=1 -DFK_PREFILL_EXPERIMENTS -Xptxas=-warn-spills \
    -L"$CU/lib" -o "$out" "$here/harness.cu"
strip "$out" || true
ls -la "$out"
