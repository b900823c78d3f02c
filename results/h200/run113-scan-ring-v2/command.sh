# run 113: the ring kernel after run 111's profile (one copy instruction per tensor, B/C rows
# loaded whole before conversion, a uniform hand-off with the initial state published as the
# last warp's phase 0, the final state written after the loop), and the same with each step's
# B*du computed before its hand-off wait (FK_RING_PREB=1, a knob of that commit, since removed);
# each A/B against the product at 8k.
set -x
for v in 0 1; do
  nvcc -O3 -std=c++17 --expt-relaxed-constexpr -gencode=arch=compute_90a,code=sm_90a \
    -I baselines/include -DFK_SM90A=1 -DFK_RING_PREB=$v -DSCAN_VARIANT='"scan_ring_variant.cu"' \
    experiments/ssm/scan_bench.cu -o /tmp/sb$v || exit 1
done
/tmp/sb0 8192 20 | tee $OUT/bench-preb0.json
/tmp/sb1 8192 20 | tee $OUT/bench-preb1.json
/tmp/sb0 1000 10 | tee $OUT/bench-preb0-1000.json
