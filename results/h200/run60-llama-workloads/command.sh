# run 60 (bundle42, f746a18; Llama code unchanged since run 51): issue 4's workloads on today's code, Llama-3.1-8B shapes, random bf16 weights
(cd bundle42 && tar -xJf bin.tar.xz)
B=$PWD/bundle42/bin; R=$OUT/r60; mkdir -p $R; L=$R/log.txt
export FASTKERNELS_GIT_SHA=$(cat bundle42/GIT_SHA)
echo "== sha $FASTKERNELS_GIT_SHA" >> $L
echo "== eval $SECONDS" >> $L; timeout 400 $B/cargo-fastkernels eval --arch llama --random-weights --workload LLM.single_request,LLM.fixed_batch_32,LLM.mixed --json $R/eval-llama.json > $R/eval.log 2>&1; tail -12 $R/eval.log | tr '\r' '\n' | tail -12 >> $L
echo "== done $SECONDS" >> $L
cat $L
