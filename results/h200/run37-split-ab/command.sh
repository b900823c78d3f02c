# run 37 (bundle20 8560452): skinny_gemm row split A/B (FK_SKINNY_SPLIT default | long | never); tests under long
(cd bundle20 && tar -xJf bin.tar.xz)
B=$PWD/bundle20/bin; R=/tmp/r; mkdir -p $R; L=$R/log.txt
export FASTKERNELS_GIT_SHA=$(cat bundle20/GIT_SHA) FASTKERNELS_GOLDENS=$PWD/bundle20/goldens
echo "== sha $FASTKERNELS_GIT_SHA" >> $L
export FK_SKINNY_SPLIT=long
for f in linear_conv1d_update skinny_gemm; do echo "== long gpu_ops $f $SECONDS" >> $L; timeout 150 $B/fk-baselines.gpu_ops --test-threads 1 $f 2>&1 | grep -v " ok$" >> $L; done
for t in fk-mamba.model_gpu fk-mamba2.model_gpu fk-llama.model_gpu fk-mixtral.model_gpu; do echo "== long $t $SECONDS" >> $L; timeout 120 $B/$t --test-threads 1 2>&1 | grep -v " ok$" >> $L; done
for pol in default long never default long; do
  export FK_SKINNY_SPLIT=$pol
  echo "== $pol mamba $SECONDS" >> $L; timeout 120 $B/fk-mamba.ops --bench --quick --op MambaForCausalLM --json $R/bench-mamba-$pol.json >> $L 2>&1
  echo "== $pol mamba2 $SECONDS" >> $L; timeout 120 $B/fk-mamba2.ops --bench --quick --op Mamba2ForCausalLM --json $R/bench-mamba2-$pol.json >> $L 2>&1
  echo "== $pol llama $SECONDS" >> $L; timeout 100 $B/cargo-fastkernels eval --arch llama --random-weights --workload LLM.single_request --json $R/eval-llama-$pol.json 2>&1 | grep -A3 "^workload" >> $L
done
echo "== done $SECONDS" >> $L
tar czf $OUT/r.tgz -C /tmp r; grep -E "^==|test result|FAILED|panicked|failed|decode batch|single_request " $L | tail -90
