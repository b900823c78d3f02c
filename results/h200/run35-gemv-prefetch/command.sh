# run 35 (bundle18): skinny_gemm prefetches a settled weight before the PDL wait; Llama/Mamba decode; ColBERTv2 eval vs HF unprofiled
(cd bundle18 && tar -xJf bin.tar.xz)
B=$PWD/bundle18/bin; R=/tmp/r; mkdir -p $R; L=$R/log.txt
export FASTKERNELS_GIT_SHA=$(cat bundle18/GIT_SHA) FASTKERNELS_GOLDENS=$PWD/bundle18/goldens
echo "== sha $FASTKERNELS_GIT_SHA" >> $L
for f in skinny_gemm errors/skinny selective_state_update; do echo "== gpu_ops $f $SECONDS" >> $L; timeout 150 $B/fk-baselines.gpu_ops --test-threads 1 $f 2>&1 | grep -v " ok$" >> $L; done
for t in fk-mamba.model_gpu fk-mamba2.model_gpu fk-mamba.engine_gpu fk-mamba2.engine_gpu fk-llama.model_gpu fk-mixtral.model_gpu; do echo "== $t $SECONDS" >> $L; timeout 120 $B/$t --test-threads 1 2>&1 | grep -v " ok$" >> $L; done
echo "== bench ops $SECONDS" >> $L; timeout 60 $B/fk-baselines.ops --bench --quick --op skinny_gemm --json $R/bench-ops.json >> $L 2>&1
echo "== mamba $SECONDS" >> $L; timeout 120 $B/fk-mamba.ops --bench --quick --json $R/bench-mamba.json >> $L 2>&1
echo "== mamba2 $SECONDS" >> $L; timeout 120 $B/fk-mamba2.ops --bench --quick --json $R/bench-mamba2.json >> $L 2>&1
echo "== llama eval $SECONDS" >> $L; timeout 200 $B/cargo-fastkernels eval --arch llama --random-weights --workload LLM.single_request,LLM.fixed_batch_32 --json $R/eval-llama.json >> $L 2>&1
A=colbertv2; echo "== $A $SECONDS" >> $L
timeout 100 python3 bundle18/scripts/peer_hf_encoders.py --arch $A --reps 10 --save-dir /tmp/enc --out $R/hf-$A.json 2>&1 | grep -v -i warn >> $L
timeout 60 $B/cargo-fastkernels eval --model /tmp/enc/$A --json $R/eval-$A.json >> $L 2>&1
echo "== done $SECONDS" >> $L
tar czf $OUT/r.tgz -C /tmp r; grep -E "^==|test result|FAILED|panicked|failed|skinny|L4|L2|Embed|seq/s|LLM\.|tok/s" $L | tail -90
