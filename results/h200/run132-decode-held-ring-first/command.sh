# run 132: bundle79 (run 130's held rows, but IN multiplies its held in_proj rows after the ring's rows instead of
# first), built with cargo xtask gpu-bundle --out bundle79 --only fk-baselines.gpu_ops,fk-mamba.model_gpu,fk-mamba.ops
(cd bundle79 && tar -xJf bin.tar.xz)
B=$PWD/bundle79/bin; R=/tmp/r132; mkdir -p $R $OUT/r132; L=$R/log.txt
export FASTKERNELS_GIT_SHA=$(cat bundle79/GIT_SHA) FASTKERNELS_GOLDENS=$PWD/bundle79/goldens
echo "sha $FASTKERNELS_GIT_SHA" > $L
timeout 100 $B/fk-baselines.gpu_ops --test-threads 1 mamba_decode_layers > $R/ops-mdl.txt 2>&1; echo "ops rc=$?" >> $L; grep -E "test result|FAILED|panicked" $R/ops-mdl.txt | head -5 >> $L
timeout 120 $B/fk-mamba.model_gpu --test-threads 1 > $R/model.txt 2>&1; echo "model rc=$?" >> $L
grep -E "test result|FAILED|failed|one-kernel" $R/model.txt | tail -6 >> $L
for i in 1 2 3; do for h in 0,0 2,1 2,0 0,1; do
FK_MAMBA_DECODE_HELD=$h timeout 60 $B/fk-mamba.ops --bench --quick --op "MambaForCausalLM decode" --json $R/bench-$h-$i.json 2>&1 | grep "batch 1," | sed "s/^/held $h pass $i: /" >> $L
done; done
cat $L
tar -czf $OUT/r132/logs.tar.gz -C $R .
