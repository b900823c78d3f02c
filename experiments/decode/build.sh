#!/bin/sh
# Builds the standalone decode timing harness into $1 (default: .): v0 (previous baseline),
# v1 (run-1 kernel), v2c (run-2 best) and v3a..v3d = baselines/kernels/paged_attention_decode.cu
# with the experiment knobs below, and the sample kernel (CUDA-graph capture check). sm_90a.
set -e
NVCC=${NVCC:-/work/main/.fastkernels/cuda/nvidia/cu13/bin/nvcc}
OUT=${1:-.}
HERE=$(cd "$(dirname "$0")" && pwd)
INC="$HERE/../../baselines/include"
K="$HERE/../../baselines/kernels/paged_attention_decode.cu"
FLAGS="-std=c++17 -O3 --expt-relaxed-constexpr -gencode arch=compute_90a,code=sm_90a -I$INC"
T=/tmp/fk_dec
mkdir -p $T
$NVCC $FLAGS -DFK_SYMBOL_PREFIX=v0_ -c "$HERE/v0_paged_attention_decode.cu" -o $T/v0.o &
$NVCC $FLAGS -DFK_SYMBOL_PREFIX=v1_ -c "$HERE/v1_paged_attention_decode.cu" -o $T/v1.o
wait
$NVCC $FLAGS -DFK_SYMBOL_PREFIX=v2c_ -DFK_DECODE_THREADS=256 -c "$HERE/v2_paged_attention_decode.cu" -o $T/v2c.o &
$NVCC $FLAGS -DFK_SYMBOL_PREFIX=v3a_ -c "$K" -o $T/v3a.o
wait
$NVCC $FLAGS -DFK_SYMBOL_PREFIX=v3b_ -DFK_DECODE_RING_KB=48 -DFK_DECODE_MIN_CTAS=4 -c "$K" -o $T/v3b.o &
$NVCC $FLAGS -DFK_SYMBOL_PREFIX=v3c_ -DFK_DECODE_THREADS=256 -DFK_DECODE_MIN_CTAS=2 -c "$K" -o $T/v3c.o
wait
$NVCC $FLAGS -DFK_SYMBOL_PREFIX=v3d_ -DFK_DECODE_THREADS=256 -DFK_DECODE_RING_KB=96 -c "$K" -o $T/v3d.o &
$NVCC $FLAGS -c "$HERE/bench_decode.cu" -o $T/main.o
wait
$NVCC $FLAGS -DFK_SYMBOL_PREFIX=s_ -c "$HERE/../../baselines/kernels/sample.cu" -o $T/s.o
$NVCC -gencode arch=compute_90a,code=sm_90a -L"$(dirname "$NVCC")/../lib" $T/main.o $T/v0.o $T/v1.o $T/v2c.o $T/v3a.o $T/v3b.o $T/v3c.o $T/v3d.o $T/s.o -o "$OUT/bench_decode"
