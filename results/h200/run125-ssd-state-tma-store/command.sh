# run 125 (session 19; prepared in session 18). It tests the next step of
# the Hopper state pass, written in commit 985e313 and the product since this run passed:
# states published by TMA store from per-warp staging tiles, 3-D x/B maps (padding columns
# arrive as zeros), accumulating into the state. The bundle, built from that tree first:
#   cargo xtask gpu-bundle --out bundle73 --only fk-baselines.gpu_ops,fk-baselines.ops,fk-mamba2.model_gpu,fk-mamba2.engine_gpu
nvcc -O3 -std=c++17 --expt-relaxed-constexpr -gencode=arch=compute_90a,code=sm_90a -I baselines/include -DFK_SM90A=1 \
  experiments/ssm/ssd_state_bench.cu -o /tmp/ssb > /tmp/nvcc.txt 2>&1 &
(cd bundle73 && tar -xJf bin.tar.xz)
tar -czf $OUT/logs.tar.gz -C /tmp nvcc.txt 2>/dev/null
B=$PWD/bundle73/bin; R=/tmp/r125; mkdir -p $R; L=$OUT/log.txt
export FASTKERNELS_GIT_SHA=$(cat bundle73/GIT_SHA) FASTKERNELS_GOLDENS=$PWD/bundle73/goldens
res() { grep -o 'test result: [a-zA-Z]*\. [0-9]* passed; [0-9]* failed' "$1"; }
# (most important first: the budget may end the call; the log is written as it goes)
timeout 120 $B/fk-baselines.gpu_ops --test-threads 1 ssd_chunk_scan > $R/ssd-sm90.txt 2>&1; echo "ssd (state_sm90) rc=$? $(res $R/ssd-sm90.txt)" | tee -a $L
grep -h -B2 -A14 "^---- \|panicked" $R/ssd-sm90.txt | head -60 | tee -a $L
timeout 120 $B/fk-baselines.ops --bench --quick --op selective_scan --op ssd_chunk_scan --json $OUT/bench-ops-1.json > $R/bench-1.txt 2>&1
echo "bench 1 rc=$?" | tee -a $L; grep -E "8192" $R/bench-1.txt | tee -a $L
timeout 150 $B/fk-mamba2.model_gpu --test-threads 1 > $R/model.txt 2>&1; echo "mamba2 model rc=$? $(res $R/model.txt)" | tee -a $L
timeout 150 $B/fk-mamba2.engine_gpu --test-threads 1 > $R/engine.txt 2>&1; echo "mamba2 engine rc=$? $(res $R/engine.txt)" | tee -a $L
grep -h -A8 "^---- " $R/model.txt $R/engine.txt | head -30 | tee -a $L
FK_SSD_STATE_PASS=mma timeout 120 $B/fk-baselines.gpu_ops --test-threads 1 ssd_chunk_scan > $R/ssd-mma.txt 2>&1; echo "ssd (mma) rc=$? $(res $R/ssd-mma.txt)" | tee -a $L
timeout 120 $B/fk-baselines.ops --bench --quick --op selective_scan --op ssd_chunk_scan --json $OUT/bench-ops-2.json > $R/bench-2.txt 2>&1
echo "bench 2 rc=$?" | tee -a $L; grep -E "8192" $R/bench-2.txt | tee -a $L
wait
timeout 60 /tmp/ssb 20 | tee $OUT/bench.jsonl
timeout 120 compute-sanitizer --tool racecheck $B/fk-baselines.gpu_ops --test-threads 1 ssd_chunk_scan/bf16 > $R/racecheck.txt 2>&1
echo "racecheck rc=$? $(grep -E 'RACECHECK SUMMARY|ERROR SUMMARY' $R/racecheck.txt | sort | uniq -c | tr '\n' ' ')" | tee -a $L
tar -czf $OUT/logs.tar.gz -C $R .
