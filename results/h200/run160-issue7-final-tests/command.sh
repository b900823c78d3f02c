# run 160: issue 7's correctness points on one build of the final code (bundle90 = 7cd3d54, kernels as
# b2f1d23), built with
#   cargo xtask gpu-bundle --out bundle90 --only fk-baselines.gpu_ops,fk-baselines.ops,fk-mamba.model_gpu,fk-mamba.engine_gpu,fk-mamba.ops,fk-mamba2.model_gpu,fk-mamba2.engine_gpu,fk-mamba2.ops,cargo-fastkernels.recurrent_gpu
# every SSM op's GPU trials against its CPU reference (fresh seeds), Mamba and Mamba-2 against the
# transformers goldens (prefill + 32 greedy steps, decode == prefill at the same positions), both
# under the LLM engine, `cargo fastkernels generate/eval/serve` on both, memcheck of the SSD trials.
(cd bundle90 && tar -xJf bin.tar.xz)
B=$PWD/bundle90/bin; R=/tmp/r160; mkdir -p $R; L=$OUT/log.txt
export FASTKERNELS_GIT_SHA=$(cat bundle90/GIT_SHA) FASTKERNELS_GOLDENS=$PWD/bundle90/goldens
echo "sha $FASTKERNELS_GIT_SHA $(nvidia-smi --query-gpu=name --format=csv,noheader)" | tee $L
res() { grep -o 'test result: [a-zA-Z]*\. [0-9]* passed; [0-9]* failed' "$1"; }
for f in causal_conv1d selective_scan selective_state_update ssd_chunk_scan rms_norm_gated mamba_decode_layers; do
  timeout 150 $B/fk-baselines.gpu_ops --test-threads 1 $f > $R/ops-$f.txt 2>&1; echo "gpu_ops $f rc=$? $(res $R/ops-$f.txt)" | tee -a $L
done
for t in fk-mamba.model_gpu fk-mamba2.model_gpu fk-mamba.engine_gpu fk-mamba2.engine_gpu cargo-fastkernels.recurrent_gpu; do
  timeout 200 $B/$t --test-threads 1 > $R/$t.txt 2>&1; echo "$t rc=$? $(res $R/$t.txt)" | tee -a $L
done
grep -h -B2 -A12 "^---- \|panicked" $R/*.txt | head -40 | tee -a $L
timeout 120 compute-sanitizer --tool memcheck --print-limit 10 $B/fk-baselines.gpu_ops --test-threads 1 ssd_chunk_scan > $R/memcheck.txt 2>&1
echo "memcheck ssd rc=$? $(grep -E 'ERROR SUMMARY' $R/memcheck.txt | sort | uniq -c | tr '\n' ' ') $(res $R/memcheck.txt)" | tee -a $L
echo "seconds $SECONDS" | tee -a $L
tar -czf $OUT/logs.tar.gz -C $R .
