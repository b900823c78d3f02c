# run 107 (HEAD + experiments/ssm/scan_bench.cu and scan_pipelined_slab.cuh, no bundle): the product
# selective_scan against the software-pipelined variant (one state at a time, next state's
# exponentials in the same block as this state's recurrence) at mamba-2.8b's 8k-token shape,
# both checked against a float64 recurrence and timed alternately against the copy rate; then
# ncu warp-state (stall) statistics of one launch of each.
set -x
# The variant: the product file with scan_slab (lines 374-442 at this commit) replaced by
# experiments/ssm/scan_pipelined_slab.cuh.
{ sed -n 1,373p baselines/kernels/selective_scan.cu; cat experiments/ssm/scan_pipelined_slab.cuh;
  sed -n '443,$p' baselines/kernels/selective_scan.cu; } > experiments/ssm/scan_pipelined.cu
nvcc -O3 -std=c++17 --expt-relaxed-constexpr -gencode=arch=compute_90a,code=sm_90a -lineinfo \
  -I baselines/include -DFK_SM90A=1 -DSCAN_VARIANT='"scan_pipelined.cu"' \
  experiments/ssm/scan_bench.cu -o /tmp/sb || exit 1
/tmp/sb 8192 20 | tee $OUT/bench.json
/tmp/sb 2048 20 | tee $OUT/bench-2k.json
M='regex:smsp__average_warps_issue_stalled_.*_per_issue_active\.ratio,smsp__inst_executed_pipe_xu.sum,smsp__inst_executed.sum,smsp__cycles_active.avg,smsp__issue_active.avg.pct_of_peak_sustained_active,l1tex__data_pipe_lsu_wavefronts_mem_shared.sum,l1tex__data_bank_conflicts_pipe_lsu_mem_shared.sum,gpu__time_duration.sum'
ncu -k regex:scan_kernel --launch-skip 4 --launch-count 2 --metrics "$M" /tmp/sb 8192 2 > $OUT/ncu-stalls.txt 2>&1
grep -E "scan_kernel|duration|inst_executed|cycles_active|issue_active|shared" $OUT/ncu-stalls.txt | cut -c1-150
grep -E "stalled" $OUT/ncu-stalls.txt | awk '$NF+0 > 0.1' | cut -c1-150
