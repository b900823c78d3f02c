# run 123: ncu of one launch of the TMA state pass (run 122's product build) at 8k tokens of
# mamba2-2.7b: issue, stall reasons, memory; then its SASS lines by warp-stall samples.
set -x
nvcc -O3 -std=c++17 --expt-relaxed-constexpr -gencode=arch=compute_90a,code=sm_90a -lineinfo -I baselines/include -DFK_SM90A=1 \
  experiments/ssm/ssd_state_bench.cu -o /tmp/ssb || exit 1
ncu -k regex:state_sm90 -c 1 --set full --import-source yes -o $OUT/state /tmp/ssb 1 > /dev/null 2>&1
ncu -i $OUT/state.ncu-rep --page details --print-units base 2>&1 | grep -E "Duration|SM Frequency|Executed Ipc|Issue Slots Busy|No Eligible|Active Warps|Eligible Warps|Achieved Occupancy|Registers|Warp Cycles Per Issued|Executed Instructions  |Bank Conflicts|DRAM Throughput|L2 Cache Throughput|L1/TEX Hit|L2 Hit|Mem Busy|Max Bandwidth|One or More" | head -60 | tee $OUT/summary.txt
ncu -i $OUT/state.ncu-rep --page raw --print-units base 2>&1 | grep -E "smsp__average_warps_issue_stalled_.*_per_issue_active.ratio |smsp__inst_executed.sum |smsp__cycles_active.avg " | head -40 | tee $OUT/raw.txt
ncu -i $OUT/state.ncu-rep --page source --print-source sass --csv > /tmp/source.csv 2>/dev/null
python3 results/h200/run112-scan-ring-ncu-source/top.py /tmp/source.csv 40 | tee $OUT/top.txt
gzip -c /tmp/source.csv > $OUT/source.csv.gz
