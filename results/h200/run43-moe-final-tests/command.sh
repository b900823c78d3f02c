# run 43 (bundle26, the final MoE commit): MoE GPU trials and fk-mixtral's candidate trials (the one-token candidate; run 42's pass was cut by its timeout)
(cd bundle26 && tar -xJf bin.tar.xz)
B=$PWD/bundle26/bin; R=/tmp/r; mkdir -p $R; L=$R/log.txt
export FASTKERNELS_GIT_SHA=$(cat bundle26/GIT_SHA) FASTKERNELS_GOLDENS=$PWD/bundle26/goldens
echo "== sha $FASTKERNELS_GIT_SHA" >> $L
echo "== fk-mixtral.candidates $SECONDS" >> $L; timeout 220 $B/fk-mixtral.candidates --test-threads 1 2>&1 | grep -v " ok$" >> $L
echo "== gpu_ops moe $SECONDS" >> $L; timeout 100 $B/fk-baselines.gpu_ops --test-threads 1 moe 2>&1 | grep -v " ok$" >> $L
echo "== done $SECONDS" >> $L
tar czf $OUT/r.tgz -C /tmp r; grep -E "^==|test result|FAILED|panicked|failed|\.\.\. *$" $L | tail -40
