# run 66 (bundle46, commit in GIT_SHA; bundle45 = ee41273 as the A side): the Hopper SSD output pass with per-stage mbarriers instead of a barrier per unit: SSD trials (sm90 output pass and FK_SSD_OUTPUT_PASS=mma), racecheck/synccheck/memcheck of the bf16 SSD trials, Mamba-2 goldens and engine; scan and SSD A/B against bundle45 in one call (alternated twice); Mamba-2 prefill; ncu of the output pass
(cd bundle46 && tar -xJf bin.tar.xz && mkdir -p old/bin && tar -xJf old/ops45.tar.xz -C old/bin)
A=$PWD/bundle46/old/bin; B=$PWD/bundle46/bin; R=$OUT/r66; mkdir -p $R; L=$R/log.txt
export FASTKERNELS_GIT_SHA=$(cat bundle46/GIT_SHA) FASTKERNELS_GOLDENS=$PWD/bundle46/goldens
echo "== sha $FASTKERNELS_GIT_SHA (A side: ee41273, bundle45 fk-baselines.ops)" >> $L
echo "== gpu_ops ssd_chunk_scan (sm90 pass) $SECONDS" >> $L; timeout 150 $B/fk-baselines.gpu_ops --test-threads 1 ssd_chunk_scan 2>&1 | grep -v " ok$" >> $L
echo "== gpu_ops ssd_chunk_scan (FK_SSD_OUTPUT_PASS=mma) $SECONDS" >> $L; FK_SSD_OUTPUT_PASS=mma timeout 150 $B/fk-baselines.gpu_ops --test-threads 1 ssd_chunk_scan 2>&1 | grep -v " ok$" >> $L
for t in fk-mamba2.model_gpu fk-mamba2.engine_gpu; do echo "== $t $SECONDS" >> $L; timeout 120 $B/$t --test-threads 1 2>&1 | grep -v " ok$" >> $L; done
for rep in 1 2; do
  echo "== bench scan+ssd NEW rep $rep $SECONDS" >> $L; timeout 120 $B/fk-baselines.ops --bench --quick --op selective_scan --op ssd_chunk_scan --json $R/bench-new-$rep.json >> $L 2>&1
  echo "== bench scan+ssd OLD (bundle45) rep $rep $SECONDS" >> $L; timeout 120 $A/fk-baselines.ops --bench --quick --op selective_scan --op ssd_chunk_scan --json $R/bench-old-$rep.json >> $L 2>&1
done
echo "== bench mamba2 prefill $SECONDS" >> $L; timeout 90 $B/fk-mamba2.ops --bench --quick --op "Mamba2Mixer prefill" --op "Mamba2ForCausalLM prefill" --op "ssd_chunk_scan" --json $R/bench-mamba2-prefill.json >> $L 2>&1
M=""; for s in barrier long_scoreboard short_scoreboard wait math_pipe_throttle mio_throttle not_selected selected; do M="$M,smsp__average_warps_issue_stalled_${s}_per_issue_active.ratio"; done
echo "== ncu output $SECONDS" >> $L; timeout 90 ncu --cache-control all --clock-control none -k regex:output_sm90 --launch-skip 5 --launch-count 1 --section SpeedOfLight --section SchedulerStats --metrics smsp__inst_executed.sum${M} $B/fk-baselines.ops --bench --quick --op "ssd_chunk_scan 1x8192 heads 80x64" > $R/ncu-output.txt 2>&1
for tool in racecheck synccheck memcheck; do echo "== $tool $SECONDS" >> $L; timeout 100 compute-sanitizer --tool $tool --print-limit 20 $B/fk-baselines.gpu_ops --test-threads 1 ssd_chunk_scan/bf16 > $R/$tool.txt 2>&1; tail -3 $R/$tool.txt >> $L; done
echo "== done $SECONDS" >> $L
grep -E "^==|test result|FAILED|panicked|failed|ERROR SUMMARY|RACECHECK SUMMARY|selective_scan .*8192|ssd_chunk_scan .*8192|prefill" $L | tail -50; grep -E "Duration|Issued Warp|inst_executed.sum |stalled" $R/ncu-output.txt
