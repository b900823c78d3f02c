# run 111: ncu of one launch of run 110's ring kernel at 8k tokens (instruction mix, issue,
# stall reasons, pipes, shared memory).
set -x
nvcc -O3 -std=c++17 --expt-relaxed-constexpr -gencode=arch=compute_90a,code=sm_90a -lineinfo \
  -I baselines/include -DFK_SM90A=1 -DSCAN_VARIANT='"scan_ring_variant.cu"' \
  experiments/ssm/scan_bench.cu -o /tmp/sb || exit 1
ncu -k regex:ring_kernel -c 1 --set full --import-source yes -o $OUT/ring /tmp/sb 8192 1 > /dev/null 2>&1
ncu -i $OUT/ring.ncu-rep --page details --print-units base 2>&1 | grep -E "Duration|Executed Ipc|Issue Slots Busy|Issued Warp|No Eligible|Active Warps|Eligible Warps|Achieved Occupancy|Theoretical Occupancy|Registers|Block Limit|Warp Cycles Per Issued|Executed Instructions  |Bank Conflicts|Shared Memory|MUFU|Stall|One or More" | head -60 | tee $OUT/summary.txt
ncu -i $OUT/ring.ncu-rep --page raw --print-units base 2>&1 | grep -E "smsp__average_warp_latency_issue_stalled|smsp__average_warps_issue_stalled_.*_per_issue_active.ratio |sm__inst_executed_pipe_.*sum |smsp__inst_executed.sum |sm__pipe_.*cycles_active.avg.pct_of_peak_sustained_active" | head -80 | tee $OUT/raw.txt
