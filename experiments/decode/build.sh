#!/bin/sh
# Builds the standalone decode timing harness (v0 vs v1) for sm_90a into $1 (default: .).
set -e
NVCC=${NVCC:-/work/main/.fastkernels/cuda/nvidia/cu13/bin/nvcc}
OUT=${1:-.}
HERE=$(cd "$(dirname "$0")" && pwd)
INC="$HERE/../../baselines/include"
FLAGS="-std=c++17 -O3 --expt-relaxed-constexpr -gencode arch=compute_90a,code=sm_90a -I$INC"
$NVCC $FLAGS -DFK_SYMBOL_PREFIX=v0_ -c "$HERE/v0_paged_attention_decode.cu" -o /tmp/fk_dec_v0.o &
$NVCC $FLAGS -DFK_SYMBOL_PREFIX=v1_ -c "$HERE/../../baselines/kernels/paged_attention_decode.cu" -o /tmp/fk_dec_v1.o &
$NVCC $FLAGS -c "$HERE/bench_decode.cu" -o /tmp/fk_dec_main.o
wait
$NVCC -gencode arch=compute_90a,code=sm_90a -L"$(dirname "$NVCC")/../lib" /tmp/fk_dec_main.o /tmp/fk_dec_v0.o /tmp/fk_dec_v1.o -o "$OUT/bench_decode"
