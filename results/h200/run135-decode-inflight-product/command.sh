# run 135: bundle81 (mamba_decode_layers' producer keeps at most 2 stages in flight, run 134's finding;
# FK_MAMBA_DECODE_INFLIGHT=n picks n, 0 = the whole ring as before), built with
# cargo xtask gpu-bundle --out bundle81 --only fk-baselines.gpu_ops,fk-mamba.model_gpu,fk-mamba.ops
(cd bundle81 && tar -xJf bin.tar.xz)
B=$PWD/bundle81/bin; R=/tmp/r135; mkdir -p $R $OUT/r135; L=$R/log.txt
export FASTKERNELS_GIT_SHA=$(cat bundle81/GIT_SHA) FASTKERNELS_GOLDENS=$PWD/bundle81/goldens
echo "sha $FASTKERNELS_GIT_SHA" > $L
for k in 1 2; do timeout 100 $B/fk-baselines.gpu_ops --test-threads 1 mamba_decode_layers > $R/ops-mdl-$k.txt 2>&1; echo "ops $k rc=$?" >> $L; grep -E "test result|FAILED|panicked" $R/ops-mdl-$k.txt | head -5 >> $L; done
timeout 120 $B/fk-mamba.model_gpu --test-threads 1 > $R/model.txt 2>&1; echo "model rc=$?" >> $L
grep -E "test result|FAILED|failed|one-kernel" $R/model.txt | tail -6 >> $L
for i in 1 2 3; do for n in 0 2 1 3; do
FK_MAMBA_DECODE_INFLIGHT=$n timeout 60 $B/fk-mamba.ops --bench --quick --op "MambaForCausalLM decode" --json $R/bench-$n-$i.json 2>&1 | grep "batch 1," | sed "s/^/inflight $n pass $i: /" >> $L
done; done
FK_MAMBA_DECODE_LAYERS=0 timeout 60 $B/fk-mamba.ops --bench --quick --op "MambaForCausalLM decode" --json $R/bench-perop.json 2>&1 | grep "batch 1," | sed "s/^/per-op: /" >> $L
timeout 100 compute-sanitizer --tool memcheck --print-limit 10 $B/fk-baselines.gpu_ops --test-threads 1 "mamba_decode_layers/bf16/3 layers [256" > $R/memcheck.txt 2>&1; echo "memcheck rc=$?" >> $L
grep -E "ERROR SUMMARY|test result" $R/memcheck.txt >> $L
timeout 100 compute-sanitizer --tool synccheck --print-limit 10 $B/fk-baselines.gpu_ops --test-threads 1 "mamba_decode_layers/bf16/3 layers [256" > $R/synccheck.txt 2>&1; echo "synccheck rc=$?" >> $L
grep -E "ERROR SUMMARY|test result" $R/synccheck.txt >> $L
cat $L
tar -czf $OUT/r135/logs.tar.gz -C $R .
