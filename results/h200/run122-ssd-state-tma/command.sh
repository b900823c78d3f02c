# run 122: the Hopper state pass on TMA (x and B boxes by one thread, full mbarriers per stage;
# the pre-pass's sums loaded a chunk ahead into registers; rows past a sequence zeroed in the
# scaling) and the sums pre-pass at 512 threads. experiments/ssm/ssd_state_bench.cu built three
# ways: the product (fp32 scaling), FK_SSD_STATE_PACKED=1 (bf16x2 scaling), and diag 3 (no
# scaling: timing only). Chunk states of two heads checked against a float64 recurrence.
b() { nvcc -O3 -std=c++17 --expt-relaxed-constexpr -gencode=arch=compute_90a,code=sm_90a -I baselines/include -DFK_SM90A=1 "$@" experiments/ssm/ssd_state_bench.cu; }
b -o /tmp/ssb_p0 & b -DFK_SSD_STATE_PACKED=1 -o /tmp/ssb_p1 & b -DFK_SSD_STATE_DIAG=3 -o /tmp/ssb_d3 &
wait
for k in 1 2; do for v in p0 p1 d3; do echo "== $v" | tee -a $OUT/bench.txt; /tmp/ssb_$v 20 | tee -a $OUT/bench.txt; done; done
