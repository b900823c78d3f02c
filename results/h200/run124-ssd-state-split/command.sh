# run 124 (one call): (a) bundle72 (the TMA state pass with its sums in two register sets, each
# chunk's product in its own accumulator: FK_SSD_STATE_SPLIT=1), built with
#   cargo xtask gpu-bundle --out bundle72 --only fk-baselines.gpu_ops,fk-baselines.ops,fk-mamba2.model_gpu,fk-mamba2.engine_gpu
# SSD trials with the Hopper state pass and with FK_SSD_STATE_PASS=mma, the Mamba-2 model and
# engine tests, the product bench (selective_scan and ssd_chunk_scan at 8k tokens in one
# process) twice; (b) experiments/ssm/ssd_state_bench.cu built on the device: SPLIT=1 against
# SPLIT=0 (accumulating into the state), and diagnostic builds (bit flags of FK_SSD_STATE_DIAG,
# wrong results by design): 1 skips the scaling, 13 leaves TMA + products + barriers; ncu of
# the sums pre-pass; (c) racecheck of the bf16 SSD trials.
b() { nvcc -O3 -std=c++17 --expt-relaxed-constexpr -gencode=arch=compute_90a,code=sm_90a -I baselines/include -DFK_SM90A=1 "$@" experiments/ssm/ssd_state_bench.cu; }
(b -o /tmp/ssb_s1 & b -DFK_SSD_STATE_SPLIT=0 -o /tmp/ssb_s0 & b -DFK_SSD_STATE_DIAG=1 -o /tmp/ssb_d1 & b -DFK_SSD_STATE_DIAG=13 -o /tmp/ssb_d13 & wait) &
(cd bundle72 && tar -xJf bin.tar.xz)
B=$PWD/bundle72/bin; R=/tmp/r124; mkdir -p $R; L=$OUT/log.txt
export FASTKERNELS_GIT_SHA=$(cat bundle72/GIT_SHA) FASTKERNELS_GOLDENS=$PWD/bundle72/goldens
res() { grep -o 'test result: [a-zA-Z]*\. [0-9]* passed; [0-9]* failed' "$1"; }
timeout 120 $B/fk-baselines.gpu_ops --test-threads 1 ssd_chunk_scan > $R/ssd-sm90.txt 2>&1; echo "ssd (state_sm90) rc=$? $(res $R/ssd-sm90.txt)" >> $L
FK_SSD_STATE_PASS=mma timeout 120 $B/fk-baselines.gpu_ops --test-threads 1 ssd_chunk_scan > $R/ssd-mma.txt 2>&1; echo "ssd (mma) rc=$? $(res $R/ssd-mma.txt)" >> $L
grep -h -B2 -A12 "^---- \|panicked" $R/ssd-sm90.txt | head -60 >> $L
timeout 150 $B/fk-mamba2.model_gpu --test-threads 1 > $R/model.txt 2>&1; echo "mamba2 model rc=$? $(res $R/model.txt)" >> $L
timeout 150 $B/fk-mamba2.engine_gpu --test-threads 1 > $R/engine.txt 2>&1; echo "mamba2 engine rc=$? $(res $R/engine.txt)" >> $L
grep -h -A8 "^---- " $R/model.txt $R/engine.txt | head -30 >> $L
for k in 1 2; do
  timeout 120 $B/fk-baselines.ops --bench --quick --op selective_scan --op ssd_chunk_scan --json $OUT/bench-ops-$k.json > $R/bench-$k.txt 2>&1
  echo "bench $k rc=$?" >> $L; grep -E "8192" $R/bench-$k.txt >> $L
done
cat $L
wait
for v in s1 s0 d1 d13 s1 s0; do echo "== $v" >> $OUT/bench.txt; timeout 30 /tmp/ssb_$v 20 >> $OUT/bench.txt; done
grep -o '"diag": [0-9]*, "op_us": [0-9.]*, "sums_us": [0-9.]*, "state_us": [0-9.]*, "states_rel": \[[0-9e., -]*\], "final_rel": \[[0-9e., -]*\]' $OUT/bench.txt
timeout 60 ncu -k regex:chunk_sums -c 1 --section SpeedOfLight --section WarpStateStats --section Occupancy /tmp/ssb_s1 1 2>&1 | grep -E "Duration|SM Frequency|Achieved Occ|Warp Cycles Per Issued" | head -8 | tee $OUT/ncu_sums.txt
timeout 120 compute-sanitizer --tool racecheck $B/fk-baselines.gpu_ops --test-threads 1 ssd_chunk_scan/bf16 > $R/racecheck.txt 2>&1
echo "racecheck rc=$? $(grep -E 'RACECHECK SUMMARY|ERROR SUMMARY' $R/racecheck.txt | sort | uniq -c | tr '\n' ' ')" | tee -a $L
tar -czf $OUT/logs.tar.gz -C $R .
