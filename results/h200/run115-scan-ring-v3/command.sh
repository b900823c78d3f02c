# run 115: the ring kernel with the gate's loads ahead of its stores (FK_RING_PF=0), and with
# each step's first B and C also requested before the hand-off wait (FK_RING_PF=1, a knob of
# that commit); each A/B against the product at 8k, then the winner at 2k and 1000 tokens.
set -x
for v in 0 1; do
  nvcc -O3 -std=c++17 --expt-relaxed-constexpr -gencode=arch=compute_90a,code=sm_90a \
    -I baselines/include -DFK_SM90A=1 -DFK_RING_PF=$v -DSCAN_VARIANT='"scan_ring_variant.cu"' \
    experiments/ssm/scan_bench.cu -o /tmp/sb$v || exit 1
done
/tmp/sb0 8192 20 | tee $OUT/bench-pf0.json
/tmp/sb1 8192 20 | tee $OUT/bench-pf1.json
/tmp/sb0 8192 20 | tee $OUT/bench-pf0-again.json
/tmp/sb1 8192 20 | tee $OUT/bench-pf1-again.json
