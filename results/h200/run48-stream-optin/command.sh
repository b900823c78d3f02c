# run 48 (bundle30): the streaming GEMV as Mamba-2's opt-in (FK_SKINNY_GEMM_STREAM): tests (skinny_gemm incl. streamed cases, linear_conv1d_update streamed, goldens, Mamba-2 engine), A/B vs FK_AB_NO_STREAM on Mamba/Mamba-2 batch-1 and batch-32 decode and Llama single_request (which must not move)
(cd bundle30 && tar -xJf bin.tar.xz)
B=$PWD/bundle30/bin; R=/tmp/r48; rm -rf $R; mkdir -p $R; L=$R/log.txt
export FASTKERNELS_GIT_SHA=$(cat bundle30/GIT_SHA) FASTKERNELS_GOLDENS=$PWD/bundle30/goldens
echo "== sha $FASTKERNELS_GIT_SHA" >> $L
for f in skinny_gemm linear_conv1d_update errors/skinny selective_state_update; do echo "== gpu_ops $f $SECONDS" >> $L; timeout 100 $B/fk-baselines.gpu_ops --test-threads 1 $f 2>&1 | grep -v " ok$" >> $L; done
for t in fk-mamba.model_gpu fk-mamba2.model_gpu fk-mamba2.engine_gpu fk-llama.model_gpu; do echo "== $t $SECONDS" >> $L; timeout 100 $B/$t --test-threads 1 2>&1 | grep -v " ok$" >> $L; done
for v in A B B A; do
  if [ $v = B ]; then export FK_AB_NO_STREAM=1; else unset FK_AB_NO_STREAM; fi
  echo "== ab $v mamba2 $SECONDS" >> $L; timeout 100 $B/fk-mamba2.ops --bench --quick --op "Mamba2ForCausalLM decode" --json $R/ab-$v-mamba2-$SECONDS.json >> $L 2>&1
  echo "== ab $v mamba $SECONDS" >> $L; timeout 100 $B/fk-mamba.ops --bench --quick --op "MambaForCausalLM decode batch 1" --json $R/ab-$v-mamba-$SECONDS.json >> $L 2>&1
  echo "== ab $v llama $SECONDS" >> $L; timeout 100 $B/cargo-fastkernels eval --arch llama --random-weights --workload LLM.single_request --json $R/ab-$v-llama-$SECONDS.json 2>&1 | grep -A3 "^workload" >> $L
done
echo "== done $SECONDS" >> $L
tar czf $OUT/r.tgz -C /tmp r48; grep -E "^==|test result|FAILED|panicked|failed|decode batch|LLM\." $L | tail -80
