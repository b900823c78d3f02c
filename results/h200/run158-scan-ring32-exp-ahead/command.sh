# run 158: the cluster ring selective_scan with each step's 16 exponentials taken during the
# previous step (the working tree with variant.patch applied; reverted after) against the
# committed kernel (b2f1d23, copied by `git show` into the ignored oldscan/), where ptxas had
# sunk them below the hand-off wait; experiments/ssm/scan_bench.cu, float64-checked, alternated.
nvcc -O3 -std=c++17 --expt-relaxed-constexpr -gencode=arch=compute_90a,code=sm_90a \
  -I baselines/include -DFK_SM90A=1 -DSCAN_VARIANT='"../../oldscan/selective_scan.cu"' \
  experiments/ssm/scan_bench.cu -o /tmp/sb || exit 1
for t in 8192 2048 1000 8192; do timeout 60 /tmp/sb $t 20 | tee -a $OUT/bench.jsonl; done
