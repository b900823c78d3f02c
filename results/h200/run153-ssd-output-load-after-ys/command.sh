# run 153: ssd_chunk_scan's Hopper output pass with the next unit's copies requested after the
# unit's C . S_in wgmma is issued instead of before it (exp/oload), alone and together with run
# 152's state pass (copies after the wgmma: exp/late, LATE=1), against the product at 56af7e1,
# alternated twice (ssd_state_bench: whole op and state pass, float64 checks of the states).
set -x
NV="nvcc -O3 -std=c++17 --expt-relaxed-constexpr -gencode=arch=compute_90a,code=sm_90a -DFK_SM90A=1"
$NV -I baselines/include experiments/ssm/ssd_state_bench.cu -o /tmp/ssd_old &
$NV -I exp/oload/include -I baselines/include experiments/ssm/ssd_state_bench.cu -o /tmp/ssd_oload &
$NV -DLATE=1 -I exp/oload/include -I exp/late/include -I baselines/include experiments/ssm/ssd_state_bench.cu -o /tmp/ssd_both &
wait
for i in 1 2 3; do
  for v in old oload both; do timeout 60 /tmp/ssd_$v 20 | tee -a $OUT/ssd_$v.json; done
done
