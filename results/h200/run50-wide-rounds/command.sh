# run 50 (bundle32): wide one-round GEMV rows (U = 10) for one-row skinny_gemm: tests (skinny incl. the 5- and 10-chunk shapes, linear_conv incl. k 2560, state update, the ssd_chunk_scan pieces trial incl. run 49's failing seed, Mamba goldens and engine, Mamba-2 goldens), A/B vs FK_AB_NO_WIDE on Mamba/Mamba-2 batch-1 decode (ABBA), Mamba batch 32 once, ncu of Mamba-1's GEMVs both ways
(cd bundle32 && tar -xJf bin.tar.xz)
B=$PWD/bundle32/bin; R=/tmp/r50; rm -rf $R; mkdir -p $R; L=$R/log.txt
export FASTKERNELS_GIT_SHA=$(cat bundle32/GIT_SHA) FASTKERNELS_GOLDENS=$PWD/bundle32/goldens
echo "== sha $FASTKERNELS_GIT_SHA" >> $L
for f in skinny_gemm linear_conv1d_update selective_state_update ssd_chunk_scan; do echo "== gpu_ops $f $SECONDS" >> $L; timeout 100 $B/fk-baselines.gpu_ops --test-threads 1 $f 2>&1 | grep -v " ok$" >> $L; done
echo "== gpu_ops ssd pieces seed 1796158064804132698 $SECONDS" >> $L; FASTKERNELS_SEED=1796158064804132698 timeout 60 $B/fk-baselines.gpu_ops --test-threads 1 "ssd_chunk_scan/two pieces" 2>&1 | grep -v " ok$" >> $L
for t in fk-mamba.model_gpu fk-mamba.engine_gpu fk-mamba2.model_gpu; do echo "== $t $SECONDS" >> $L; timeout 100 $B/$t --test-threads 1 2>&1 | grep -v " ok$" >> $L; done
for v in A B B A; do
  if [ $v = B ]; then export FK_AB_NO_WIDE=1; else unset FK_AB_NO_WIDE; fi
  echo "== ab $v mamba $SECONDS" >> $L; timeout 100 $B/fk-mamba.ops --bench --quick --op "MambaForCausalLM decode batch 1" --json $R/ab-$v-mamba-$SECONDS.json >> $L 2>&1
  echo "== ab $v mamba2 $SECONDS" >> $L; timeout 100 $B/fk-mamba2.ops --bench --quick --op "Mamba2ForCausalLM decode batch 1" --json $R/ab-$v-mamba2-$SECONDS.json >> $L 2>&1
done
unset FK_AB_NO_WIDE
echo "== mamba batch 32 $SECONDS" >> $L; timeout 100 $B/fk-mamba.ops --bench --quick --op "MambaForCausalLM decode batch 32" --json $R/mamba-b32.json >> $L 2>&1
M=gpu__time_duration.sum,dram__bytes_read.sum,dram__throughput.avg.pct_of_peak_sustained_elapsed
N="ncu --graph-profiling node --cache-control none --clock-control none -k regex:skinny|update|norm --metrics $M --csv --launch-skip 1000 --launch-count 10"
echo "== ncu wide $SECONDS" >> $L; timeout 100 $N $B/fk-mamba.ops --bench --quick --op "MambaForCausalLM decode batch 1" > $R/ncu-mamba-wide.csv 2>$R/ncu-mamba-wide.err
echo "== ncu old $SECONDS" >> $L; FK_AB_NO_WIDE=1 timeout 100 $N $B/fk-mamba.ops --bench --quick --op "MambaForCausalLM decode batch 1" > $R/ncu-mamba-old.csv 2>$R/ncu-mamba-old.err
echo "== done $SECONDS" >> $L
tar czf $OUT/r.tgz -C /tmp r50; grep -E "^==|test result|FAILED|panicked|failed|decode batch" $L | tail -60
