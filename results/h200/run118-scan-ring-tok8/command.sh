# run 118 (the tree had FK_RING_TOK 8 and FK_RING_BLOCKS 7 as the defaults in
# baselines/kernels/selective_scan_ring.cuh; reverted to 16 / 5 after it): bundle70 = the ring kernel at 8 tokens per warp (32-token chunks), 7 blocks per SM
# (72 registers, no spills), built with cargo xtask gpu-bundle --out bundle70 --only fk-baselines.gpu_ops,fk-mamba.model_gpu
# A/B first (nvcc here, the tree's sources): that product against run 116's ring kernel (16
# tokens per warp, 5 blocks: scan_ring_tok16_variant.cu) and against itself at 6 and 8 blocks
# per SM (scan_ring_tok8_variant.cu), 8k tokens, two passes, then 2k and 1000 tokens (float64
# checks). Then the product tests on bundle70 as in run 116.
set -x
V=experiments/ssm
nvcc -O3 -std=c++17 --expt-relaxed-constexpr -gencode=arch=compute_90a,code=sm_90a -I baselines/include -DFK_SM90A=1 \
  -DSCAN_VARIANT='"scan_ring_tok16_variant.cu"' $V/scan_bench.cu -o /tmp/sb16 || exit 1
for b in 6 8; do
  nvcc -O3 -std=c++17 --expt-relaxed-constexpr -gencode=arch=compute_90a,code=sm_90a -I baselines/include -DFK_SM90A=1 \
    -DRING8_BLOCKS=$b -DSCAN_VARIANT='"scan_ring_tok8_variant.cu"' $V/scan_bench.cu -o /tmp/sb$b || exit 1
done
for pass in 1 2; do for v in 16 6 8; do /tmp/sb$v 8192 20 | tee $OUT/bench-v$v-$pass.json; done; done
/tmp/sb16 2048 20 | tee $OUT/bench-v16-2k.json
/tmp/sb16 1000 20 | tee $OUT/bench-v16-1000.json
(cd bundle70 && tar -xJf bin.tar.xz)
B=$PWD/bundle70/bin; R=/tmp/r118; mkdir -p $R; L=$OUT/log.txt
export FASTKERNELS_GIT_SHA=$(cat bundle70/GIT_SHA) FASTKERNELS_GOLDENS=$PWD/bundle70/goldens
for k in 1 2; do
  timeout 120 $B/fk-baselines.gpu_ops --test-threads 1 selective_scan > $R/scan-$k.txt 2>&1
  echo "selective_scan pass $k rc=$? $(grep -o 'test result: [a-zA-Z]*\. [0-9]* passed; [0-9]* failed' $R/scan-$k.txt)" >> $L
done
timeout 120 $B/fk-baselines.gpu_ops --test-threads 1 selective_state_update/prefill > $R/ssm.txt 2>&1
echo "prefill-then-decode rc=$? $(grep -o 'test result: [a-zA-Z]*\. [0-9]* passed; [0-9]* failed' $R/ssm.txt)" >> $L
grep -h -A6 "^---- " $R/scan-*.txt $R/ssm.txt | head -40 >> $L
timeout 200 compute-sanitizer --tool racecheck $B/fk-baselines.gpu_ops --test-threads 1 selective_scan/ > $R/racecheck.txt 2>&1
echo "racecheck rc=$? $(grep -E 'RACECHECK SUMMARY' $R/racecheck.txt | sort | uniq -c | tr '\n' ' ')" >> $L
timeout 200 compute-sanitizer --tool memcheck $B/fk-baselines.gpu_ops --test-threads 1 selective_scan/ > $R/memcheck.txt 2>&1
echo "memcheck rc=$? $(grep -E 'ERROR SUMMARY' $R/memcheck.txt | sort | uniq -c | tr '\n' ' ')" >> $L
timeout 150 $B/fk-mamba.model_gpu --test-threads 1 > $R/model.txt 2>&1; echo "model rc=$? $(grep -o 'test result: [a-zA-Z]*\. [0-9]* passed; [0-9]* failed' $R/model.txt)" >> $L
grep -h -A6 "^---- " $R/model.txt | head -20 >> $L
cat $L
tar -czf $OUT/logs.tar.gz -C $R .
