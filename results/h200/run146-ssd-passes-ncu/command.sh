# run 146: ncu of ssd_chunk_scan's Hopper state and output passes (fb04203) at 8k tokens of
# mamba2-2.7b (experiments/ssm/ssd_state_bench.cu): issue, stalls, then stall samples per SASS
# line (run 112's top.py) and the source pages (gzipped CSV) to read the per-chunk flow.
set -x
nvcc -O3 -std=c++17 --expt-relaxed-constexpr -gencode=arch=compute_90a,code=sm_90a -lineinfo \
  -I baselines/include -DFK_SM90A=1 experiments/ssm/ssd_state_bench.cu -o /tmp/ssb || exit 1
for k in state_sm90 output_sm90; do
  ncu -k regex:$k -c 1 --set full --import-source yes -o /tmp/$k /tmp/ssb 1 > /dev/null 2>&1
  ncu -i /tmp/$k.ncu-rep --page details --print-units base 2>&1 | grep -E "Duration|SM Frequency|Executed Ipc|Issue Slots Busy|Issued Warp|No Eligible|Active Warps|Eligible Warps|Achieved Occupancy|Registers|Warp Cycles Per Issued|Executed Instructions  |DRAM Throughput|L2 Cache Throughput|Block Limit" | head -40 > $OUT/$k-summary.txt
  ncu -i /tmp/$k.ncu-rep --page raw --print-units base 2>&1 | grep -E "smsp__average_warps_issue_stalled_.*_per_issue_active.ratio |sm__pipe_.*cycles_active.avg.pct_of_peak_sustained_active|smsp__inst_executed.sum " > $OUT/$k-raw.txt
  ncu -i /tmp/$k.ncu-rep --page source --print-source sass --csv > /tmp/$k.csv 2>/dev/null
  python3 results/h200/run112-scan-ring-ncu-source/top.py /tmp/$k.csv 50 > $OUT/$k-top.txt
  gzip -c /tmp/$k.csv > $OUT/$k-source.csv.gz
done
head -30 $OUT/state_sm90-top.txt; cat $OUT/state_sm90-summary.txt
