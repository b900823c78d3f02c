# run 80 (bundle56, commit in GIT_SHA): the dt_proj state update lets out_proj's GEMV launch before it waits (launch_dependents first): state update trials, racecheck of them, Mamba goldens and engine; Mamba-1 decode A/B alternated against bundle53's binary (04a534c: the same kernels without this change), three rounds
(cd bundle56 && tar -xJf bin.tar.xz && mkdir -p old && tar -xJf old.tar.xz -C old)
B=$PWD/bundle56/bin; O=$PWD/bundle56/old/bin; R=/tmp/r80; mkdir -p $R $OUT/r80; L=$R/log.txt
export FASTKERNELS_GIT_SHA=$(cat bundle56/GIT_SHA) FASTKERNELS_GOLDENS=$PWD/bundle56/goldens
echo "== sha $FASTKERNELS_GIT_SHA" >> $L
echo "== gpu_ops selective_state_update $SECONDS" >> $L; timeout 120 $B/fk-baselines.gpu_ops --test-threads 1 selective_state_update > $R/ops-ssu.txt 2>&1; grep -E "test result|FAILED|panicked|failed" $R/ops-ssu.txt >> $L
echo "== racecheck $SECONDS" >> $L; timeout 150 compute-sanitizer --tool racecheck --print-limit 20 $B/fk-baselines.gpu_ops --test-threads 1 "selective_state_update" > $R/racecheck.txt 2>&1; tail -2 $R/racecheck.txt >> $L
for t in fk-mamba.model_gpu fk-mamba.engine_gpu; do echo "== $t $SECONDS" >> $L; timeout 150 $B/$t --test-threads 1 > $R/$t.txt 2>&1; grep -E "test result|FAILED|panicked|failed" $R/$t.txt >> $L; done
for v in old new new old old new; do
  echo "== ab $v $SECONDS" >> $L
  if [ $v = old ]; then X=$O/fk-mamba.ops; else X=$B/fk-mamba.ops; fi
  timeout 60 $X --bench --quick --op "MambaForCausalLM decode" --json $R/ab-$v-$SECONDS.json >> $L 2>&1
done
echo "== done $SECONDS" >> $L
tar -czf $OUT/r80/logs.tar.gz -C $R .
grep -E "^==|test result|FAILED|panicked|failed|decode batch|ERROR SUMMARY|RACECHECK SUMMARY" $L | tail -60
