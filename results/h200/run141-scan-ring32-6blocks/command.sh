# run 141: the cluster ring selective_scan with its registers fitted for 6 CTAs per SM (80
# registers, no spills) against 5 (92; run 140's ncu: at 5 only 154 clusters of 4 fit the GPU
# at once, fewer than mamba-2.8b's 160 channel groups, so 6 clusters ran as a second wave),
# experiments/ssm/scan_bench.cu, float64-checked, alternated, two passes at 8k; 2k and 1000 once.
nvcc -O3 -std=c++17 --expt-relaxed-constexpr -gencode=arch=compute_90a,code=sm_90a \
  -I baselines/include -DFK_SM90A=1 -DSCAN_VARIANT='"scan_ring32_blocks_variant.cu"' -DRING32_BLOCKS=5 \
  experiments/ssm/scan_bench.cu -o /tmp/sb || exit 1
for t in 8192 2048 1000 8192; do timeout 60 /tmp/sb $t 20 | tee -a $OUT/bench.jsonl; done
FK_SCAN_RING32=0 timeout 60 /tmp/sb 8192 20 | tee $OUT/bench-ring.json
