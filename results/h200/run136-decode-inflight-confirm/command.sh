# run 136: the committed product (91183e3: mamba_decode_layers with 2 stages in flight) through the engine and the CLI,
# and the batch-1 decode bench again (alternated with the whole ring in flight), built with
# cargo xtask gpu-bundle --out bundle82 --only fk-mamba.engine_gpu,fk-mamba.ops,fk-mamba.model_gpu,cargo-fastkernels.recurrent_gpu
(cd bundle82 && tar -xJf bin.tar.xz)
B=$PWD/bundle82/bin; R=/tmp/r136; mkdir -p $R $OUT/r136; L=$R/log.txt
export FASTKERNELS_GIT_SHA=$(cat bundle82/GIT_SHA) FASTKERNELS_GOLDENS=$PWD/bundle82/goldens
echo "sha $FASTKERNELS_GIT_SHA" > $L
timeout 150 $B/fk-mamba.model_gpu --test-threads 1 > $R/model.txt 2>&1; echo "model rc=$?" >> $L; grep -E "test result|FAILED|one-kernel" $R/model.txt | tail -4 >> $L
timeout 200 $B/fk-mamba.engine_gpu --test-threads 1 > $R/engine.txt 2>&1; echo "engine rc=$?" >> $L; grep -E "test result|FAILED" $R/engine.txt | tail -4 >> $L
timeout 250 $B/cargo-fastkernels.recurrent_gpu --test-threads 1 > $R/cli.txt 2>&1; echo "cli rc=$?" >> $L; grep -E "test result|FAILED" $R/cli.txt | tail -4 >> $L
for i in 1 2 3; do for n in 2 0; do
FK_MAMBA_DECODE_INFLIGHT=$n timeout 60 $B/fk-mamba.ops --bench --quick --op "MambaForCausalLM decode" --json $R/bench-$n-$i.json 2>&1 | grep "batch 1," | sed "s/^/inflight $n pass $i: /" >> $L
done; done
cat $L
tar -czf $OUT/r136/logs.tar.gz -C $R .
