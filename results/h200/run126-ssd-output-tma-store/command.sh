# run 126 (session 19): ssd_chunk_scan's Hopper output pass stores each warp's 16 output rows
# of a unit by one TMA store from a swizzled staging tile (whole 16-row blocks of a chunk; a
# sequence's last, partial block by the threads as before). Bundle built from this tree:
#   cargo xtask gpu-bundle --out bundle74 --only fk-baselines.gpu_ops,fk-baselines.ops,fk-mamba2.model_gpu,fk-mamba2.engine_gpu
nvcc -O3 -std=c++17 --expt-relaxed-constexpr -gencode=arch=compute_90a,code=sm_90a -I baselines/include -DFK_SM90A=1 \
  experiments/ssm/ssd_state_bench.cu -o /tmp/ssb > /tmp/nvcc.txt 2>&1 &
(cd bundle74 && tar -xJf bin.tar.xz)
B=$PWD/bundle74/bin; R=/tmp/r126; mkdir -p $R; L=$OUT/log.txt
export FASTKERNELS_GIT_SHA=$(cat bundle74/GIT_SHA) FASTKERNELS_GOLDENS=$PWD/bundle74/goldens
res() { grep -o 'test result: [a-zA-Z]*\. [0-9]* passed; [0-9]* failed' "$1"; }
timeout 120 $B/fk-baselines.gpu_ops --test-threads 1 ssd_chunk_scan > $R/ssd-sm90.txt 2>&1; echo "ssd (output_sm90) rc=$? $(res $R/ssd-sm90.txt)" | tee -a $L
grep -h -B2 -A14 "^---- \|panicked" $R/ssd-sm90.txt | head -60 | tee -a $L
timeout 120 $B/fk-baselines.ops --bench --quick --op selective_scan --op ssd_chunk_scan --json $OUT/bench-ops-1.json > $R/bench-1.txt 2>&1
echo "bench 1 rc=$?" | tee -a $L; grep -E "8192" $R/bench-1.txt | tee -a $L
timeout 150 $B/fk-mamba2.model_gpu --test-threads 1 > $R/model.txt 2>&1; echo "mamba2 model rc=$? $(res $R/model.txt)" | tee -a $L
timeout 150 $B/fk-mamba2.engine_gpu --test-threads 1 > $R/engine.txt 2>&1; echo "mamba2 engine rc=$? $(res $R/engine.txt)" | tee -a $L
grep -h -A8 "^---- " $R/model.txt $R/engine.txt | head -30 | tee -a $L
FK_SSD_OUTPUT_PASS=mma timeout 120 $B/fk-baselines.gpu_ops --test-threads 1 ssd_chunk_scan > $R/ssd-mma.txt 2>&1; echo "ssd (output mma) rc=$? $(res $R/ssd-mma.txt)" | tee -a $L
timeout 120 $B/fk-baselines.ops --bench --quick --op selective_scan --op ssd_chunk_scan --json $OUT/bench-ops-2.json > $R/bench-2.txt 2>&1
echo "bench 2 rc=$?" | tee -a $L; grep -E "8192" $R/bench-2.txt | tee -a $L
wait
timeout 60 /tmp/ssb 20 | tee $OUT/bench.jsonl
timeout 120 compute-sanitizer --tool racecheck $B/fk-baselines.gpu_ops --test-threads 1 ssd_chunk_scan/bf16 > $R/racecheck.txt 2>&1
echo "racecheck rc=$? $(grep -E 'RACECHECK SUMMARY|ERROR SUMMARY' $R/racecheck.txt | sort | uniq -c | tr '\n' ' ')" | tee -a $L
timeout 90 ncu -k regex:output_sm90 -c 1 --section SpeedOfLight --section Occupancy --section WarpStateStats --section SchedulerStats /tmp/ssb 1 > $R/ncu_output.txt 2>&1
echo "ncu rc=$?" | tee -a $L; grep -E "Duration|Throughput|Issued Ipc|Warp Cycles Per Issued|Achieved Occupancy|Eligible Warps" $R/ncu_output.txt | head -20 | tee -a $L
tar -czf $OUT/logs.tar.gz -C $R .
