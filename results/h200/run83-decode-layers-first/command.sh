# run 83: bundle57 (commit cfed2fb), first GPU run of mamba_decode_layers (the one-kernel Mamba-1 decode step)
# built with: cargo xtask gpu-bundle --out bundle57 --only fk-baselines.gpu_ops,fk-mamba.model_gpu,fk-mamba.engine_gpu,fk-mamba.ops
(cd bundle57 && tar -xJf bin.tar.xz)
B=$PWD/bundle57/bin; R=/tmp/r83; mkdir -p $R $OUT/r83; L=$R/log.txt
export FASTKERNELS_GIT_SHA=$(cat bundle57/GIT_SHA) FASTKERNELS_GOLDENS=$PWD/bundle57/goldens
timeout 90 $B/fk-baselines.gpu_ops --test-threads 1 mamba_decode_layers > $R/ops-mdl.txt 2>&1
timeout 150 $B/fk-mamba.model_gpu --test-threads 1 > $R/model.txt 2>&1
timeout 120 $B/fk-mamba.engine_gpu --test-threads 1 > $R/engine.txt 2>&1
for i in 1 2; do
 FK_MAMBA_DECODE_LAYERS=0 timeout 100 $B/fk-mamba.ops --bench --quick --op "MambaForCausalLM decode" --json $R/bench-perop-$i.json >> $L 2>&1
 timeout 100 $B/fk-mamba.ops --bench --quick --op "MambaForCausalLM decode" --json $R/bench-one-$i.json >> $L 2>&1
done
tar -czf $OUT/r83/logs.tar.gz -C $R .
