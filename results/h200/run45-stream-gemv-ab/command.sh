# run 45 (bundle28): streaming one-row skinny_gemm (sm_90a): tests, A/B vs the warp-per-row kernel (FK_AB_NO_STREAM) on Mamba/Mamba-2 decode, Llama single_request and the Llama linear rows; ncu of Mamba-1's decode kernels
(cd bundle28 && tar -xJf bin.tar.xz)
B=$PWD/bundle28/bin; R=/tmp/r; mkdir -p $R; L=$R/log.txt
export FASTKERNELS_GIT_SHA=$(cat bundle28/GIT_SHA) FASTKERNELS_GOLDENS=$PWD/bundle28/goldens
echo "== sha $FASTKERNELS_GIT_SHA" >> $L
for f in skinny_gemm linear_conv1d_update errors/skinny; do echo "== gpu_ops $f $SECONDS" >> $L; timeout 150 $B/fk-baselines.gpu_ops --test-threads 1 $f 2>&1 | grep -v " ok$" >> $L; done
for t in fk-mamba.model_gpu fk-mamba2.model_gpu fk-llama.model_gpu; do echo "== $t $SECONDS" >> $L; timeout 150 $B/$t --test-threads 1 2>&1 | grep -v " ok$" >> $L; done
for v in A B B A; do
  if [ $v = B ]; then export FK_AB_NO_STREAM=1; else unset FK_AB_NO_STREAM; fi
  echo "== ab $v mamba $SECONDS" >> $L; timeout 100 $B/fk-mamba.ops --bench --quick --op "MambaForCausalLM decode batch 1" --json $R/ab-$v-mamba-$SECONDS.json >> $L 2>&1
  echo "== ab $v mamba2 $SECONDS" >> $L; timeout 100 $B/fk-mamba2.ops --bench --quick --op "Mamba2ForCausalLM decode batch 1" --json $R/ab-$v-mamba2-$SECONDS.json >> $L 2>&1
  echo "== ab $v llama $SECONDS" >> $L; timeout 150 $B/cargo-fastkernels eval --arch llama --random-weights --workload LLM.single_request --json $R/ab-$v-llama-$SECONDS.json 2>&1 | grep -A3 "^workload" >> $L
  echo "== ab $v llama-linear $SECONDS" >> $L; timeout 100 $B/fk-llama.ops --bench --quick --op "skinny_gemm [1," --json $R/ab-$v-llama-linear-$SECONDS.json >> $L 2>&1
done
unset FK_AB_NO_STREAM
M=gpu__time_duration.sum,dram__bytes_read.sum,dram__bytes_write.sum,dram__throughput.avg.pct_of_peak_sustained_elapsed
echo "== ncu mamba $SECONDS" >> $L; timeout 150 ncu --graph-profiling node --cache-control none --clock-control none -k 'regex:gemv|skinny|update|norm' --launch-skip 1000 --launch-count 24 --metrics $M --csv $B/fk-mamba.ops --bench --quick --op "MambaForCausalLM decode batch 1" > $R/ncu-mamba.csv 2>$R/ncu-mamba.err
echo "== ncu mamba2 $SECONDS" >> $L; timeout 150 ncu --graph-profiling node --cache-control none --clock-control none -k 'regex:gemv|skinny|update|norm' --launch-skip 1000 --launch-count 16 --metrics $M --csv $B/fk-mamba2.ops --bench --quick --op "Mamba2ForCausalLM decode batch 1" > $R/ncu-mamba2.csv 2>$R/ncu-mamba2.err
echo "== done $SECONDS" >> $L
tar czf $OUT/r.tgz -C /tmp r; grep -E "^==|test result|FAILED|panicked|failed|decode batch|LLM\.|skinny_gemm" $L | tail -80
