# run 82 (bundle53, commit 04a534c: its baselines/architectures/categories/fk-runtime code is identical to the final HEAD's): the kernels this change touched (selective_scan, selective_state_update, skinny_gemm with linear_conv1d_update, ssd_chunk_scan) re-tested in this session, Mamba goldens, Mamba-1 decode bench twice
(cd bundle53 && tar -xJf bin.tar.xz)
B=$PWD/bundle53/bin; R=/tmp/r82; mkdir -p $R $OUT/r82; L=$R/log.txt
export FASTKERNELS_GIT_SHA=$(cat bundle53/GIT_SHA) FASTKERNELS_GOLDENS=$PWD/bundle53/goldens
echo "== sha $FASTKERNELS_GIT_SHA" >> $L
for f in selective_scan selective_state_update skinny_gemm linear_conv1d_update ssd_chunk_scan; do echo "== gpu_ops $f $SECONDS" >> $L; timeout 150 $B/fk-baselines.gpu_ops --test-threads 1 $f > $R/ops-$f.txt 2>&1; grep -E "test result|FAILED|panicked|failed" $R/ops-$f.txt >> $L; done
echo "== fk-mamba.model_gpu $SECONDS" >> $L; timeout 150 $B/fk-mamba.model_gpu --test-threads 1 > $R/model.txt 2>&1; grep -E "test result|FAILED|panicked|failed" $R/model.txt >> $L
for i in 1 2; do echo "== bench mamba $SECONDS" >> $L; timeout 100 $B/fk-mamba.ops --bench --quick --op "MambaForCausalLM decode" --json $R/bench-$i.json >> $L 2>&1; done
echo "== done $SECONDS" >> $L
tar -czf $OUT/r82/logs.tar.gz -C $R .
grep -E "^==|test result|FAILED|panicked|failed|decode batch" $L
