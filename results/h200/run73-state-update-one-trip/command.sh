# run 73 (bundle50, commit in GIT_SHA): selective_state_update's token operands in one round trip after the PDL wait (parameters before it); x_proj's split rows in one round of 8 (FK_AB_ONE_ROUND off|small|all); tests; A/B against run 72's binary (old/fk-mamba.ops.r72 run with FK_AB_UNFUSED_BLOCK=1: the code of b172d9f) and Mamba-2 against run 71's binary, alternated; ncu durations of the new step's kernels
(cd bundle50 && tar -xJf bin.tar.xz && mkdir -p old && tar -xJf old.tar.xz -C old)
B=$PWD/bundle50/bin; O=$PWD/bundle50/old; R=/tmp/r73; mkdir -p $R $OUT/r73; L=$R/log.txt
export FASTKERNELS_GIT_SHA=$(cat bundle50/GIT_SHA) FASTKERNELS_GOLDENS=$PWD/bundle50/goldens
echo "== sha $FASTKERNELS_GIT_SHA" >> $L
for f in selective_state_update skinny_gemm linear_conv1d_update; do echo "== gpu_ops $f $SECONDS" >> $L; timeout 120 $B/fk-baselines.gpu_ops --test-threads 1 $f > $R/ops-$f.txt 2>&1; grep -E "test result|FAILED|panicked|failed" $R/ops-$f.txt >> $L; done
echo "== racecheck $SECONDS" >> $L; timeout 100 compute-sanitizer --tool racecheck --print-limit 20 $B/fk-baselines.gpu_ops --test-threads 1 "selective_state_update" > $R/racecheck.txt 2>&1; tail -2 $R/racecheck.txt >> $L
for t in fk-mamba.model_gpu fk-mamba.engine_gpu fk-mamba2.model_gpu fk-mamba2.engine_gpu; do echo "== $t $SECONDS" >> $L; timeout 150 $B/$t --test-threads 1 > $R/$t.txt 2>&1; grep -E "test result|FAILED|panicked|failed|decode_step logits" $R/$t.txt >> $L; done
for v in old new off all new old; do
  echo "== ab $v mamba $SECONDS" >> $L
  case $v in
    old) FK_AB_UNFUSED_BLOCK=1 timeout 100 $O/fk-mamba.ops.r72 --bench --quick --op "MambaForCausalLM decode" --json $R/ab-$v-mamba-$SECONDS.json >> $L 2>&1 ;;
    new) timeout 100 $B/fk-mamba.ops --bench --quick --op "MambaForCausalLM decode" --json $R/ab-$v-mamba-$SECONDS.json >> $L 2>&1 ;;
    *) FK_AB_ONE_ROUND=$v timeout 100 $B/fk-mamba.ops --bench --quick --op "MambaForCausalLM decode" --json $R/ab-$v-mamba-$SECONDS.json >> $L 2>&1 ;;
  esac
done
for v in old new new old; do
  echo "== ab $v mamba2 $SECONDS" >> $L
  if [ $v = old ]; then X=$O/fk-mamba2.ops.r71; else X=$B/fk-mamba2.ops; fi
  timeout 100 $X --bench --quick --op "Mamba2ForCausalLM decode" --json $R/ab-$v-mamba2-$SECONDS.json >> $L 2>&1
done
echo "== ncu $SECONDS" >> $L
timeout 150 ncu --graph-profiling node --launch-skip 2000 --launch-count 30 --csv --metrics gpu__time_duration.sum,launch__registers_per_thread,launch__grid_size $B/fk-mamba.ops --bench --quick --op "MambaForCausalLM decode" > $R/ncu-new.csv 2> $R/ncu-new.err
echo "== done $SECONDS" >> $L
tar -czf $OUT/r73/logs.tar.gz -C $R .
grep -E "^==|test result|FAILED|panicked|failed|decode batch|ERROR SUMMARY|RACECHECK SUMMARY|decode_step logits" $L | tail -70
