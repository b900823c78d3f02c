# run 144: bundle87 = 42f7d5c (the session's final kernels: the B/C conversion and smem setup
# shared by the ring kernels, SASS identical to run 142/143's), built with
#   cargo xtask gpu-bundle --out bundle87 --only fk-baselines.gpu_ops
# every selective_scan, selective_state_update, causal_conv1d and ssd_chunk_scan trial once.
(cd bundle87 && tar -xJf bin.tar.xz)
B=$PWD/bundle87/bin; R=/tmp/r144; mkdir -p $R; L=$OUT/log.txt
export FASTKERNELS_GIT_SHA=$(cat bundle87/GIT_SHA) FASTKERNELS_GOLDENS=$PWD/bundle87/goldens
echo "sha $FASTKERNELS_GIT_SHA" | tee $L
res() { grep -o 'test result: [a-zA-Z]*\. [0-9]* passed; [0-9]* failed' "$1"; }
for f in selective_scan selective_state_update causal_conv1d ssd_chunk_scan; do
  timeout 150 $B/fk-baselines.gpu_ops --test-threads 1 $f > $R/$f.txt 2>&1; echo "$f rc=$? $(res $R/$f.txt)" | tee -a $L
done
grep -h -B2 -A12 "^---- \|panicked" $R/*.txt | head -30 | tee -a $L
tar -czf $OUT/logs.tar.gz -C $R .
