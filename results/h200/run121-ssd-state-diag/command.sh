# run 121: where the Hopper state pass's time goes (run 120: ~160 us at 8k tokens of
# mamba2-2.7b, no faster than the mma.sync pass). experiments/ssm/ssd_state_bench.cu built four
# ways on the device: the product (loads before stores in the scaling, row pointers stepped in
# the copies), and three diagnostic builds that skip the proxy fence (1), the products (2) or
# the scaling (3). Checks the product's chunk states against a float64 recurrence.
for d in 0 1 2 3; do
  nvcc -O3 -std=c++17 --expt-relaxed-constexpr -gencode=arch=compute_90a,code=sm_90a -I baselines/include \
    -DFK_SM90A=1 -DFK_SSD_STATE_DIAG=$d experiments/ssm/ssd_state_bench.cu -o /tmp/ssb$d &
done
wait
for d in 0 1 2 3; do /tmp/ssb$d 20 | tee -a $OUT/bench.jsonl; done
/tmp/ssb0 20 | tee -a $OUT/bench.jsonl
