# run 96: bundle62 (commit 05eb7f2: mamba_decode_layers, second design), built with
# cargo xtask gpu-bundle --out bundle62 --only fk-baselines.gpu_ops,fk-mamba.model_gpu,fk-mamba.engine_gpu,fk-mamba.ops
(cd bundle62 && tar -xJf bin.tar.xz)
B=$PWD/bundle62/bin; R=/tmp/r96; mkdir -p $R $OUT/r96; L=$R/log.txt
export FASTKERNELS_GIT_SHA=$(cat bundle62/GIT_SHA) FASTKERNELS_GOLDENS=$PWD/bundle62/goldens
timeout 150 $B/fk-baselines.gpu_ops --test-threads 1 mamba_decode_layers > $R/ops-mdl.txt 2>&1; echo "ops rc=$?" >> $L
grep -E "test result|FAILED|failed" $R/ops-mdl.txt | tail -5 >> $L
timeout 150 $B/fk-mamba.model_gpu --test-threads 1 > $R/model.txt 2>&1; echo "model rc=$?" >> $L
grep -E "test result|FAILED|failed|one-kernel" $R/model.txt | tail -6 >> $L
for i in 1 2; do
FK_MAMBA_DECODE_LAYERS=0 timeout 60 $B/fk-mamba.ops --bench --quick --op "MambaForCausalLM decode" --json $R/bench-perop-$i.json 2>&1 | grep "batch 1" | sed "s/^/perop $i: /" >> $L
timeout 60 $B/fk-mamba.ops --bench --quick --op "MambaForCausalLM decode" --json $R/bench-one-$i.json 2>&1 | grep "batch 1" | sed "s/^/one $i: /" >> $L
done
timeout 60 $B/fk-mamba.engine_gpu --test-threads 1 > $R/engine.txt 2>&1; echo "engine rc=$?" >> $L
grep -E "test result" $R/engine.txt >> $L
timeout 100 compute-sanitizer --tool memcheck --print-limit 10 $B/fk-baselines.gpu_ops --test-threads 1 "mamba_decode_layers/bf16/3 layers [256" > $R/memcheck.txt 2>&1; echo "memcheck rc=$?" >> $L
grep -E "ERROR SUMMARY|test result" $R/memcheck.txt >> $L
cat $L
tar -czf $OUT/r96/logs.tar.gz -C $R .
