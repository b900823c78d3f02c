# run 87: bundle61 (commit a53e69b: __syncwarp before the consumers' named barrier, one-round vector staging), built with
# cargo xtask gpu-bundle --out bundle61 --only fk-baselines.gpu_ops,fk-mamba.model_gpu,fk-mamba.ops
(cd bundle61 && tar -xJf bin.tar.xz)
B=$PWD/bundle61/bin; R=/tmp/r87; mkdir -p $R $OUT/r87; L=$R/log.txt
export FASTKERNELS_GIT_SHA=$(cat bundle61/GIT_SHA) FASTKERNELS_GOLDENS=$PWD/bundle61/goldens
timeout 90 $B/fk-baselines.gpu_ops --test-threads 1 mamba_decode_layers > $R/ops-mdl.txt 2>&1
timeout 150 $B/fk-mamba.model_gpu --test-threads 1 > $R/model.txt 2>&1
timeout 120 compute-sanitizer --tool synccheck --print-limit 10 $B/fk-baselines.gpu_ops --test-threads 1 "mamba_decode_layers/bf16/3 layers [256" > $R/synccheck.txt 2>&1
for i in 1 2; do
FK_MAMBA_DECODE_LAYERS=0 timeout 100 $B/fk-mamba.ops --bench --quick --op "MambaForCausalLM decode" --json $R/bench-perop-$i.json 2>&1 | grep "batch 1" >> $L
timeout 100 $B/fk-mamba.ops --bench --quick --op "MambaForCausalLM decode" --json $R/bench-one-$i.json 2>&1 | grep "batch 1" >> $L
done
FK_MAMBA_DECODE_INFLIGHT=0 timeout 100 $B/fk-mamba.ops --bench --quick --op "MambaForCausalLM decode" --json $R/bench-one-if0.json 2>&1 | grep "batch 1" >> $L
tar -czf $OUT/r87/logs.tar.gz -C $R .
