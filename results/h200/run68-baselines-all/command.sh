# run 68 (bundle45 = ee41273: the code of this session's last commit but for comments and docs): every fk-baselines GPU trial (all ops), and Mamba-2 goldens/engine again; logs in one tar
(cd bundle45 && tar -xJf bin.tar.xz)
B=$PWD/bundle45/bin; R=/tmp/r68; mkdir -p $R $OUT/r68; L=$R/log.txt
export FASTKERNELS_GIT_SHA=$(cat bundle45/GIT_SHA) FASTKERNELS_GOLDENS=$PWD/bundle45/goldens
echo "== sha $FASTKERNELS_GIT_SHA" >> $L
echo "== gpu_ops all $SECONDS" >> $L; timeout 420 $B/fk-baselines.gpu_ops --test-threads 1 > $R/gpu_ops-all.txt 2>&1; echo "rc $?" >> $L
grep -E "test result|FAILED|panicked" $R/gpu_ops-all.txt >> $L
echo "== done $SECONDS" >> $L
tar -czf $OUT/r68/logs.tar.gz -C $R .
cat $L
