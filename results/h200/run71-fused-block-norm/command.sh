# run 71 (bundle48, commit in GIT_SHA): skinny_gemm's input RMSNorm prologue and residual accumulate; Mamba-1's one-row decode step with each block's norm in in_proj and its add in out_proj: op trials, racecheck/memcheck of the new trials, Mamba/Mamba-2 goldens and engines, A/B (FK_AB_UNFUSED_BLOCK) of the batch-1 graph decode ABBA; logs in one tar
(cd bundle48 && tar -xJf bin.tar.xz)
B=$PWD/bundle48/bin; R=/tmp/r71; mkdir -p $R $OUT/r71; L=$R/log.txt
export FASTKERNELS_GIT_SHA=$(cat bundle48/GIT_SHA) FASTKERNELS_GOLDENS=$PWD/bundle48/goldens
echo "== sha $FASTKERNELS_GIT_SHA" >> $L
for f in skinny_gemm linear_conv1d_update rms_norm selective_state_update; do echo "== gpu_ops $f $SECONDS" >> $L; timeout 120 $B/fk-baselines.gpu_ops --test-threads 1 $f > $R/ops-$f.txt 2>&1; grep -E "test result|FAILED|panicked|failed" $R/ops-$f.txt >> $L; done
echo "== racecheck $SECONDS" >> $L; timeout 100 compute-sanitizer --tool racecheck --print-limit 20 $B/fk-baselines.gpu_ops --test-threads 1 "skinny_gemm/input rms_norm/bf16" > $R/racecheck.txt 2>&1; tail -2 $R/racecheck.txt >> $L
echo "== memcheck $SECONDS" >> $L; timeout 100 compute-sanitizer --tool memcheck --print-limit 20 $B/fk-baselines.gpu_ops --test-threads 1 "skinny_gemm/" > $R/memcheck.txt 2>&1; tail -2 $R/memcheck.txt >> $L
for t in fk-mamba.model_gpu fk-mamba.engine_gpu fk-mamba2.model_gpu fk-mamba2.engine_gpu; do echo "== $t $SECONDS" >> $L; timeout 150 $B/$t --test-threads 1 > $R/$t.txt 2>&1; grep -E "test result|FAILED|panicked|failed|decode_step logits" $R/$t.txt >> $L; done
for v in A B B A; do
  if [ $v = B ]; then export FK_AB_UNFUSED_BLOCK=1; else unset FK_AB_UNFUSED_BLOCK; fi
  echo "== ab $v mamba $SECONDS" >> $L; timeout 100 $B/fk-mamba.ops --bench --quick --op "MambaForCausalLM decode" --json $R/ab-$v-mamba-$SECONDS.json >> $L 2>&1
done
unset FK_AB_UNFUSED_BLOCK
echo "== mamba2 decode $SECONDS" >> $L; timeout 100 $B/fk-mamba2.ops --bench --quick --op "Mamba2ForCausalLM decode" --json $R/mamba2-decode.json >> $L 2>&1
echo "== done $SECONDS" >> $L
tar -czf $OUT/r71/logs.tar.gz -C $R .
grep -E "^==|test result|FAILED|panicked|failed|decode batch|ERROR SUMMARY|RACECHECK SUMMARY|decode_step logits" $L | tail -80
