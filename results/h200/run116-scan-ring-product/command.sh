# run 116: bundle69 (the ring kernel as the product's selective_scan for 16-bit, d_state <= 16,
# 8-aligned channels), built with cargo xtask gpu-bundle --out bundle69 --only fk-baselines.gpu_ops,fk-mamba.model_gpu
# Every selective_scan / SSM op test (trials at 17 shapes x 3 dtypes, two pieces = one piece,
# prefill then decode, errors) three times with fresh seeds, memcheck and racecheck of them once,
# the Mamba model tests (goldens, prefill-then-decode, engine), then the A/B of the product (ring)
# against the chunked kernel (experiments/ssm/scan_chunked_variant.cu) at 8k, 2k and 1000 tokens.
(cd bundle69 && tar -xJf bin.tar.xz)
B=$PWD/bundle69/bin; R=/tmp/r116; mkdir -p $R; L=$OUT/log.txt
export FASTKERNELS_GIT_SHA=$(cat bundle69/GIT_SHA) FASTKERNELS_GOLDENS=$PWD/bundle69/goldens
for k in 1 2 3; do
  timeout 120 $B/fk-baselines.gpu_ops --test-threads 1 selective_scan > $R/scan-$k.txt 2>&1
  echo "selective_scan pass $k rc=$? $(grep -o 'test result: [a-zA-Z]*\. [0-9]* passed; [0-9]* failed' $R/scan-$k.txt)" >> $L
done
timeout 120 $B/fk-baselines.gpu_ops --test-threads 1 selective_state_update/prefill > $R/ssm.txt 2>&1
echo "prefill-then-decode rc=$? $(grep -o 'test result: [a-zA-Z]*\. [0-9]* passed; [0-9]* failed' $R/ssm.txt)" >> $L
grep -h -A6 "^---- \|panicked" $R/scan-*.txt $R/ssm.txt | head -40 >> $L
timeout 200 compute-sanitizer --tool memcheck $B/fk-baselines.gpu_ops --test-threads 1 selective_scan > $R/memcheck.txt 2>&1
echo "memcheck rc=$? $(grep -E 'ERROR SUMMARY' $R/memcheck.txt | sort | uniq -c | tr '\n' ' ')" >> $L
timeout 200 compute-sanitizer --tool racecheck $B/fk-baselines.gpu_ops --test-threads 1 selective_scan/ > $R/racecheck.txt 2>&1
echo "racecheck rc=$? $(grep -E 'RACECHECK SUMMARY|ERROR SUMMARY' $R/racecheck.txt | sort | uniq -c | tr '\n' ' ')" >> $L
timeout 150 $B/fk-mamba.model_gpu --test-threads 1 > $R/model.txt 2>&1; echo "model rc=$? $(grep -o 'test result: [a-zA-Z]*\. [0-9]* passed; [0-9]* failed' $R/model.txt)" >> $L
grep -h -A6 "^---- " $R/model.txt | head -20 >> $L
cat $L
tar -czf $OUT/logs.tar.gz -C $R .
nvcc -O3 -std=c++17 --expt-relaxed-constexpr -gencode=arch=compute_90a,code=sm_90a \
  -I baselines/include -DFK_SM90A=1 -DSCAN_VARIANT='"scan_chunked_variant.cu"' \
  experiments/ssm/scan_bench.cu -o /tmp/sb || exit 1
for t in 8192 2048 1000; do /tmp/sb $t 20 | tee $OUT/bench-$t.json; done
