# run 163: bundle92 (8f1e956: causal_conv1d_update's kernel and skinny_gemm's conv epilogue share
# fk::conv_update_step), built with
#   cargo xtask gpu-bundle --out bundle92 --only fk-baselines.gpu_ops,fk-mamba.model_gpu,fk-mamba.ops,fk-mamba2.model_gpu,fk-mamba2.ops
# against bundle91 (6ece4df, the code before; its binaries only, carried as ab/bundle91): the
# affected ops' GPU trials (causal_conv1d and its update, skinny_gemm with its conv epilogue) and
# both models' tests on bundle92, then batch-1 graph decode alternated between the two builds
# (Mamba-2 and Mamba-1 per-op run the conv epilogue; Mamba-1 one-kernel does not).
(cd ab/bundle91 && tar -xJf bin.tar.xz); (cd bundle92 && tar -xJf bin.tar.xz)
B0=$PWD/ab/bundle91/bin; B1=$PWD/bundle92/bin; R=/tmp/r163; mkdir -p $R; L=$OUT/log.txt
export FASTKERNELS_GIT_SHA=$(cat bundle92/GIT_SHA) FASTKERNELS_GOLDENS=$PWD/bundle92/goldens
echo "sha $FASTKERNELS_GIT_SHA against $(cat ab/bundle91/GIT_SHA)" | tee $L
res() { grep -o 'test result: [a-zA-Z]*\. [0-9]* passed; [0-9]* failed' "$1"; }
for f in causal_conv1d skinny_gemm; do
  timeout 150 $B1/fk-baselines.gpu_ops --test-threads 1 $f > $R/ops-$f.txt 2>&1; echo "gpu_ops $f rc=$? $(res $R/ops-$f.txt)" | tee -a $L
done
for t in fk-mamba.model_gpu fk-mamba2.model_gpu; do
  timeout 200 $B1/$t --test-threads 1 > $R/$t.txt 2>&1; echo "$t rc=$? $(res $R/$t.txt)" | tee -a $L
done
grep -h -B2 -A12 "^---- \|panicked" $R/*.txt | head -40 | tee -a $L
for i in 1 2 3; do for b in 1 2; do B=$B1; [ $b = 1 ] && B=$B0
  timeout 60 $B/fk-mamba2.ops --bench --quick --op "Mamba2ForCausalLM decode" --json $R/m2-$b-$i.json 2>&1 | grep "batch 1," | sed "s/^/bundle9$b mamba2 $i: /" | tee -a $L
  FK_MAMBA_DECODE_LAYERS=0 timeout 60 $B/fk-mamba.ops --bench --quick --op "MambaForCausalLM decode" --json $R/m1p-$b-$i.json 2>&1 | grep "batch 1," | sed "s/^/bundle9$b mamba per-op $i: /" | tee -a $L
done; done
tar -czf $OUT/logs.tar.gz -C $R .
