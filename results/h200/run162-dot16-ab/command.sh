# run 162: bundle91 (6ece4df: one 16-byte dot product, fk::dot16_acc, for skinny_gemm, its
# streaming kernel, mamba_decode_layers and selective_state_update's folded dt_proj), built with
#   cargo xtask gpu-bundle --out bundle91 --only fk-baselines.gpu_ops,fk-baselines.ops,fk-mamba.model_gpu,fk-mamba.ops,fk-mamba2.model_gpu,fk-mamba2.ops
# against bundle90 (7cd3d54, the code before; its binaries only, carried as ab/bundle90): the affected ops' GPU trials and both models' tests
# on bundle91, then the decode steps that run those kernels alternated between the two builds —
# Mamba-2 batch 1 (streaming skinny_gemm), Mamba-1 batch 1 per-op (FK_MAMBA_DECODE_LAYERS=0:
# skinny_gemm and the folded dt_proj) and one-kernel (mamba_decode_layers, SASS identical).
(cd ab/bundle90 && tar -xJf bin.tar.xz); (cd bundle91 && tar -xJf bin.tar.xz)
B0=$PWD/ab/bundle90/bin; B1=$PWD/bundle91/bin; R=/tmp/r162; mkdir -p $R; L=$OUT/log.txt
export FASTKERNELS_GIT_SHA=$(cat bundle91/GIT_SHA) FASTKERNELS_GOLDENS=$PWD/bundle91/goldens
echo "sha $FASTKERNELS_GIT_SHA against $(cat ab/bundle90/GIT_SHA)" | tee $L
res() { grep -o 'test result: [a-zA-Z]*\. [0-9]* passed; [0-9]* failed' "$1"; }
for f in skinny_gemm selective_state_update mamba_decode_layers; do
  timeout 150 $B1/fk-baselines.gpu_ops --test-threads 1 $f > $R/ops-$f.txt 2>&1; echo "gpu_ops $f rc=$? $(res $R/ops-$f.txt)" | tee -a $L
done
for t in fk-mamba.model_gpu fk-mamba2.model_gpu; do
  timeout 200 $B1/$t --test-threads 1 > $R/$t.txt 2>&1; echo "$t rc=$? $(res $R/$t.txt)" | tee -a $L
done
grep -h -B2 -A12 "^---- \|panicked" $R/*.txt | head -40 | tee -a $L
for i in 1 2 3; do for b in 0 1; do B=$B1; [ $b = 0 ] && B=$B0
  timeout 60 $B/fk-mamba2.ops --bench --quick --op "Mamba2ForCausalLM decode" --json $R/m2-$b-$i.json 2>&1 | grep "batch 1," | sed "s/^/bundle9$b mamba2 $i: /" | tee -a $L
  FK_MAMBA_DECODE_LAYERS=0 timeout 60 $B/fk-mamba.ops --bench --quick --op "MambaForCausalLM decode" --json $R/m1p-$b-$i.json 2>&1 | grep "batch 1," | sed "s/^/bundle9$b mamba per-op $i: /" | tee -a $L
  timeout 60 $B/fk-mamba.ops --bench --quick --op "MambaForCausalLM decode" --json $R/m1-$b-$i.json 2>&1 | grep "batch 1," | sed "s/^/bundle9$b mamba one-kernel $i: /" | tee -a $L
done; done
tar -czf $OUT/logs.tar.gz -C $R .
