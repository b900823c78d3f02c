# run 27 (bundle 623cb9c on branch combo = ssd-chunked + scan-tp: `cargo xtask gpu-bundle --out bundle10 --only gpu_ops,fk-baselines.ops,fk-mamba2.model_gpu,fk-mamba2.engine_gpu,fk-mamba.model_gpu,fk-mamba.engine_gpu,fk-mamba.ops,fk-mamba2.ops`)
(cd bundle10 && tar -xJf bin.tar.xz)
B=$PWD/bundle10/bin; R=/tmp/r; mkdir -p $R; L=$R/log.txt
export FASTKERNELS_GIT_SHA=$(cat bundle10/GIT_SHA) FASTKERNELS_GOLDENS=$PWD/bundle10/goldens
echo "== gpu_ops selective_scan" >> $L; timeout 120 $B/fk-baselines.gpu_ops --test-threads 1 selective_scan 2>&1 | grep -v " ok$" >> $L
echo "== gpu_ops ssd_chunk_scan" >> $L; timeout 120 $B/fk-baselines.gpu_ops --test-threads 1 ssd_chunk_scan 2>&1 | grep -v " ok$" >> $L
for t in fk-mamba.model_gpu fk-mamba.engine_gpu fk-mamba2.model_gpu fk-mamba2.engine_gpu; do echo "== $t" >> $L; timeout 90 $B/$t --test-threads 1 2>&1 | grep -v " ok$" >> $L; done
echo "== bench ssd+scan $SECONDS" >> $L; timeout 90 $B/fk-baselines.ops --bench --quick --op selective_scan --op ssd_chunk_scan --json $R/bench-scan-ssd.json >> $L 2>&1
echo "== mamba ops $SECONDS" >> $L; timeout 120 $B/fk-mamba.ops --bench --quick --json $R/bench-mamba.json >> $L 2>&1
echo "== ncu scan $SECONDS" >> $L; timeout 100 ncu -k regex:scan_kernel --launch-skip 70 --launch-count 1 --section SpeedOfLight --section WarpStateStats --section SchedulerStats --section Occupancy --section InstructionStats --section MemoryWorkloadAnalysis $B/fk-baselines.ops --bench --quick --op selective_scan > $R/ncu-scan.txt 2>&1
echo "== done $SECONDS" >> $L
tar czf $OUT/r.tgz -C /tmp r; grep -E "^==|test result|FAILED|panicked|selective_scan |ssd_chunk_scan |L4|L2" $L | tail -70; grep -E "Duration|Issued Warp|Achieved Occ|Executed Ipc" $R/ncu-scan.txt
