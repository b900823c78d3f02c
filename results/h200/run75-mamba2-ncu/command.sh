# run 75 (bundle51 again, commit 5112459): is Mamba-2's decode slower with this session's binaries (run 74: batch 1 +0.5 %, batch 32 +1.3 % against run 71's)? ncu durations of the state update and the other step kernels, old (run 71's binary) and new, batch 1 and batch 32
(cd bundle51 && tar -xJf bin.tar.xz && mkdir -p old && tar -xJf old.tar.xz -C old)
B=$PWD/bundle51/bin; O=$PWD/bundle51/old; R=/tmp/r75; mkdir -p $R $OUT/r75; L=$R/log.txt
for v in old new; do
  if [ $v = old ]; then X=$O/fk-mamba2.ops.r71; else X=$B/fk-mamba2.ops; fi
  echo "== $v batch-1 step kernels $SECONDS" >> $L
  timeout 120 ncu --graph-profiling node --launch-skip 600 --launch-count 40 --csv --metrics gpu__time_duration.sum,launch__grid_size,launch__registers_per_thread $X --bench --quick --op "Mamba2ForCausalLM decode" > $R/ncu-$v-b1.csv 2> $R/ncu-$v-b1.err
  echo "== $v update_vec late $SECONDS" >> $L
  timeout 150 ncu --graph-profiling node -k regex:update_vec --launch-skip 3500 --launch-count 12 --csv --metrics gpu__time_duration.sum,launch__grid_size,launch__registers_per_thread $X --bench --quick --op "Mamba2ForCausalLM decode" > $R/ncu-$v-late.csv 2> $R/ncu-$v-late.err
done
echo "== done $SECONDS" >> $L
tar -czf $OUT/r75/logs.tar.gz -C $R .
cat $L
