# run 127 (session 19): the product after runs 125-126 (bundle75; plus the Hopper passes' token
# limit): SSD trials, memcheck and synccheck of the bf16 SSD trials (the TMA stores are new),
# Mamba-2 goldens, the scan/SSD bench, Mamba-2 prefill (mixer and Mamba-Codestral-7B model at
# 2048/8192 tokens), and ncu per SASS line of the output pass (the larger half of SSD now).
#   cargo xtask gpu-bundle --out bundle75 --only fk-baselines.gpu_ops,fk-baselines.ops,fk-mamba2.ops,fk-mamba2.model_gpu
nvcc -O3 -std=c++17 --expt-relaxed-constexpr -lineinfo -gencode=arch=compute_90a,code=sm_90a -I baselines/include -DFK_SM90A=1 \
  experiments/ssm/ssd_state_bench.cu -o /tmp/ssb > /tmp/nvcc.txt 2>&1 &
(cd bundle75 && tar -xJf bin.tar.xz)
B=$PWD/bundle75/bin; R=/tmp/r127; mkdir -p $R; L=$OUT/log.txt
export FASTKERNELS_GIT_SHA=$(cat bundle75/GIT_SHA) FASTKERNELS_GOLDENS=$PWD/bundle75/goldens
res() { grep -o 'test result: [a-zA-Z]*\. [0-9]* passed; [0-9]* failed' "$1"; }
timeout 120 $B/fk-baselines.gpu_ops --test-threads 1 ssd_chunk_scan > $R/ssd.txt 2>&1; echo "ssd rc=$? $(res $R/ssd.txt)" | tee -a $L
timeout 150 $B/fk-mamba2.model_gpu --test-threads 1 > $R/model.txt 2>&1; echo "mamba2 model rc=$? $(res $R/model.txt)" | tee -a $L
timeout 120 $B/fk-baselines.ops --bench --quick --op selective_scan --op ssd_chunk_scan --json $OUT/bench-ops.json > $R/bench-ops.txt 2>&1
echo "bench ops rc=$?" | tee -a $L; grep -E "8192" $R/bench-ops.txt | tee -a $L
timeout 150 $B/fk-mamba2.ops --bench --quick --op "Mamba2Mixer prefill" --op "Mamba2ForCausalLM prefill" --json $OUT/bench-mamba2.json > $R/bench-mamba2.txt 2>&1
echo "bench mamba2 rc=$?" | tee -a $L; grep -iE "prefill" $R/bench-mamba2.txt | tee -a $L
for tool in memcheck synccheck; do timeout 120 compute-sanitizer --tool $tool --print-limit 20 $B/fk-baselines.gpu_ops --test-threads 1 ssd_chunk_scan/bf16 > $R/$tool.txt 2>&1
  echo "$tool rc=$? $(grep -E 'ERROR SUMMARY|test result' $R/$tool.txt | tr '\n' ' ')" | tee -a $L; done
wait
timeout 100 ncu -k regex:output_sm90 -c 1 --set full --import-source yes -o $R/out /tmp/ssb 1 > $R/ncu.txt 2>&1; echo "ncu rc=$?" | tee -a $L
ncu -i $R/out.ncu-rep --page source --print-source sass --csv > $R/source.csv 2>/dev/null
python3 results/h200/run112-scan-ring-ncu-source/top.py $R/source.csv 40 > $OUT/top-output.txt 2>&1; head -45 $OUT/top-output.txt
tar -czf $OUT/logs.tar.gz -C $R --exclude=out.ncu-rep --exclude=source.csv .
