# run 147: ssd_chunk_scan's Hopper state pass with each chunk's running sums and steps brought
# in by bulk copy with its x and B boxes (no per-thread global loads in flight when the
# fence.proxy.async after the scaling and the publication's run: run 146's top stall) against
# HEAD's (oldssd/: HEAD's state_sm90.cuh shadowing the product's), alternated twice
# (experiments/ssm/ssd_state_bench.cu: float64 check of published chunk states and final states).
set -x
NV="nvcc -O3 -std=c++17 --expt-relaxed-constexpr -gencode=arch=compute_90a,code=sm_90a -DFK_SM90A=1"
$NV -I baselines/include experiments/ssm/ssd_state_bench.cu -o /tmp/ssd_new &
$NV -I oldssd/include -I baselines/include experiments/ssm/ssd_state_bench.cu -o /tmp/ssd_old &
wait
for i in 1 2; do
  /tmp/ssd_old 20 | tee -a $OUT/ssd_old.json
  /tmp/ssd_new 20 | tee -a $OUT/ssd_new.json
done
