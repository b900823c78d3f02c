#!/bin/sh
# Builds the tensor-core skinny GEMM experiment (tc_variants.cu) into $1 (default .), sm_90a.
set -e
NVCC=${NVCC:-/work/main/.fastkernels/cuda/nvidia/cu13/bin/nvcc}
OUT=${1:-.}
HERE=$(cd "$(dirname "$0")" && pwd)
INC="$HERE/../../baselines/include"
FLAGS="-std=c++17 -O3 -gencode arch=compute_90a,code=sm_90a -I$INC"
T=/tmp/fk_tc
mkdir -p $T
$NVCC $FLAGS -DFK_SYMBOL_PREFIX=base_ -c "$HERE/../../baselines/kernels/skinny_gemm.cu" -o $T/base.o &
$NVCC $FLAGS -DFK_SYMBOL_PREFIX=exp_ -Xptxas -v -c "$HERE/tc_variants.cu" -o $T/main.o 2> $T/ptxas.txt
wait
grep -E "spill stores" $T/ptxas.txt | sort | uniq -c
$NVCC -gencode arch=compute_90a,code=sm_90a -L"$(dirname "$NVCC")/../lib" $T/main.o $T/base.o -o "$OUT/tc_variants"
