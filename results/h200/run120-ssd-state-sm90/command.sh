# run 120: bundle71 (ssd_chunk_scan's Hopper state pass, fk/ssd/state_sm90.cuh, after the
# chunk_sums pre-pass), built with
#   cargo xtask gpu-bundle --out bundle71 --only fk-baselines.gpu_ops,fk-baselines.ops,fk-mamba2.model_gpu,fk-mamba2.engine_gpu
# The SSD trials with the new state pass and with FK_SSD_STATE_PASS=mma (the mma.sync pass),
# the Mamba-2 model and engine tests, then the A/B bench of SSD (and the Mamba-1 scan at equal
# width: issue 7's SSD >= 2x bar) alternated twice, racecheck of the SSD trials, and an ncu
# summary of the new pass.
(cd bundle71 && tar -xJf bin.tar.xz)
B=$PWD/bundle71/bin; R=/tmp/r120; mkdir -p $R; L=$OUT/log.txt
export FASTKERNELS_GIT_SHA=$(cat bundle71/GIT_SHA) FASTKERNELS_GOLDENS=$PWD/bundle71/goldens
res() { grep -o 'test result: [a-zA-Z]*\. [0-9]* passed; [0-9]* failed' "$1"; }
timeout 120 $B/fk-baselines.gpu_ops --test-threads 1 ssd_chunk_scan > $R/ssd-sm90.txt 2>&1
echo "ssd (state_sm90) rc=$? $(res $R/ssd-sm90.txt)" >> $L
FK_SSD_STATE_PASS=mma timeout 120 $B/fk-baselines.gpu_ops --test-threads 1 ssd_chunk_scan > $R/ssd-mma.txt 2>&1
echo "ssd (FK_SSD_STATE_PASS=mma) rc=$? $(res $R/ssd-mma.txt)" >> $L
grep -h -B2 -A12 "^---- \|panicked" $R/ssd-sm90.txt | head -80 >> $L
timeout 150 $B/fk-mamba2.model_gpu --test-threads 1 > $R/model.txt 2>&1; echo "mamba2 model rc=$? $(res $R/model.txt)" >> $L
timeout 150 $B/fk-mamba2.engine_gpu --test-threads 1 > $R/engine.txt 2>&1; echo "mamba2 engine rc=$? $(res $R/engine.txt)" >> $L
grep -h -A8 "^---- " $R/model.txt $R/engine.txt | head -30 >> $L
cat $L
for pass in 1 2; do
  for mode in sm90 mma; do
    if [ $mode = mma ]; then export FK_SSD_STATE_PASS=mma; else unset FK_SSD_STATE_PASS; fi
    timeout 120 $B/fk-baselines.ops --bench --quick --op selective_scan --op ssd_chunk_scan --json $OUT/bench-$mode-$pass.json > $R/bench-$mode-$pass.txt 2>&1
    echo "bench $mode $pass rc=$?" | tee -a $L; grep -E "8192|8k" $R/bench-$mode-$pass.txt | tee -a $L
  done
done
unset FK_SSD_STATE_PASS
timeout 200 compute-sanitizer --tool racecheck $B/fk-baselines.gpu_ops --test-threads 1 ssd_chunk_scan/bf16 > $R/racecheck.txt 2>&1
echo "racecheck rc=$? $(grep -E 'RACECHECK SUMMARY|ERROR SUMMARY' $R/racecheck.txt | sort | uniq -c | tr '\n' ' ')" | tee -a $L
timeout 120 ncu --kernel-name regex:'state_sm90|chunk_sums|output_sm90' --launch-skip 0 --launch-count 3 --section SpeedOfLight --section Occupancy \
  $B/fk-baselines.ops --bench --quick --op 'ssd_chunk_scan 1x8192 heads 80' > $R/ncu.txt 2>&1
echo "ncu rc=$?" >> $L; grep -E "state_sm90|chunk_sums|output_sm90|Duration|Throughput|Achieved Occ" $R/ncu.txt | head -40 >> $L
tar -czf $OUT/logs.tar.gz -C $R .
