# run 110: the product selective_scan against the ring kernel (baselines/kernels/
# selective_scan_ring.cuh, enabled by experiments/ssm/scan_ring_variant.cu) at mamba-2.8b's
# shape: 8k, 2k and 1000 tokens (partial chunks), checked against float64 and timed alternately;
# then racecheck and synccheck of both at 300 tokens.
set -x
nvcc -O3 -std=c++17 --expt-relaxed-constexpr -gencode=arch=compute_90a,code=sm_90a \
  -I baselines/include -DFK_SM90A=1 -DSCAN_VARIANT='"scan_ring_variant.cu"' \
  experiments/ssm/scan_bench.cu -o /tmp/sb || exit 1
/tmp/sb 8192 20 | tee $OUT/bench.json
/tmp/sb 2048 20 | tee $OUT/bench-2k.json
/tmp/sb 1000 10 | tee $OUT/bench-1000.json
compute-sanitizer --tool racecheck /tmp/sb 300 1 2>&1 | tail -5 | tee $OUT/racecheck.txt
compute-sanitizer --tool synccheck /tmp/sb 300 1 2>&1 | tail -5 | tee $OUT/synccheck.txt
