# run 85: bundle59 (commit 38afc32): mamba_decode_layers trials reporting every output (residual, xc, x_proj output, y, states),
# the one-kernel vs per-op model test, decode bench per-op and one-kernel at FK_MAMBA_DECODE_INFLIGHT 0 1 2 3 4 6
# built with: cargo xtask gpu-bundle --out bundle59 --only fk-baselines.gpu_ops,fk-mamba.model_gpu,fk-mamba.ops
(cd bundle59 && tar -xJf bin.tar.xz)
B=$PWD/bundle59/bin; R=/tmp/r85; mkdir -p $R $OUT/r85; L=$R/log.txt
export FASTKERNELS_GIT_SHA=$(cat bundle59/GIT_SHA) FASTKERNELS_GOLDENS=$PWD/bundle59/goldens
timeout 90 $B/fk-baselines.gpu_ops --test-threads 1 mamba_decode_layers > $R/ops-mdl.txt 2>&1
timeout 100 $B/fk-mamba.model_gpu --test-threads 1 one-kernel > $R/model.txt 2>&1
FK_MAMBA_DECODE_LAYERS=0 timeout 100 $B/fk-mamba.ops --bench --quick --op "MambaForCausalLM decode" --json $R/bench-perop.json 2>&1 | grep "batch 1" >> $L
for k in 0 1 2 3 4 6; do FK_MAMBA_DECODE_INFLIGHT=$k timeout 100 $B/fk-mamba.ops --bench --quick --op "MambaForCausalLM decode" --json $R/bench-inflight-$k.json 2>&1 | grep "batch 1" >> $L; done
tar -czf $OUT/r85/logs.tar.gz -C $R .
