# run 155: run 154 found the state pass's copies, barriers and sums alone take 44 of its ~92 us
# (two chunks in flight per CTA). Here: thread 0's copies after the chunk's wgmma (run 152's
# LATE=1) plus an L2 prefetch of chunk c + PF's x and B boxes by warp 1 after the wgmma (PF = 0,
# 4, 8; exp/pf2), against the product at 56af7e1, alternated twice.
set -x
NV="nvcc -O3 -std=c++17 --expt-relaxed-constexpr -gencode=arch=compute_90a,code=sm_90a -DFK_SM90A=1 -DLATE=1"
$NV -I baselines/include experiments/ssm/ssd_state_bench.cu -o /tmp/ssd_old &
for d in 0 4 8; do $NV -DPF=$d -I exp/pf2/include -I baselines/include experiments/ssm/ssd_state_bench.cu -o /tmp/ssd_pf$d & done
wait
for i in 1 2; do
  for v in old pf0 pf4 pf8; do timeout 60 /tmp/ssd_$v 20 | tee -a $OUT/ssd_$v.json; done
done
