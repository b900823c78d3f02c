# run 38 (bundle21 ea3f7cf): the final skinny_gemm split rule; tests + Mamba/Mamba-2 benches + Llama single_request/fixed_batch_32
(cd bundle21 && tar -xJf bin.tar.xz)
B=$PWD/bundle21/bin; R=/tmp/r; mkdir -p $R; L=$R/log.txt
export FASTKERNELS_GIT_SHA=$(cat bundle21/GIT_SHA) FASTKERNELS_GOLDENS=$PWD/bundle21/goldens
echo "== sha $FASTKERNELS_GIT_SHA" >> $L
for f in linear_conv1d_update skinny_gemm errors/skinny selective_state_update; do echo "== gpu_ops $f $SECONDS" >> $L; timeout 150 $B/fk-baselines.gpu_ops --test-threads 1 $f 2>&1 | grep -v " ok$" >> $L; done
for t in fk-mamba.model_gpu fk-mamba2.model_gpu fk-mamba.engine_gpu fk-mamba2.engine_gpu fk-llama.model_gpu fk-llama.engine_gpu fk-mixtral.model_gpu; do echo "== $t $SECONDS" >> $L; timeout 150 $B/$t --test-threads 1 2>&1 | grep -v " ok$" >> $L; done
echo "== mamba $SECONDS" >> $L; timeout 120 $B/fk-mamba.ops --bench --quick --json $R/bench-mamba.json >> $L 2>&1
echo "== mamba2 $SECONDS" >> $L; timeout 120 $B/fk-mamba2.ops --bench --quick --json $R/bench-mamba2.json >> $L 2>&1
echo "== llama $SECONDS" >> $L; timeout 200 $B/cargo-fastkernels eval --arch llama --random-weights --workload LLM.single_request,LLM.fixed_batch_32 --json $R/eval-llama.json 2>&1 | grep -A4 "^workload" >> $L
echo "== done $SECONDS" >> $L
tar czf $OUT/r.tgz -C /tmp r; grep -E "^==|test result|FAILED|panicked|failed|L4|L2|LLM\." $L | tail -60
