# run 114: ncu of run 113's ring kernel (one launch, 8k tokens): summary, stall reasons and the
# SASS lines where warps stall most (top.py of run 112).
set -x
nvcc -O3 -std=c++17 --expt-relaxed-constexpr -gencode=arch=compute_90a,code=sm_90a -lineinfo \
  -I baselines/include -DFK_SM90A=1 -DSCAN_VARIANT='"scan_ring_variant.cu"' \
  experiments/ssm/scan_bench.cu -o /tmp/sb || exit 1
ncu -k regex:ring_kernel -c 1 --set full -o /tmp/ring /tmp/sb 8192 1 > /dev/null 2>&1
ncu -i /tmp/ring.ncu-rep --page details --print-units base 2>&1 | grep -E "Duration|Issue Slots Busy|Active Warps Per|Eligible Warps|Warp Cycles Per Issued|Executed Instructions  |Achieved Active" | tee $OUT/summary.txt
ncu -i /tmp/ring.ncu-rep --page source --print-source sass --csv > /tmp/source.csv 2>/dev/null
python3 results/h200/run112-scan-ring-ncu-source/top.py /tmp/source.csv 60 | tee $OUT/top.txt
