# run 30 (bundle 48964b5-dirty on branch ssd-nsplit: `cargo xtask gpu-bundle --out bundle13 --only gpu_ops,fk-baselines.ops,fk-mamba2.model_gpu`)
(cd bundle13 && tar -xJf bin.tar.xz)
B=$PWD/bundle13/bin; R=/tmp/r; mkdir -p $R; L=$R/log.txt
export FASTKERNELS_GIT_SHA=$(cat bundle13/GIT_SHA) FASTKERNELS_GOLDENS=$PWD/bundle13/goldens
echo "== gpu_ops ssd_chunk_scan selective_scan" >> $L; timeout 120 $B/fk-baselines.gpu_ops --test-threads 1 ssd_chunk_scan 2>&1 | grep -v " ok$" >> $L; timeout 120 $B/fk-baselines.gpu_ops --test-threads 1 selective_scan 2>&1 | grep -v " ok$" >> $L
for t in fk-mamba2.model_gpu; do echo "== $t" >> $L; timeout 90 $B/$t --test-threads 1 2>&1 | grep -v " ok$" >> $L; done
echo "== bench $SECONDS" >> $L; timeout 90 $B/fk-baselines.ops --bench --quick --op selective_scan --op ssd_chunk_scan --json $R/bench-scan-ssd.json >> $L 2>&1
echo "== ncu $SECONDS" >> $L; timeout 60 ncu -k regex:state_kernel --launch-skip 170 --launch-count 1 --section SpeedOfLight --section Occupancy --section SchedulerStats $B/fk-baselines.ops --bench --quick --op ssd_chunk_scan > $R/ncu-state.txt 2>&1
echo "== done $SECONDS" >> $L
tar czf $OUT/r.tgz -C /tmp r; grep -E "^==|test result|FAILED|panicked|selective_scan |ssd_chunk_scan " $L | tail -40; grep -E "Duration|Grid Size|Issued Warp|Achieved Occ" $R/ncu-state.txt
