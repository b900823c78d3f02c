# run 151: ssd_chunk_scan's Hopper state pass with L2 prefetches (cp.async.bulk.prefetch of
# chunk c + PF's x and B boxes and sums, PF = 4 and 8; exp/pf) against the product at 56af7e1,
# alternated twice (ssd_state_bench: float64 check of published chunk states and final states).
set -x
NV="nvcc -O3 -std=c++17 --expt-relaxed-constexpr -gencode=arch=compute_90a,code=sm_90a -DFK_SM90A=1"
$NV -I baselines/include experiments/ssm/ssd_state_bench.cu -o /tmp/ssd_old &
$NV -DPF=4 -I exp/pf/include -I baselines/include experiments/ssm/ssd_state_bench.cu -o /tmp/ssd_pf4 &
$NV -DPF=8 -I exp/pf/include -I baselines/include experiments/ssm/ssd_state_bench.cu -o /tmp/ssd_pf8 &
wait
for i in 1 2; do
  for v in old pf4 pf8; do timeout 60 /tmp/ssd_$v 20 | tee -a $OUT/ssd_$v.json; done
done
