# run 59 (bundle42, commit in GIT_SHA): the SSD state pass with the raw dt of two chunks in two register sets (loop unrolled by two): SSD trials, racecheck/synccheck/memcheck of the bf16 SSD trials, Mamba-2 goldens and engine; selective_scan and ssd_chunk_scan in one call (twice); Mamba-2 prefill; ncu (sections and stall reasons) of the state pass
(cd bundle42 && tar -xJf bin.tar.xz)
B=$PWD/bundle42/bin; R=$OUT/r59; mkdir -p $R; L=$R/log.txt
export FASTKERNELS_GIT_SHA=$(cat bundle42/GIT_SHA) FASTKERNELS_GOLDENS=$PWD/bundle42/goldens
echo "== sha $FASTKERNELS_GIT_SHA" >> $L
for f in ssd_chunk_scan; do echo "== gpu_ops $f $SECONDS" >> $L; timeout 120 $B/fk-baselines.gpu_ops --test-threads 1 $f 2>&1 | grep -v " ok$" >> $L; done
for t in fk-mamba2.model_gpu fk-mamba2.engine_gpu; do echo "== $t $SECONDS" >> $L; timeout 120 $B/$t --test-threads 1 2>&1 | grep -v " ok$" >> $L; done
for tool in racecheck synccheck memcheck; do echo "== $tool $SECONDS" >> $L; timeout 150 compute-sanitizer --tool $tool --print-limit 20 $B/fk-baselines.gpu_ops --test-threads 1 ssd_chunk_scan/bf16 > $R/$tool.log 2>&1; tail -3 $R/$tool.log >> $L; done
for rep in 1 2; do echo "== bench scan+ssd rep $rep $SECONDS" >> $L; timeout 120 $B/fk-baselines.ops --bench --quick --op selective_scan --op ssd_chunk_scan --json $R/bench-scan-ssd-$rep.json >> $L 2>&1; done
echo "== bench mamba2 prefill $SECONDS" >> $L; timeout 90 $B/fk-mamba2.ops --bench --quick --op "Mamba2Mixer prefill" --op "Mamba2ForCausalLM prefill" --op "ssd_chunk_scan" --json $R/bench-mamba2-prefill.json >> $L 2>&1
M=""; for s in barrier long_scoreboard short_scoreboard mio_throttle math_pipe_throttle wait lg_throttle dispatch_stall not_selected selected no_instruction branch_resolving; do M="$M,smsp__average_warps_issue_stalled_${s}_per_issue_active.ratio"; done
echo "== ncu state $SECONDS" >> $L; timeout 90 ncu --cache-control all --clock-control none -k regex:state_kernel --launch-skip 10 --launch-count 1 --section SpeedOfLight --section Occupancy --section SchedulerStats --metrics smsp__inst_executed.sum${M} $B/fk-baselines.ops --bench --quick --op "ssd_chunk_scan 1x8192 heads 80x64" > $R/ncu-state_kernel.txt 2>&1
echo "== done $SECONDS" >> $L
grep -E "^==|test result|FAILED|panicked|failed|ERROR SUMMARY|RACECHECK SUMMARY|selective_scan |ssd_chunk_scan |prefill" $L | tail -50; grep -E "Duration|SM Frequency|Registers Per|Achieved Occupancy|Issued Warp|inst_executed|stalled_(long|short|wait|barrier)" $R/ncu-state_kernel.txt
