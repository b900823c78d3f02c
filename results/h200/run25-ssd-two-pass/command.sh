# run 25 (bundle a92083b on branch ssd-chunked: `cargo xtask gpu-bundle --out bundle8 --only gpu_ops,fk-baselines.ops,fk-mamba2.model_gpu,fk-mamba2.engine_gpu,fk-mamba2.ops`)
(cd bundle8 && tar -xJf bin.tar.xz)
B=$PWD/bundle8/bin; R=/tmp/r; mkdir -p $R; L=$R/log.txt
export FASTKERNELS_GIT_SHA=$(cat bundle8/GIT_SHA) FASTKERNELS_GOLDENS=$PWD/bundle8/goldens
echo "== gpu_ops ssd_chunk_scan" >> $L; timeout 120 $B/fk-baselines.gpu_ops --test-threads 1 ssd_chunk_scan 2>&1 | grep -v " ok$" >> $L
for t in fk-mamba2.model_gpu fk-mamba2.engine_gpu; do echo "== $t" >> $L; timeout 90 $B/$t --test-threads 1 2>&1 | grep -v " ok$" >> $L; done
echo "== bench ssd+scan $SECONDS" >> $L; timeout 90 $B/fk-baselines.ops --bench --quick --op ssd_chunk_scan --op selective_scan --json $R/bench-ssd.json >> $L 2>&1
echo "== mamba2 ops $SECONDS" >> $L; timeout 120 $B/fk-mamba2.ops --bench --quick --json $R/bench-mamba2.json >> $L 2>&1
echo "== done $SECONDS" >> $L
tar czf $OUT/r.tgz -C /tmp r; grep -E "^==|test result|FAILED|panicked|ssd_chunk_scan|selective_scan|L4|L3|L2" $L | tail -70
