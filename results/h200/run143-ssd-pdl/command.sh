# run 143: bundle86 (ssd_chunk_scan's Hopper state and output passes launched dependent on the
# pass before them: programmatic dependent launch; FK_SSD_PDL=0 launches them plainly), built with
#   cargo xtask gpu-bundle --out bundle86 --only fk-baselines.gpu_ops,fk-baselines.ops,fk-mamba2.model_gpu,fk-mamba2.ops
# SSD trials, Mamba-2 model tests, memcheck of the bf16 SSD trials, then the scan/SSD op bench
# with and without PDL alternated twice, and Mamba2ForCausalLM prefill with and without.
(cd bundle86 && tar -xJf bin.tar.xz)
B=$PWD/bundle86/bin; R=/tmp/r143; mkdir -p $R; L=$OUT/log.txt
export FASTKERNELS_GIT_SHA=$(cat bundle86/GIT_SHA) FASTKERNELS_GOLDENS=$PWD/bundle86/goldens
echo "sha $FASTKERNELS_GIT_SHA" | tee $L
res() { grep -o 'test result: [a-zA-Z]*\. [0-9]* passed; [0-9]* failed' "$1"; }
timeout 150 $B/fk-baselines.gpu_ops --test-threads 1 ssd_chunk_scan > $R/ssd.txt 2>&1; echo "ssd rc=$? $(res $R/ssd.txt)" | tee -a $L
grep -h -B2 -A12 "^---- \|panicked" $R/ssd.txt | head -30 | tee -a $L
timeout 150 $B/fk-mamba2.model_gpu --test-threads 1 > $R/model.txt 2>&1; echo "mamba2 model rc=$? $(res $R/model.txt)" | tee -a $L
grep -h -A8 "^---- " $R/model.txt | head -20 | tee -a $L
for i in 1 2; do
  timeout 100 $B/fk-baselines.ops --bench --quick --op ssd_chunk_scan --op selective_scan --json $R/bench-pdl-$i.json > $R/bp-$i.txt 2>&1; echo "bench pdl $i rc=$?" | tee -a $L; grep -E "8192" $R/bp-$i.txt | tee -a $L
  FK_SSD_PDL=0 timeout 100 $B/fk-baselines.ops --bench --quick --op ssd_chunk_scan --op selective_scan --json $R/bench-plain-$i.json > $R/bn-$i.txt 2>&1; echo "bench plain $i rc=$?" | tee -a $L; grep -E "8192" $R/bn-$i.txt | tee -a $L
done
timeout 150 $B/fk-mamba2.ops --bench --quick --op "Mamba2ForCausalLM prefill" --json $R/bench-m2-pdl.json > $R/m2p.txt 2>&1; echo "m2 prefill pdl rc=$?" | tee -a $L; grep -iE "prefill" $R/m2p.txt | tee -a $L
FK_SSD_PDL=0 timeout 150 $B/fk-mamba2.ops --bench --quick --op "Mamba2ForCausalLM prefill" --json $R/bench-m2-plain.json > $R/m2n.txt 2>&1; echo "m2 prefill plain rc=$?" | tee -a $L; grep -iE "prefill" $R/m2n.txt | tee -a $L
timeout 150 compute-sanitizer --tool memcheck --print-limit 10 $B/fk-baselines.gpu_ops --test-threads 1 ssd_chunk_scan/bf16 > $R/memcheck.txt 2>&1
echo "memcheck rc=$? $(grep -E 'ERROR SUMMARY' $R/memcheck.txt | sort | uniq -c | tr '\n' ' ') $(res $R/memcheck.txt)" | tee -a $L
tar -czf $OUT/logs.tar.gz -C $R .
