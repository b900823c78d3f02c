# run 74 (bundle51, commit in GIT_SHA): the session's kernels: every fk-baselines GPU trial, racecheck of the scan and state-update trials, Mamba/Mamba-2 goldens and engines; A/B alternated against the previous binaries (Mamba-1 decode vs run 72's with FK_AB_UNFUSED_BLOCK=1 = b172d9f; Mamba-2 decode vs run 71's; selective_scan vs run 70's); ncu durations of the Mamba-1 step's kernels
(cd bundle51 && tar -xJf bin.tar.xz && mkdir -p old && tar -xJf old.tar.xz -C old)
B=$PWD/bundle51/bin; O=$PWD/bundle51/old; R=/tmp/r74; mkdir -p $R $OUT/r74; L=$R/log.txt
export FASTKERNELS_GIT_SHA=$(cat bundle51/GIT_SHA) FASTKERNELS_GOLDENS=$PWD/bundle51/goldens
echo "== sha $FASTKERNELS_GIT_SHA" >> $L
echo "== gpu_ops all $SECONDS" >> $L; timeout 300 $B/fk-baselines.gpu_ops --test-threads 1 > $R/ops-all.txt 2>&1; grep -E "test result|FAILED|panicked|failed" $R/ops-all.txt >> $L
echo "== racecheck $SECONDS" >> $L; timeout 150 compute-sanitizer --tool racecheck --print-limit 20 $B/fk-baselines.gpu_ops --test-threads 1 "selective_s" > $R/racecheck.txt 2>&1; tail -2 $R/racecheck.txt >> $L
for t in fk-mamba.model_gpu fk-mamba.engine_gpu fk-mamba2.model_gpu fk-mamba2.engine_gpu; do echo "== $t $SECONDS" >> $L; timeout 150 $B/$t --test-threads 1 > $R/$t.txt 2>&1; grep -E "test result|FAILED|panicked|failed|decode_step logits" $R/$t.txt >> $L; done
for v in old new new old; do
  echo "== ab $v mamba $SECONDS" >> $L
  if [ $v = old ]; then FK_AB_UNFUSED_BLOCK=1 timeout 100 $O/fk-mamba.ops.r72 --bench --quick --op "MambaForCausalLM decode" --json $R/ab-$v-mamba-$SECONDS.json >> $L 2>&1
  else timeout 100 $B/fk-mamba.ops --bench --quick --op "MambaForCausalLM decode" --json $R/ab-$v-mamba-$SECONDS.json >> $L 2>&1; fi
done
for v in old new new old; do
  echo "== ab $v mamba2 $SECONDS" >> $L
  if [ $v = old ]; then X=$O/fk-mamba2.ops.r71; else X=$B/fk-mamba2.ops; fi
  timeout 100 $X --bench --quick --op "Mamba2ForCausalLM decode" --json $R/ab-$v-mamba2-$SECONDS.json >> $L 2>&1
done
for v in old new new old; do
  echo "== ab $v scan $SECONDS" >> $L
  if [ $v = old ]; then X=$O/fk-baselines.ops.r70; else X=$B/fk-baselines.ops; fi
  timeout 100 $X --bench --quick --op selective_scan --json $R/ab-$v-scan-$SECONDS.json 2>&1 | grep -E "8192|copy bandwidth" >> $L
done
echo "== ncu $SECONDS" >> $L
timeout 150 ncu --graph-profiling node --launch-skip 2000 --launch-count 30 --csv --metrics gpu__time_duration.sum,launch__registers_per_thread,launch__grid_size $B/fk-mamba.ops --bench --quick --op "MambaForCausalLM decode" > $R/ncu-new.csv 2> $R/ncu-new.err
echo "== done $SECONDS" >> $L
tar -czf $OUT/r74/logs.tar.gz -C $R .
grep -E "^==|test result|FAILED|panicked|failed|decode batch|ERROR SUMMARY|RACECHECK SUMMARY|decode_step logits|8192" $L | tail -80
