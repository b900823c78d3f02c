# run 117: the product (ring kernel at 5 blocks per SM, y's partial sums now aliasing the B/C
# tiles, 32.9 KB per block) against the same kernel built for 6 blocks per SM (80 registers,
# ~100 bytes of spills; experiments/ssm/scan_ring6_variant.cu), 8k tokens, two passes.
set -x
nvcc -O3 -std=c++17 --expt-relaxed-constexpr -gencode=arch=compute_90a,code=sm_90a \
  -I baselines/include -DFK_SM90A=1 -DSCAN_VARIANT='"scan_ring6_variant.cu"' \
  experiments/ssm/scan_bench.cu -o /tmp/sb || exit 1
/tmp/sb 8192 20 | tee $OUT/bench.json
/tmp/sb 8192 20 | tee $OUT/bench-again.json
