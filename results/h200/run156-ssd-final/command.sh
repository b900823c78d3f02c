# run 156: bundle89 (046db75, code as 85e0c4a: the Hopper state pass's sums by bulk copy and its next copies issued after the wgmma), built with
#   cargo xtask gpu-bundle --out bundle89 --only fk-baselines.gpu_ops,fk-baselines.ops,fk-mamba2.model_gpu,fk-mamba2.ops,fk-mamba2.engine_gpu
# SSD trials (Hopper passes, and the mma.sync state pass), Mamba-2 model and engine tests,
# memcheck and racecheck of the bf16 SSD trials, the scan/SSD op bench twice, Mamba2ForCausalLM
# prefill.
(cd bundle89 && tar -xJf bin.tar.xz)
B=$PWD/bundle89/bin; R=/tmp/r156; mkdir -p $R; L=$OUT/log.txt
export FASTKERNELS_GIT_SHA=$(cat bundle89/GIT_SHA) FASTKERNELS_GOLDENS=$PWD/bundle89/goldens
echo "sha $FASTKERNELS_GIT_SHA" | tee $L
res() { grep -o 'test result: [a-zA-Z]*\. [0-9]* passed; [0-9]* failed' "$1"; }
timeout 150 $B/fk-baselines.gpu_ops --test-threads 1 ssd_chunk_scan > $R/ssd.txt 2>&1; echo "ssd rc=$? $(res $R/ssd.txt)" | tee -a $L
grep -h -B2 -A12 "^---- \|panicked" $R/ssd.txt | head -30 | tee -a $L
FK_SSD_STATE_PASS=mma timeout 150 $B/fk-baselines.gpu_ops --test-threads 1 ssd_chunk_scan > $R/ssd-mma.txt 2>&1; echo "ssd (mma state pass) rc=$? $(res $R/ssd-mma.txt)" | tee -a $L
timeout 150 $B/fk-mamba2.model_gpu --test-threads 1 > $R/model.txt 2>&1; echo "mamba2 model rc=$? $(res $R/model.txt)" | tee -a $L
timeout 150 $B/fk-mamba2.engine_gpu --test-threads 1 > $R/engine.txt 2>&1; echo "mamba2 engine rc=$? $(res $R/engine.txt)" | tee -a $L
grep -h -A8 "^---- " $R/model.txt $R/engine.txt | head -20 | tee -a $L
for i in 1 2; do
  timeout 100 $B/fk-baselines.ops --bench --quick --op ssd_chunk_scan --op selective_scan --json $OUT/bench-ops-$i.json > $R/b-$i.txt 2>&1; echo "bench $i rc=$?" | tee -a $L; grep -E "8192" $R/b-$i.txt | tee -a $L
done
timeout 150 $B/fk-mamba2.ops --bench --quick --op "Mamba2ForCausalLM prefill" --json $OUT/bench-m2.json > $R/m2.txt 2>&1; echo "m2 prefill rc=$?" | tee -a $L; grep -iE "prefill" $R/m2.txt | tee -a $L
timeout 150 compute-sanitizer --tool memcheck --print-limit 10 $B/fk-baselines.gpu_ops --test-threads 1 ssd_chunk_scan/bf16 > $R/memcheck.txt 2>&1
echo "memcheck rc=$? $(grep -E 'ERROR SUMMARY' $R/memcheck.txt | sort | uniq -c | tr '\n' ' ') $(res $R/memcheck.txt)" | tee -a $L
timeout 200 compute-sanitizer --tool racecheck $B/fk-baselines.gpu_ops --test-threads 1 ssd_chunk_scan/bf16 > $R/racecheck.txt 2>&1
echo "racecheck rc=$? $(grep -E 'RACECHECK SUMMARY|ERROR SUMMARY' $R/racecheck.txt | sort | uniq -c | tr '\n' ' ') $(res $R/racecheck.txt)" | tee -a $L
tar -czf $OUT/logs.tar.gz -C $R .
