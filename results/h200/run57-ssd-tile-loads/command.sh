# run 57 (bundle40, commit in GIT_SHA): ssd_chunk_scan with load_tile's 16-byte path unrolled over whole passes: SSD trials, Mamba-2 goldens and engine, memcheck of the bf16 SSD trials; selective_scan and ssd_chunk_scan benched in one call (the 2x point); Mamba-2 prefill; ncu of both SSD passes
(cd bundle40 && tar -xJf bin.tar.xz)
B=$PWD/bundle40/bin; R=$OUT/r57; mkdir -p $R; L=$R/log.txt
export FASTKERNELS_GIT_SHA=$(cat bundle40/GIT_SHA) FASTKERNELS_GOLDENS=$PWD/bundle40/goldens
echo "== sha $FASTKERNELS_GIT_SHA" >> $L
for f in ssd_chunk_scan; do echo "== gpu_ops $f $SECONDS" >> $L; timeout 120 $B/fk-baselines.gpu_ops --test-threads 1 $f 2>&1 | grep -v " ok$" >> $L; done
for t in fk-mamba2.model_gpu fk-mamba2.engine_gpu; do echo "== $t $SECONDS" >> $L; timeout 120 $B/$t --test-threads 1 2>&1 | grep -v " ok$" >> $L; done
for rep in 1 2; do echo "== bench scan+ssd rep $rep $SECONDS" >> $L; timeout 120 $B/fk-baselines.ops --bench --quick --op selective_scan --op ssd_chunk_scan --json $R/bench-scan-ssd-$rep.json >> $L 2>&1; done
echo "== bench mamba2 prefill $SECONDS" >> $L; timeout 90 $B/fk-mamba2.ops --bench --quick --op "Mamba2Mixer prefill" --op "Mamba2ForCausalLM prefill" --op "ssd_chunk_scan" --json $R/bench-mamba2-prefill.json >> $L 2>&1
for k in state_kernel output_kernel; do echo "== ncu $k $SECONDS" >> $L; timeout 90 ncu --cache-control all --clock-control none -k regex:$k --launch-skip 10 --launch-count 1 --section SpeedOfLight --section Occupancy --section LaunchStats --section SchedulerStats --section WarpStateStats --metrics smsp__inst_executed.sum,smsp__thread_inst_executed.sum $B/fk-baselines.ops --bench --quick --op "ssd_chunk_scan 1x8192 heads 80x64" > $R/ncu-$k.txt 2>&1; done
echo "== memcheck $SECONDS" >> $L; timeout 150 compute-sanitizer --tool memcheck --print-limit 20 $B/fk-baselines.gpu_ops --test-threads 1 ssd_chunk_scan/bf16 > $R/memcheck.txt 2>&1; tail -4 $R/memcheck.txt >> $L
echo "== done $SECONDS" >> $L
grep -E "^==|test result|FAILED|panicked|failed|selective_scan |ssd_chunk_scan |prefill" $L | tail -60; grep -E "Duration|SM Frequency|Registers Per|Achieved Occupancy|Issued Warp|inst_executed|Warp Cycles Per Issued" $R/ncu-*.txt
