# run 78 (bundle55, commit in GIT_SHA): L2 prefetch in Mamba-1's batch-1 decode step: self hints (each GEMV's own weight before its PDL wait) and side-stream prefetches (out_proj's weight from when in_proj ends; the next weight's head from when the state update ends). Tests: skinny (3 hinted), linear_conv (4 hinted), the side-stream trial, errors/skinny; memcheck of the hinted and side-stream trials; Mamba/Mamba-2 goldens and engines; Mamba-1 decode swept over FK_MAMBA_DECODE_PREFETCH = in_proj,out_proj,aside_out_proj,aside_next (MiB; negative: the tail), twice in reversed order; Mamba-2 decode once
(cd bundle55 && tar -xJf bin.tar.xz)
B=$PWD/bundle55/bin; R=/tmp/r78; mkdir -p $R $OUT/r78; L=$R/log.txt
export FASTKERNELS_GIT_SHA=$(cat bundle55/GIT_SHA) FASTKERNELS_GOLDENS=$PWD/bundle55/goldens
echo "== sha $FASTKERNELS_GIT_SHA" >> $L
for f in skinny_gemm linear_conv1d_update l2_prefetch; do echo "== gpu_ops $f $SECONDS" >> $L; timeout 120 $B/fk-baselines.gpu_ops --test-threads 1 $f > $R/ops-$f.txt 2>&1; grep -E "test result|FAILED|panicked|failed" $R/ops-$f.txt >> $L; done
echo "== memcheck $SECONDS" >> $L; timeout 150 compute-sanitizer --tool memcheck --print-limit 20 $B/fk-baselines.gpu_ops --test-threads 1 "L2 hints" > $R/memcheck.txt 2>&1; grep -E "test result|ERROR SUMMARY" $R/memcheck.txt >> $L
timeout 100 compute-sanitizer --tool memcheck --print-limit 20 $B/fk-baselines.gpu_ops --test-threads 1 "l2_prefetch" > $R/memcheck2.txt 2>&1; grep -E "test result|ERROR SUMMARY" $R/memcheck2.txt >> $L
for t in fk-mamba.model_gpu fk-mamba.engine_gpu fk-mamba2.model_gpu fk-mamba2.engine_gpu; do echo "== $t $SECONDS" >> $L; timeout 150 $B/$t --test-threads 1 > $R/$t.txt 2>&1; grep -E "test result|FAILED|panicked|failed" $R/$t.txt >> $L; done
P="off 0,0,26,0 0,0,16,0 0,0,26,8 0,0,26,16 0,0,26,24 0,0,0,16 0,26,0,0 -16,0,0,0 -16,0,26,0 off"
for pass in 1 2; do
  [ $pass = 2 ] && P=$(echo $P | tr ' ' '\n' | tac | tr '\n' ' ')
  for plan in $P; do
    echo "== plan $plan pass $pass $SECONDS" >> $L
    FK_MAMBA_DECODE_PREFETCH=$plan timeout 60 $B/fk-mamba.ops --bench --quick --op "MambaForCausalLM decode" --json $R/plan-$plan-$pass-$SECONDS.json >> $L 2>&1
  done
done
echo "== mamba2 $SECONDS" >> $L; timeout 60 $B/fk-mamba2.ops --bench --quick --op "Mamba2ForCausalLM decode" --json $R/mamba2.json >> $L 2>&1
echo "== done $SECONDS" >> $L
tar -czf $OUT/r78/logs.tar.gz -C $R .
grep -E "^==|test result|FAILED|panicked|failed|decode batch|ERROR SUMMARY" $L | tail -100
