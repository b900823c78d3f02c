# run 49 (bundle31): Mamba-1's dt_proj inside selective_state_update: tests (state update incl. the dt_proj trials, Mamba goldens and engine, Mamba-2 goldens), A/B vs FK_AB_NO_DTPROJ on Mamba batch-1 and batch-32 graph decode (ABBA)
(cd bundle31 && tar -xJf bin.tar.xz)
B=$PWD/bundle31/bin; R=/tmp/r49; rm -rf $R; mkdir -p $R; L=$R/log.txt
export FASTKERNELS_GIT_SHA=$(cat bundle31/GIT_SHA) FASTKERNELS_GOLDENS=$PWD/bundle31/goldens
echo "== sha $FASTKERNELS_GIT_SHA" >> $L
for f in selective_state_update ssd_chunk_scan; do echo "== gpu_ops $f $SECONDS" >> $L; timeout 100 $B/fk-baselines.gpu_ops --test-threads 1 $f 2>&1 | grep -v " ok$" >> $L; done
for t in fk-mamba.model_gpu fk-mamba.engine_gpu fk-mamba2.model_gpu; do echo "== $t $SECONDS" >> $L; timeout 100 $B/$t --test-threads 1 2>&1 | grep -v " ok$" >> $L; done
for v in A B B A; do
  if [ $v = B ]; then export FK_AB_NO_DTPROJ=1; else unset FK_AB_NO_DTPROJ; fi
  echo "== ab $v mamba $SECONDS" >> $L; timeout 100 $B/fk-mamba.ops --bench --quick --op "MambaForCausalLM decode" --json $R/ab-$v-mamba-$SECONDS.json >> $L 2>&1
done
echo "== done $SECONDS" >> $L
tar czf $OUT/r.tgz -C /tmp r49; grep -E "^==|test result|FAILED|panicked|failed|decode batch" $L | tail -60
