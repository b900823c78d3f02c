# run 129 (session 19): the output pass with one code path for both warpgroups (scores . x over
# all 8 key blocks in both; warpgroup 0's upper 4 are zeros): 2528 SASS instructions instead of
# 3544 (run 127's ncu: 8.5 % of stall samples "no instruction"). Tests, benches twice, the
# standalone bench, racecheck, and the output pass's stall reasons.
#   cargo xtask gpu-bundle --out bundle77 --only fk-baselines.gpu_ops,fk-baselines.ops,fk-mamba2.model_gpu,fk-mamba2.engine_gpu
nvcc -O3 -std=c++17 --expt-relaxed-constexpr -lineinfo -gencode=arch=compute_90a,code=sm_90a -I baselines/include -DFK_SM90A=1 \
  experiments/ssm/ssd_state_bench.cu -o /tmp/ssb > /tmp/nvcc.txt 2>&1 &
(cd bundle77 && tar -xJf bin.tar.xz)
B=$PWD/bundle77/bin; R=/tmp/r129; mkdir -p $R; L=$OUT/log.txt
export FASTKERNELS_GIT_SHA=$(cat bundle77/GIT_SHA) FASTKERNELS_GOLDENS=$PWD/bundle77/goldens
res() { grep -o 'test result: [a-zA-Z]*\. [0-9]* passed; [0-9]* failed' "$1"; }
timeout 120 $B/fk-baselines.ops --bench --quick --op selective_scan --op ssd_chunk_scan --json $OUT/bench-ops-1.json > $R/bench-1.txt 2>&1
echo "bench 1 rc=$?" | tee -a $L; grep -E "8192" $R/bench-1.txt | tee -a $L
timeout 120 $B/fk-baselines.gpu_ops --test-threads 1 ssd_chunk_scan > $R/ssd.txt 2>&1; echo "ssd rc=$? $(res $R/ssd.txt)" | tee -a $L
grep -h -B2 -A14 "^---- \|panicked" $R/ssd.txt | head -40 | tee -a $L
timeout 150 $B/fk-mamba2.model_gpu --test-threads 1 > $R/model.txt 2>&1; echo "mamba2 model rc=$? $(res $R/model.txt)" | tee -a $L
timeout 150 $B/fk-mamba2.engine_gpu --test-threads 1 > $R/engine.txt 2>&1; echo "mamba2 engine rc=$? $(res $R/engine.txt)" | tee -a $L
timeout 120 $B/fk-baselines.ops --bench --quick --op selective_scan --op ssd_chunk_scan --json $OUT/bench-ops-2.json > $R/bench-2.txt 2>&1
echo "bench 2 rc=$?" | tee -a $L; grep -E "8192" $R/bench-2.txt | tee -a $L
wait
timeout 60 /tmp/ssb 20 | tee $OUT/bench.jsonl
timeout 120 compute-sanitizer --tool racecheck $B/fk-baselines.gpu_ops --test-threads 1 ssd_chunk_scan/bf16 > $R/racecheck.txt 2>&1
echo "racecheck rc=$? $(grep -E 'RACECHECK SUMMARY|ERROR SUMMARY' $R/racecheck.txt | sort | uniq -c | tr '\n' ' ')" | tee -a $L
timeout 100 ncu -k regex:output_sm90 -c 1 --set full --import-source yes -o $R/out /tmp/ssb 1 > $R/ncu.txt 2>&1; echo "ncu rc=$?" | tee -a $L
ncu -i $R/out.ncu-rep --page source --print-source sass --csv > $R/source.csv 2>/dev/null
python3 results/h200/run112-scan-ring-ncu-source/top.py $R/source.csv 25 > $OUT/top-output.txt 2>&1; head -6 $OUT/top-output.txt
tar -czf $OUT/logs.tar.gz -C $R --exclude=out.ncu-rep --exclude=source.csv .
