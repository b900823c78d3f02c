# run 140: ncu of one launch of the cluster ring selective_scan (d992c6d) at 8k tokens of
# mamba-2.8b (experiments/ssm/scan_bench.cu, no variant): issue, stalls, pipes, then the stall
# samples per SASS line (run 112's top.py).
set -x
nvcc -O3 -std=c++17 --expt-relaxed-constexpr -gencode=arch=compute_90a,code=sm_90a -lineinfo \
  -I baselines/include -DFK_SM90A=1 experiments/ssm/scan_bench.cu -o /tmp/sb || exit 1
ncu -k regex:ring32 -c 1 --set full --import-source yes -o $OUT/ring32 /tmp/sb 8192 1 > /dev/null 2>&1
ncu -i $OUT/ring32.ncu-rep --page details --print-units base 2>&1 | grep -E "Duration|Executed Ipc|Issue Slots Busy|Issued Warp|No Eligible|Active Warps|Eligible Warps|Achieved Occupancy|Theoretical Occupancy|Registers|Block Limit|Warp Cycles Per Issued|Executed Instructions  |Bank Conflicts|Shared Memory|MUFU|Stall|One or More|Cluster" | head -60 | tee $OUT/summary.txt
ncu -i $OUT/ring32.ncu-rep --page raw --print-units base 2>&1 | grep -E "smsp__average_warps_issue_stalled_.*_per_issue_active.ratio |sm__inst_executed_pipe_.*sum |smsp__inst_executed.sum |sm__pipe_.*cycles_active.avg.pct_of_peak_sustained_active" | head -80 > $OUT/raw.txt
ncu -i $OUT/ring32.ncu-rep --page source --print-source sass --csv > /tmp/source.csv 2> $OUT/err.txt
python3 results/h200/run112-scan-ring-ncu-source/top.py /tmp/source.csv > $OUT/top.txt; head -70 $OUT/top.txt
rm -f $OUT/ring32.ncu-rep
