# run 44 (bundle27): settled-state selective_state_update (state read before the PDL wait): tests, A/B (FK_AB_UNSETTLED), ncu per-kernel breakdown of both decode steps
(cd bundle27 && tar -xJf bin.tar.xz)
B=$PWD/bundle27/bin; R=/tmp/r; mkdir -p $R; L=$R/log.txt
export FASTKERNELS_GIT_SHA=$(cat bundle27/GIT_SHA) FASTKERNELS_GOLDENS=$PWD/bundle27/goldens
echo "== sha $FASTKERNELS_GIT_SHA" >> $L
for f in selective_state_update ssd_chunk_scan; do echo "== gpu_ops $f $SECONDS" >> $L; timeout 150 $B/fk-baselines.gpu_ops --test-threads 1 $f 2>&1 | grep -v " ok$" >> $L; done
for t in fk-mamba.model_gpu fk-mamba2.model_gpu fk-mamba2.engine_gpu; do echo "== $t $SECONDS" >> $L; timeout 150 $B/$t --test-threads 1 2>&1 | grep -v " ok$" >> $L; done
for v in A B B A; do
  if [ $v = B ]; then export FK_AB_UNSETTLED=1; else unset FK_AB_UNSETTLED; fi
  echo "== ab $v mamba $SECONDS" >> $L; timeout 100 $B/fk-mamba.ops --bench --quick --op "MambaForCausalLM decode" --json $R/ab-$v-mamba-$SECONDS.json >> $L 2>&1
  echo "== ab $v mamba2 $SECONDS" >> $L; timeout 100 $B/fk-mamba2.ops --bench --quick --op "Mamba2ForCausalLM decode" --json $R/ab-$v-mamba2-$SECONDS.json >> $L 2>&1
done
unset FK_AB_UNSETTLED
K='regex:skinny|state_update|rms_norm|conv1d'
M=gpu__time_duration.sum,dram__bytes_read.sum,dram__bytes_write.sum,dram__throughput.avg.pct_of_peak_sustained_elapsed
echo "== ncu mamba2 $SECONDS" >> $L; timeout 150 ncu --graph-profiling node --cache-control none --clock-control none -k "$K" --launch-skip 1000 --launch-count 16 --metrics $M --csv $B/fk-mamba2.ops --bench --quick --op "Mamba2ForCausalLM decode batch 1" > $R/ncu-mamba2.csv 2>$R/ncu-mamba2.err
echo "== ncu mamba $SECONDS" >> $L; timeout 150 ncu --graph-profiling node --cache-control none --clock-control none -k "$K" --launch-skip 1000 --launch-count 20 --metrics $M --csv $B/fk-mamba.ops --bench --quick --op "MambaForCausalLM decode batch 1" > $R/ncu-mamba.csv 2>$R/ncu-mamba.err
echo "== done $SECONDS" >> $L
tar czf $OUT/r.tgz -C /tmp r; grep -E "^==|test result|FAILED|panicked|failed|decode batch" $L | tail -60
