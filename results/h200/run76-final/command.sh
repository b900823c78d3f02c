# run 76 (bundle52, commit in GIT_SHA): the session's final kernels: state update, skinny, linear_conv trials; racecheck of the state update trials; Mamba/Mamba-2 goldens and engines; decode A/B alternated against the pre-session binaries (Mamba-1: run 72's with FK_AB_UNFUSED_BLOCK=1 = b172d9f; Mamba-2: run 71's)
(cd bundle52 && tar -xJf bin.tar.xz && mkdir -p old && tar -xJf old.tar.xz -C old)
B=$PWD/bundle52/bin; O=$PWD/bundle52/old; R=/tmp/r76; mkdir -p $R $OUT/r76; L=$R/log.txt
export FASTKERNELS_GIT_SHA=$(cat bundle52/GIT_SHA) FASTKERNELS_GOLDENS=$PWD/bundle52/goldens
echo "== sha $FASTKERNELS_GIT_SHA" >> $L
for f in selective_state_update skinny_gemm linear_conv1d_update; do echo "== gpu_ops $f $SECONDS" >> $L; timeout 120 $B/fk-baselines.gpu_ops --test-threads 1 $f > $R/ops-$f.txt 2>&1; grep -E "test result|FAILED|panicked|failed" $R/ops-$f.txt >> $L; done
echo "== racecheck $SECONDS" >> $L; timeout 150 compute-sanitizer --tool racecheck --print-limit 20 $B/fk-baselines.gpu_ops --test-threads 1 "selective_state_update" > $R/racecheck.txt 2>&1; tail -2 $R/racecheck.txt >> $L
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
echo "== done $SECONDS" >> $L
tar -czf $OUT/r76/logs.tar.gz -C $R .
grep -E "^==|test result|FAILED|panicked|failed|decode batch|ERROR SUMMARY|RACECHECK SUMMARY|decode_step logits" $L | tail -60
