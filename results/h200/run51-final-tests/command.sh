# run 51 (bundle33, the session's final code): SSM/GEMV GPU tests, Mamba/Mamba-2/Llama goldens and engines, the CLI on Mamba (recurrent_gpu), decode benches (batch 1 and 32), Llama single_request; ncu sections of causal_conv1d at 8k tokens (why 41 % of copy)
(cd bundle33 && tar -xJf bin.tar.xz)
B=$PWD/bundle33/bin; R=/tmp/r51; rm -rf $R; mkdir -p $R; L=$R/log.txt
export FASTKERNELS_GIT_SHA=$(cat bundle33/GIT_SHA) FASTKERNELS_GOLDENS=$PWD/bundle33/goldens
echo "== sha $FASTKERNELS_GIT_SHA" >> $L
for f in skinny_gemm linear_conv1d_update errors/skinny selective_state_update ssd_chunk_scan causal_conv1d selective_scan rms_norm_gated; do echo "== gpu_ops $f $SECONDS" >> $L; timeout 120 $B/fk-baselines.gpu_ops --test-threads 1 $f 2>&1 | grep -v " ok$" >> $L; done
for t in fk-mamba.model_gpu fk-mamba.engine_gpu fk-mamba2.model_gpu fk-mamba2.engine_gpu fk-llama.model_gpu; do echo "== $t $SECONDS" >> $L; timeout 120 $B/$t --test-threads 1 2>&1 | grep -v " ok$" >> $L; done
echo "== recurrent_gpu $SECONDS" >> $L; (cd bundle33 && timeout 200 $B/cargo-fastkernels.recurrent_gpu --test-threads 1 2>&1 | grep -v " ok$" >> $L)
echo "== bench mamba $SECONDS" >> $L; timeout 100 $B/fk-mamba.ops --bench --quick --op "MambaForCausalLM decode" --json $R/bench-mamba.json >> $L 2>&1
echo "== bench mamba2 $SECONDS" >> $L; timeout 100 $B/fk-mamba2.ops --bench --quick --op "Mamba2ForCausalLM decode" --json $R/bench-mamba2.json >> $L 2>&1
echo "== llama $SECONDS" >> $L; timeout 100 $B/cargo-fastkernels eval --arch llama --random-weights --workload LLM.single_request --json $R/eval-llama.json 2>&1 | grep -A3 "^workload" >> $L
echo "== bench conv $SECONDS" >> $L; timeout 60 $B/fk-mamba.ops --bench --quick --op "causal_conv1d 1x8192" --json $R/bench-conv.json >> $L 2>&1
echo "== ncu conv $SECONDS" >> $L; timeout 120 ncu --cache-control all --clock-control none -k regex:conv_kernel --launch-skip 2 --launch-count 1 --section SpeedOfLight --section Occupancy --section LaunchStats --section WarpStateStats --section MemoryWorkloadAnalysis $B/fk-mamba.ops --bench --quick --op "causal_conv1d 1x8192" > $R/ncu-conv.txt 2>&1
echo "== done $SECONDS" >> $L
tar czf $OUT/r.tgz -C /tmp r51; grep -E "^==|test result|FAILED|panicked|failed|decode batch|LLM\.|causal_conv1d " $L | tail -60
