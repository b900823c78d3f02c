# run 152: ssd_chunk_scan's Hopper state pass with thread 0's copies of chunk c + 2 issued after
# the chunk's wgmma (LATE=1) or after its publication (LATE=2) instead of between the CTA
# barrier and the wgmma (exp/late; run 151: four more issue instructions there cost 13 %: the
# warpgroup's wgmma waits for warp 0), against the product at 56af7e1, alternated twice.
set -x
NV="nvcc -O3 -std=c++17 --expt-relaxed-constexpr -gencode=arch=compute_90a,code=sm_90a -DFK_SM90A=1"
$NV -I baselines/include experiments/ssm/ssd_state_bench.cu -o /tmp/ssd_old &
$NV -DLATE=1 -I exp/late/include -I baselines/include experiments/ssm/ssd_state_bench.cu -o /tmp/ssd_late1 &
$NV -DLATE=2 -I exp/late/include -I baselines/include experiments/ssm/ssd_state_bench.cu -o /tmp/ssd_late2 &
wait
for i in 1 2; do
  for v in old late1 late2; do timeout 60 /tmp/ssd_$v 20 | tee -a $OUT/ssd_$v.json; done
done
