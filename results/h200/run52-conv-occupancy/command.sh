# run 52 (bundle34): causal_conv1d at 4 CTAs/SM (register cap 128, 32-token chunks): conv trials, Mamba/Mamba-2 goldens, the conv rows of both benches and the Mamba prefill rows; ncu of the conv kernel (compare run 51: 99.4 us, 40.2 % of copy, 182 registers)
(cd bundle34 && tar -xJf bin.tar.xz)
B=$PWD/bundle34/bin; R=/tmp/r52; rm -rf $R; mkdir -p $R; L=$R/log.txt
export FASTKERNELS_GIT_SHA=$(cat bundle34/GIT_SHA) FASTKERNELS_GOLDENS=$PWD/bundle34/goldens
echo "== sha $FASTKERNELS_GIT_SHA" >> $L
for f in causal_conv1d linear_conv1d_update; do echo "== gpu_ops $f $SECONDS" >> $L; timeout 120 $B/fk-baselines.gpu_ops --test-threads 1 $f 2>&1 | grep -v " ok$" >> $L; done
for t in fk-mamba.model_gpu fk-mamba2.model_gpu; do echo "== $t $SECONDS" >> $L; timeout 120 $B/$t --test-threads 1 2>&1 | grep -v " ok$" >> $L; done
echo "== bench mamba conv $SECONDS" >> $L; timeout 100 $B/fk-mamba.ops --bench --quick --op "causal_conv1d " --json $R/bench-mamba-conv.json >> $L 2>&1
echo "== bench mamba2 conv $SECONDS" >> $L; timeout 100 $B/fk-mamba2.ops --bench --quick --op "causal_conv1d " --json $R/bench-mamba2-conv.json >> $L 2>&1
echo "== bench mamba prefill $SECONDS" >> $L; timeout 150 $B/fk-mamba.ops --bench --quick --op "MambaMixer prefill" --op "MambaForCausalLM prefill" --json $R/bench-mamba-prefill.json >> $L 2>&1
echo "== ncu conv $SECONDS" >> $L; timeout 120 ncu --cache-control all --clock-control none -k regex:conv_kernel --launch-skip 2 --launch-count 1 --section SpeedOfLight --section Occupancy --section LaunchStats $B/fk-mamba.ops --bench --quick --op "causal_conv1d 1x8192" > $R/ncu-conv.txt 2>&1
echo "== done $SECONDS" >> $L
tar czf $OUT/r.tgz -C /tmp r52; grep -E "^==|test result|FAILED|panicked|failed|causal_conv1d |prefill" $L | tail -60; grep -E "Duration|DRAM Throughput|Registers Per|Achieved Occupancy|Waves" $R/ncu-conv.txt
