# run 138: the cluster ring kernel (baselines/kernels/selective_scan_ring32.cuh, first version:
# lane = channel with all 16 states, a 16-warp ring over a cluster of 4 CTAs) as the product's
# path, against the committed product (fca3c0d, oldscan/ by `git show`) in
# experiments/ssm/scan_bench.cu (float64 check of 13 channels x all tokens, alternated timing);
# FK_SCAN_RING32=0 = this build's ring kernel.
nvcc -O3 -std=c++17 --expt-relaxed-constexpr -gencode=arch=compute_90a,code=sm_90a \
  -I baselines/include -DFK_SM90A=1 -DSCAN_VARIANT='"../../oldscan/selective_scan.cu"' \
  experiments/ssm/scan_bench.cu -o /tmp/sb || exit 1
for t in 8192 2048 1000 300; do timeout 60 /tmp/sb $t 20 | tee $OUT/bench-$t.json; echo "rc=$?"; done
FK_SCAN_RING32=0 timeout 60 /tmp/sb 8192 20 | tee $OUT/bench-ring-8192.json
timeout 60 compute-sanitizer --tool racecheck /tmp/sb 300 1 > $OUT/racecheck.txt 2>&1; echo "racecheck rc=$? $(grep -E 'RACECHECK SUMMARY|ERROR SUMMARY' $OUT/racecheck.txt | sort | uniq -c | tr '\n' ' ')"
timeout 60 compute-sanitizer --tool synccheck /tmp/sb 300 1 > $OUT/synccheck.txt 2>&1; echo "synccheck rc=$? $(grep -E 'ERROR SUMMARY' $OUT/synccheck.txt | tr '\n' ' ')"
