# run 108 (HEAD + experiments/ssm/scan_bench.cu, no bundle): how the product selective_scan's
# time depends on the warps per SM. Variants made here with sed from the product file (not
# committed): the same kernel launched with extra dynamic shared memory so that only 2 or 1
# blocks (8 or 4 warps) fit an SM instead of 3 (12 warps). Each against the product in one process.
set -x
for blocks in 2 1; do
  extra=$(( blocks == 2 ? 16 * 1024 : 60 * 1024 ))
  sed "s/constexpr int kSmem = Smem<T, NS>::kBytes;/constexpr int kSmem = Smem<T, NS>::kBytes + $extra;/" \
    baselines/kernels/selective_scan.cu > experiments/ssm/occ_variant.cu
  nvcc -O3 -std=c++17 --expt-relaxed-constexpr -gencode=arch=compute_90a,code=sm_90a \
    -I baselines/include -DFK_SM90A=1 -DSCAN_VARIANT='"occ_variant.cu"' \
    experiments/ssm/scan_bench.cu -o /tmp/sb$blocks || exit 1
  /tmp/sb$blocks 8192 10 | tee $OUT/bench-${blocks}blocks.json
done
