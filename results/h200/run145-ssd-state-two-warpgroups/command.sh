# run 145: ssd_chunk_scan's Hopper state pass with two warpgroups (each half of a chunk's tokens,
# warpgroup 1 handing its part of the state over through shared memory) against HEAD's one
# warpgroup (oldssd/: HEAD's state_sm90.cuh shadowing the product's), in one call: the state
# pass bench (float64 check of published chunk states) alternated twice; and the cluster ring
# scan with its state loop unrolled by 4 (exp/v1) against the product.
set -x
NV="nvcc -O3 -std=c++17 --expt-relaxed-constexpr -gencode=arch=compute_90a,code=sm_90a -DFK_SM90A=1"
$NV -I baselines/include experiments/ssm/ssd_state_bench.cu -o /tmp/ssd_new &
$NV -I oldssd/include -I baselines/include experiments/ssm/ssd_state_bench.cu -o /tmp/ssd_old &
$NV -I baselines/include -DSCAN_VARIANT='"../../exp/v1/selective_scan.cu"' experiments/ssm/scan_bench.cu -o /tmp/sb &
wait
for i in 1 2; do
  /tmp/ssd_old 20 | tee -a $OUT/ssd_old.json
  /tmp/ssd_new 20 | tee -a $OUT/ssd_new.json
done
/tmp/sb 8192 20 | tee $OUT/scan_unroll4.json
