# run 72 (bundle49, commit in GIT_SHA): the norm prologue with batched loads and L2-prefetched first round, the accumulate's early load; tests (skinny, linear_conv, Mamba goldens/engine), racecheck of the norm trials, A/B (FK_AB_UNFUSED_BLOCK) of Mamba-1 batch-1 graph decode ABBA, ncu durations of the step's GEMVs both ways
(cd bundle49 && tar -xJf bin.tar.xz)
B=$PWD/bundle49/bin; R=/tmp/r72; mkdir -p $R $OUT/r72; L=$R/log.txt
export FASTKERNELS_GIT_SHA=$(cat bundle49/GIT_SHA) FASTKERNELS_GOLDENS=$PWD/bundle49/goldens
echo "== sha $FASTKERNELS_GIT_SHA" >> $L
for f in skinny_gemm linear_conv1d_update; do echo "== gpu_ops $f $SECONDS" >> $L; timeout 120 $B/fk-baselines.gpu_ops --test-threads 1 $f > $R/ops-$f.txt 2>&1; grep -E "test result|FAILED|panicked|failed" $R/ops-$f.txt >> $L; done
echo "== racecheck $SECONDS" >> $L; timeout 100 compute-sanitizer --tool racecheck --print-limit 20 $B/fk-baselines.gpu_ops --test-threads 1 "skinny_gemm/input rms_norm" > $R/racecheck.txt 2>&1; tail -2 $R/racecheck.txt >> $L
for t in fk-mamba.model_gpu fk-mamba.engine_gpu; do echo "== $t $SECONDS" >> $L; timeout 150 $B/$t --test-threads 1 > $R/$t.txt 2>&1; grep -E "test result|FAILED|panicked|failed|decode_step logits" $R/$t.txt >> $L; done
for v in A B B A; do
  if [ $v = B ]; then export FK_AB_UNFUSED_BLOCK=1; else unset FK_AB_UNFUSED_BLOCK; fi
  echo "== ab $v mamba $SECONDS" >> $L; timeout 100 $B/fk-mamba.ops --bench --quick --op "MambaForCausalLM decode" --json $R/ab-$v-mamba-$SECONDS.json >> $L 2>&1
done
for v in A B; do
  if [ $v = B ]; then export FK_AB_UNFUSED_BLOCK=1; else unset FK_AB_UNFUSED_BLOCK; fi
  echo "== ncu $v $SECONDS" >> $L
  timeout 150 ncu --graph-profiling node --launch-skip 2000 --launch-count 30 --csv --metrics gpu__time_duration.sum,launch__registers_per_thread,launch__grid_size $B/fk-mamba.ops --bench --quick --op "MambaForCausalLM decode" > $R/ncu-$v.csv 2> $R/ncu-$v.err
  grep -c gpu__time_duration $R/ncu-$v.csv >> $L
done
unset FK_AB_UNFUSED_BLOCK
echo "== done $SECONDS" >> $L
tar -czf $OUT/r72/logs.tar.gz -C $R .
grep -E "^==|test result|FAILED|panicked|failed|decode batch|ERROR SUMMARY|RACECHECK SUMMARY|decode_step logits" $L | tail -60
