# run 109 (HEAD + experiments/ssm/scan_split_halves_slab.cuh, no bundle): the product
# selective_scan against the variant whose lanes run their 16 tokens as two halves of 8 (four
# FMA chains per state pair instead of two), at mamba-2.8b's shape, 8k and 2k tokens, both
# checked against a float64 recurrence and timed alternately against the copy rate.
set -x
# The variant: the product file with scan_slab (lines 374-442 at this commit) replaced by the
# .cuh past its 3-line header.
{ sed -n 1,373p baselines/kernels/selective_scan.cu; sed -n '4,$p' experiments/ssm/scan_split_halves_slab.cuh;
  sed -n '443,$p' baselines/kernels/selective_scan.cu; } > experiments/ssm/scan_split.cu
nvcc -O3 -std=c++17 --expt-relaxed-constexpr -gencode=arch=compute_90a,code=sm_90a \
  -I baselines/include -DFK_SM90A=1 -DSCAN_VARIANT='"scan_split.cu"' \
  experiments/ssm/scan_bench.cu -o /tmp/sb || exit 1
/tmp/sb 8192 20 | tee $OUT/bench.json
/tmp/sb 2048 20 | tee $OUT/bench-2k.json
/tmp/sb 8192 20 | tee $OUT/bench-again.json
