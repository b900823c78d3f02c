# run 103: bundle66 (commit 15662d7: z rows between B1's halves; also covers run 98's review commits), built with
# cargo xtask gpu-bundle --out bundle66 --only fk-baselines.gpu_ops,fk-mamba.model_gpu,fk-mamba.ops
(cd bundle66 && tar -xJf bin.tar.xz)
B=$PWD/bundle66/bin; R=/tmp/r103; mkdir -p $R $OUT/r103; L=$R/log.txt
export FASTKERNELS_GIT_SHA=$(cat bundle66/GIT_SHA) FASTKERNELS_GOLDENS=$PWD/bundle66/goldens
for k in 1 2; do timeout 150 $B/fk-baselines.gpu_ops --test-threads 1 mamba_decode_layers > $R/ops-mdl-$k.txt 2>&1; echo "ops $k rc=$?" >> $L; grep -E "test result" $R/ops-mdl-$k.txt >> $L; done; cp $R/ops-mdl-1.txt $R/ops-mdl.txt
grep -E "test result|FAILED|failed" $R/ops-mdl.txt | tail -5 >> $L
timeout 150 $B/fk-mamba.model_gpu --test-threads 1 > $R/model.txt 2>&1; echo "model rc=$?" >> $L
grep -E "test result|FAILED|failed|one-kernel" $R/model.txt | tail -6 >> $L
for i in 1 2; do
FK_MAMBA_DECODE_LAYERS=0 timeout 60 $B/fk-mamba.ops --bench --quick --op "MambaForCausalLM decode" --json $R/bench-perop-$i.json 2>&1 | grep "batch 1" | sed "s/^/perop $i: /" >> $L
timeout 60 $B/fk-mamba.ops --bench --quick --op "MambaForCausalLM decode" --json $R/bench-one-$i.json 2>&1 | grep "batch 1" | sed "s/^/one $i: /" >> $L
done
timeout 100 compute-sanitizer --tool memcheck --print-limit 10 $B/fk-baselines.gpu_ops --test-threads 1 "mamba_decode_layers/bf16/3 layers [256" > $R/memcheck.txt 2>&1; echo "memcheck rc=$?" >> $L
grep -E "ERROR SUMMARY|test result" $R/memcheck.txt >> $L
cat $L
tar -czf $OUT/r103/logs.tar.gz -C $R .
