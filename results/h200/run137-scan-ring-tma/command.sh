# run 137: the ring selective_scan staging its tiles by TMA (one lane, 5 box copies per warp and
# chunk; FK_SCAN_RING_TMA=0 = the cp.async path of the same build) against the committed
# product (fca3c0d's selective_scan.cu + selective_scan_ring.cuh, copied into oldscan/ by
# `git show`), experiments/ssm/scan_bench.cu at mamba-2.8b's shape: float64 check of 13
# channels x all tokens, alternated CUDA-event timing, copy rate of the same process.
nvcc -O3 -std=c++17 --expt-relaxed-constexpr -gencode=arch=compute_90a,code=sm_90a \
  -I baselines/include -DFK_SM90A=1 -DSCAN_VARIANT='"../../oldscan/selective_scan.cu"' \
  experiments/ssm/scan_bench.cu -o /tmp/sb || exit 1
for t in 8192 2048 1000; do /tmp/sb $t 20 | tee $OUT/bench-tma-$t.json; done
FK_SCAN_RING_TMA=0 /tmp/sb 8192 20 | tee $OUT/bench-cpasync-8192.json
/tmp/sb 8192 20 | tee $OUT/bench-tma-8192-b.json
