# run 39 (bundle22 0cb98cf): review mends (split rule without the device query for long rows, linear_conv fallback through conv_update, trials' helpers)
(cd bundle22 && tar -xJf bin.tar.xz)
B=$PWD/bundle22/bin; R=/tmp/r; mkdir -p $R; L=$R/log.txt
export FASTKERNELS_GIT_SHA=$(cat bundle22/GIT_SHA) FASTKERNELS_GOLDENS=$PWD/bundle22/goldens
echo "== sha $FASTKERNELS_GIT_SHA" >> $L
for f in linear_conv1d_update skinny_gemm errors/skinny causal_conv1d_update selective_state_update; do echo "== gpu_ops $f $SECONDS" >> $L; timeout 150 $B/fk-baselines.gpu_ops --test-threads 1 $f 2>&1 | grep -v " ok$" >> $L; done
for t in fk-mamba.model_gpu fk-mamba2.model_gpu fk-llama.model_gpu; do echo "== $t $SECONDS" >> $L; timeout 150 $B/$t --test-threads 1 2>&1 | grep -v " ok$" >> $L; done
echo "== mamba $SECONDS" >> $L; timeout 120 $B/fk-mamba.ops --bench --quick --op MambaForCausalLM --json $R/bench-mamba.json >> $L 2>&1
echo "== mamba2 $SECONDS" >> $L; timeout 120 $B/fk-mamba2.ops --bench --quick --op Mamba2ForCausalLM --json $R/bench-mamba2.json >> $L 2>&1
echo "== llama $SECONDS" >> $L; timeout 200 $B/cargo-fastkernels eval --arch llama --random-weights --workload LLM.single_request --json $R/eval-llama.json 2>&1 | grep -A3 "^workload" >> $L
echo "== done $SECONDS" >> $L
tar czf $OUT/r.tgz -C /tmp r; grep -E "^==|test result|FAILED|panicked|failed|decode batch|LLM\." $L | tail -40
