# run 154: where the Hopper state pass's ~91 us go. Diagnostic builds of the product's pass
# (exp/diag, DIAG bits: 1 skips the scaling of x, 2 the wgmma, 4 the publication; 7 leaves the
# copies, barriers and sums only) timed against the product at 56af7e1 (their state checks are
# meaningless; only state_us counts), twice.
set -x
NV="nvcc -O3 -std=c++17 --expt-relaxed-constexpr -gencode=arch=compute_90a,code=sm_90a -DFK_SM90A=1"
$NV -I baselines/include experiments/ssm/ssd_state_bench.cu -o /tmp/ssd_old &
for d in 1 2 4 3 7; do $NV -DDIAG=$d -I exp/diag/include -I baselines/include experiments/ssm/ssd_state_bench.cu -o /tmp/ssd_d$d & done
wait
for i in 1 2; do
  for v in old d1 d2 d4 d3 d7; do timeout 60 /tmp/ssd_$v 20 | tee -a $OUT/ssd_$v.json; done
done
