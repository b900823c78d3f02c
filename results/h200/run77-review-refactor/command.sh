# run 77 (bundle53, commit in GIT_SHA): after the review's host-side refactor of skinny_gemm's variant choice (sm_count): skinny, linear_conv and state update trials, Mamba goldens, Mamba-1 decode bench (the one-round x_proj still taken: same step time as run 76)
(cd bundle53 && tar -xJf bin.tar.xz)
B=$PWD/bundle53/bin; R=/tmp/r77; mkdir -p $R $OUT/r77; L=$R/log.txt
export FASTKERNELS_GIT_SHA=$(cat bundle53/GIT_SHA) FASTKERNELS_GOLDENS=$PWD/bundle53/goldens
echo "== sha $FASTKERNELS_GIT_SHA" >> $L
for f in skinny_gemm linear_conv1d_update selective_state_update; do echo "== gpu_ops $f $SECONDS" >> $L; timeout 120 $B/fk-baselines.gpu_ops --test-threads 1 $f > $R/ops-$f.txt 2>&1; grep -E "test result|FAILED|panicked|failed" $R/ops-$f.txt >> $L; done
echo "== fk-mamba.model_gpu $SECONDS" >> $L; timeout 150 $B/fk-mamba.model_gpu --test-threads 1 > $R/model.txt 2>&1; grep -E "test result|FAILED|panicked|failed" $R/model.txt >> $L
for i in 1 2; do echo "== bench mamba $SECONDS" >> $L; timeout 100 $B/fk-mamba.ops --bench --quick --op "MambaForCausalLM decode" --json $R/bench-$i.json >> $L 2>&1; done
echo "== done $SECONDS" >> $L
tar -czf $OUT/r77/logs.tar.gz -C $R .
grep -E "^==|test result|FAILED|panicked|failed|decode batch" $L
