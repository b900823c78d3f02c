# run 130: bundle78 (mamba_decode_layers with held rows: each consumer warp loads 2 in_proj x rows of the next
# layer before B3 and 1 out_proj row before B1's wait into registers; FK_MAMBA_DECODE_HELD="in,out" picks fewer), built with
# cargo xtask gpu-bundle --out bundle78 --only fk-baselines.gpu_ops,fk-mamba.model_gpu,fk-mamba.ops
(cd bundle78 && tar -xJf bin.tar.xz)
B=$PWD/bundle78/bin; R=/tmp/r130; mkdir -p $R $OUT/r130; L=$R/log.txt
export FASTKERNELS_GIT_SHA=$(cat bundle78/GIT_SHA) FASTKERNELS_GOLDENS=$PWD/bundle78/goldens
echo "sha $FASTKERNELS_GIT_SHA" > $L
for k in 1 2; do timeout 100 $B/fk-baselines.gpu_ops --test-threads 1 mamba_decode_layers > $R/ops-mdl-$k.txt 2>&1; echo "ops $k rc=$?" >> $L; grep -E "test result|FAILED|panicked" $R/ops-mdl-$k.txt | head -5 >> $L; done
FK_MAMBA_DECODE_HELD=0,0 timeout 100 $B/fk-baselines.gpu_ops --test-threads 1 mamba_decode_layers > $R/ops-mdl-held00.txt 2>&1; echo "ops held 0,0 rc=$?" >> $L; grep -E "test result" $R/ops-mdl-held00.txt >> $L
timeout 120 $B/fk-mamba.model_gpu --test-threads 1 > $R/model.txt 2>&1; echo "model rc=$?" >> $L
grep -E "test result|FAILED|failed|one-kernel" $R/model.txt | tail -6 >> $L
for i in 1 2; do for h in 0,0 2,1 2,0 0,1 1,1; do
FK_MAMBA_DECODE_HELD=$h timeout 60 $B/fk-mamba.ops --bench --quick --op "MambaForCausalLM decode" --json $R/bench-$h-$i.json 2>&1 | grep "batch 1," | sed "s/^/held $h pass $i: /" >> $L
done; done
timeout 100 compute-sanitizer --tool memcheck --print-limit 10 $B/fk-baselines.gpu_ops --test-threads 1 "mamba_decode_layers/bf16/3 layers [256" > $R/memcheck.txt 2>&1; echo "memcheck rc=$?" >> $L
grep -E "ERROR SUMMARY|test result" $R/memcheck.txt >> $L
cat $L
tar -czf $OUT/r130/logs.tar.gz -C $R .
