# run 55 (bundle38): the second streaming causal_conv1d (a warp computes 8 whole rows of a stage from shared memory; 16-byte stores kept whole): conv trials, Mamba/Mamba-2 goldens, conv and prefill rows of both benches, ncu of the kernel, memcheck of the bf16 conv trials
(cd bundle38 && tar -xJf bin.tar.xz)
B=$PWD/bundle38/bin; R=$OUT/r55; mkdir -p $R; L=$R/log.txt
export FASTKERNELS_GIT_SHA=$(cat bundle38/GIT_SHA) FASTKERNELS_GOLDENS=$PWD/bundle38/goldens
echo "== sha $FASTKERNELS_GIT_SHA" >> $L
for f in causal_conv1d; do echo "== gpu_ops $f $SECONDS" >> $L; timeout 120 $B/fk-baselines.gpu_ops --test-threads 1 $f 2>&1 | grep -v " ok$" >> $L; done
for t in fk-mamba.model_gpu fk-mamba2.model_gpu; do echo "== $t $SECONDS" >> $L; timeout 120 $B/$t --test-threads 1 2>&1 | grep -v " ok$" >> $L; done
echo "== bench mamba conv $SECONDS" >> $L; timeout 60 $B/fk-mamba.ops --bench --quick --op "causal_conv1d " --json $R/bench-mamba-conv.json >> $L 2>&1
echo "== bench mamba2 conv $SECONDS" >> $L; timeout 60 $B/fk-mamba2.ops --bench --quick --op "causal_conv1d " --json $R/bench-mamba2-conv.json >> $L 2>&1
echo "== ncu conv $SECONDS" >> $L; timeout 60 ncu --cache-control all --clock-control none -k regex:conv_stream_kernel --launch-skip 2 --launch-count 1 --section SpeedOfLight --section Occupancy --section LaunchStats --section WarpStateStats --section MemoryWorkloadAnalysis --metrics smsp__inst_executed.sum,smsp__thread_inst_executed.sum $B/fk-mamba.ops --bench --quick --op "causal_conv1d 1x8192" > $R/ncu-conv.txt 2>&1
echo "== bench mamba prefill $SECONDS" >> $L; timeout 90 $B/fk-mamba.ops --bench --quick --op "MambaMixer prefill" --op "MambaForCausalLM prefill" --json $R/bench-mamba-prefill.json >> $L 2>&1
echo "== bench mamba2 prefill $SECONDS" >> $L; timeout 90 $B/fk-mamba2.ops --bench --quick --op "Mamba2Mixer prefill" --op "Mamba2ForCausalLM prefill" --json $R/bench-mamba2-prefill.json >> $L 2>&1
echo "== memcheck $SECONDS" >> $L; timeout 90 compute-sanitizer --tool memcheck --print-limit 20 $B/fk-baselines.gpu_ops --test-threads 1 causal_conv1d/bf16 > $R/memcheck.txt 2>&1; tail -4 $R/memcheck.txt >> $L
echo "== done $SECONDS" >> $L
grep -E "^==|test result|FAILED|panicked|failed|causal_conv1d |prefill" $L | tail -60; grep -E "Duration|DRAM Throughput|Registers Per|Achieved Occupancy|Waves|Block Limit Shared|inst_executed|Compute \(SM\)|Warp Cycles Per Issued" $R/ncu-conv.txt
