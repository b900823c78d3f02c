# run 70 (bundle47, commit in GIT_SHA): the review's mends to ssd_chunk_scan (state_row, rows_left, constants; no intended change in behaviour): SSD trials with the Hopper output pass and with FK_SSD_OUTPUT_PASS=mma, Mamba-2 goldens, racecheck of the bf16 SSD trials, scan and SSD bench once; logs in one tar
(cd bundle47 && tar -xJf bin.tar.xz)
B=$PWD/bundle47/bin; R=/tmp/r70; mkdir -p $R $OUT/r70; L=$R/log.txt
export FASTKERNELS_GIT_SHA=$(cat bundle47/GIT_SHA) FASTKERNELS_GOLDENS=$PWD/bundle47/goldens
echo "== sha $FASTKERNELS_GIT_SHA" >> $L
echo "== ssd (sm90) $SECONDS" >> $L; timeout 100 $B/fk-baselines.gpu_ops --test-threads 1 ssd_chunk_scan 2>&1 | grep -E "test result|FAILED|panicked" >> $L
echo "== ssd (mma) $SECONDS" >> $L; FK_SSD_OUTPUT_PASS=mma timeout 100 $B/fk-baselines.gpu_ops --test-threads 1 ssd_chunk_scan 2>&1 | grep -E "test result|FAILED|panicked" >> $L
echo "== mamba2 goldens $SECONDS" >> $L; timeout 60 $B/fk-mamba2.model_gpu --test-threads 1 2>&1 | grep -E "test result|FAILED|panicked" >> $L
echo "== racecheck $SECONDS" >> $L; timeout 80 compute-sanitizer --tool racecheck --print-limit 20 $B/fk-baselines.gpu_ops --test-threads 1 ssd_chunk_scan/bf16 > $R/racecheck.txt 2>&1; tail -2 $R/racecheck.txt >> $L
echo "== bench $SECONDS" >> $L; timeout 60 $B/fk-baselines.ops --bench --quick --op selective_scan --op ssd_chunk_scan --json $R/bench.json 2>&1 | grep 8192 >> $L
echo "== done $SECONDS" >> $L
tar -czf $OUT/r70/logs.tar.gz -C $R .
cat $L
