# run 142: bundle85 (the cluster ring kernel fitted for 6 CTAs per SM, run 141, as the product; for 16-bit
# scans of 32-channel groups with >= 1024 tokens per sequence), built with
#   cargo xtask gpu-bundle --out bundle85 --only fk-baselines.gpu_ops,fk-baselines.ops,fk-mamba.model_gpu,fk-mamba.ops
# selective_scan trials twice (fresh seeds; 19 shapes x 3 dtypes + pieces), prefill-then-decode,
# memcheck of the scan trials, Mamba model tests, then op benches (selective_scan with the
# kernel and with FK_SCAN_RING32=0, alternated twice; ssd_chunk_scan for issue 7's SSD ratio) and
# MambaForCausalLM prefill with and without it.
(cd bundle85 && tar -xJf bin.tar.xz)
B=$PWD/bundle85/bin; R=/tmp/r142; mkdir -p $R; L=$OUT/log.txt
export FASTKERNELS_GIT_SHA=$(cat bundle85/GIT_SHA) FASTKERNELS_GOLDENS=$PWD/bundle85/goldens
echo "sha $FASTKERNELS_GIT_SHA" | tee $L
res() { grep -o 'test result: [a-zA-Z]*\. [0-9]* passed; [0-9]* failed' "$1"; }
for k in 1 2; do
  timeout 150 $B/fk-baselines.gpu_ops --test-threads 1 selective_scan > $R/scan-$k.txt 2>&1; echo "selective_scan pass $k rc=$? $(res $R/scan-$k.txt)" | tee -a $L
done
timeout 120 $B/fk-baselines.gpu_ops --test-threads 1 selective_state_update/prefill > $R/ssm.txt 2>&1; echo "prefill-then-decode rc=$? $(res $R/ssm.txt)" | tee -a $L
grep -h -B2 -A12 "^---- \|panicked" $R/scan-*.txt $R/ssm.txt | head -40 | tee -a $L
timeout 150 $B/fk-mamba.model_gpu --test-threads 1 > $R/model.txt 2>&1; echo "mamba model rc=$? $(res $R/model.txt)" | tee -a $L
grep -h -A8 "^---- " $R/model.txt | head -20 | tee -a $L
for i in 1 2; do
  timeout 100 $B/fk-baselines.ops --bench --quick --op selective_scan --json $R/bench-scan32-$i.json > $R/b32-$i.txt 2>&1; echo "bench ring32 $i rc=$?" | tee -a $L; grep -E "8192|2048" $R/b32-$i.txt | tee -a $L
  FK_SCAN_RING32=0 timeout 100 $B/fk-baselines.ops --bench --quick --op selective_scan --json $R/bench-scanring-$i.json > $R/bring-$i.txt 2>&1; echo "bench ring $i rc=$?" | tee -a $L; grep -E "8192|2048" $R/bring-$i.txt | tee -a $L
done
for i in 1 2; do timeout 100 $B/fk-baselines.ops --bench --quick --op ssd_chunk_scan --op selective_scan --json $R/bench-ssd-$i.json > $R/bssd-$i.txt 2>&1; echo "bench ssd+scan $i rc=$?" | tee -a $L; grep -E "8192" $R/bssd-$i.txt | tee -a $L; done
timeout 150 $B/fk-mamba.ops --bench --quick --op "MambaForCausalLM prefill" --json $R/bench-model32.json > $R/m32.txt 2>&1; echo "model prefill ring32 rc=$?" | tee -a $L; grep -iE "prefill" $R/m32.txt | tee -a $L
FK_SCAN_RING32=0 timeout 150 $B/fk-mamba.ops --bench --quick --op "MambaForCausalLM prefill" --json $R/bench-modelring.json > $R/mring.txt 2>&1; echo "model prefill ring rc=$?" | tee -a $L; grep -iE "prefill" $R/mring.txt | tee -a $L
timeout 200 compute-sanitizer --tool memcheck --print-limit 10 $B/fk-baselines.gpu_ops --test-threads 1 selective_scan > $R/memcheck.txt 2>&1
echo "memcheck rc=$? $(grep -E 'ERROR SUMMARY' $R/memcheck.txt | sort | uniq -c | tr '\n' ' ') $(res $R/memcheck.txt)" | tee -a $L
tar -czf $OUT/logs.tar.gz -C $R .
