# run 124: the TMA state pass with its sums in two register sets (run 123: the one-set copy
# waited for the load), each chunk's product in its own accumulator (FK_SSD_STATE_SPLIT=1, the
# default) against accumulating into the state (=0), and diagnostic builds (bit flags of
# FK_SSD_STATE_DIAG, wrong results by design) that skip parts of the chunk loop: 1 the scaling,
# 2 the products, 4 the states' publication, 8 the sums' loads; 13 leaves TMA + products +
# barriers.
b() { nvcc -O3 -std=c++17 --expt-relaxed-constexpr -gencode=arch=compute_90a,code=sm_90a -I baselines/include -DFK_SM90A=1 "$@" experiments/ssm/ssd_state_bench.cu; }
b -o /tmp/ssb_s1 & b -DFK_SSD_STATE_SPLIT=0 -o /tmp/ssb_s0 &
for d in 1 2 4 13; do b -DFK_SSD_STATE_DIAG=$d -o /tmp/ssb_d$d & done
wait
for k in 1 2; do for v in s1 s0 d1 d2 d4 d13; do echo "== $v" >> $OUT/bench.txt; /tmp/ssb_$v 20 | tee -a $OUT/bench.txt; done; done
ncu -k regex:chunk_sums -c 1 --section SpeedOfLight --section WarpStateStats --section Occupancy /tmp/ssb_s1 1 2>&1 | grep -E "Duration|SM Frequency|Throughput|Achieved|Stall|Warp Cycles" | head -20 | tee $OUT/ncu_sums.txt
