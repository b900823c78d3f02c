# run 56 (bundle39, commit 65efed9): L2 prefetch hints in the batch-1 decode steps of Mamba and Mamba-2. Tests of the ops that gained the hint (skinny_gemm, linear_conv1d_update, selective_state_update, fused_add_rms_norm) and every model using them; the A/B of the hint caps (FK_AB_L2_OUT_MB / FK_AB_L2_IN_MB) alternated twice; an nsys timeline of one graph replay each way if nsys is there
(cd bundle39 && tar -xJf bin.tar.xz)
B=$PWD/bundle39/bin; R=$OUT/r56; mkdir -p $R; L=$R/log.txt
export FASTKERNELS_GIT_SHA=$(cat bundle39/GIT_SHA) FASTKERNELS_GOLDENS=$PWD/bundle39/goldens
echo "== sha $FASTKERNELS_GIT_SHA" >> $L
for f in skinny_gemm linear_conv1d_update errors/skinny selective_state_update fused_add_rms_norm rms_norm; do echo "== gpu_ops $f $SECONDS" >> $L; timeout 120 $B/fk-baselines.gpu_ops --test-threads 1 $f 2>&1 | grep -v " ok$" >> $L; done
for t in fk-mamba.model_gpu fk-mamba.engine_gpu fk-mamba2.model_gpu fk-mamba2.engine_gpu fk-llama.model_gpu; do echo "== $t $SECONDS" >> $L; timeout 120 $B/$t --test-threads 1 2>&1 | grep -v " ok$" >> $L; done
echo "== recurrent_gpu $SECONDS" >> $L; (cd bundle39 && timeout 200 $B/cargo-fastkernels.recurrent_gpu --test-threads 1 2>&1 | grep -v " ok$" >> $L)
for rep in 1 2; do for v in "0 0" "32 0" "32 16" "0 16" "16 0" "32 32"; do set -- $v
  echo "== ab out=$1 in=$2 rep $rep $SECONDS" >> $L
  FK_AB_L2_OUT_MB=$1 FK_AB_L2_IN_MB=$2 timeout 60 $B/fk-mamba.ops --bench --quick --op "MambaForCausalLM decode batch 1," --json $R/m1-o$1-i$2-r$rep.json 2>&1 | grep "decode batch" >> $L
  FK_AB_L2_OUT_MB=$1 FK_AB_L2_IN_MB=$2 timeout 60 $B/fk-mamba2.ops --bench --quick --op "Mamba2ForCausalLM decode batch 1," --json $R/m2-o$1-i$2-r$rep.json 2>&1 | grep "decode batch" >> $L
done; done
echo "== batch 32 (hints off by rule) $SECONDS" >> $L; timeout 60 $B/fk-mamba.ops --bench --quick --op "MambaForCausalLM decode batch 32" --json $R/m1-b32.json 2>&1 | grep "decode batch" >> $L
echo "== nsys $(which nsys) $SECONDS" >> $L
if command -v nsys >/dev/null; then for v in "0 0" "32 16"; do set -- $v
  FK_AB_L2_OUT_MB=$1 FK_AB_L2_IN_MB=$2 timeout 120 nsys profile -t cuda --cuda-graph-trace=node -o $R/nsys-m1-o$1-i$2 $B/fk-mamba.ops --bench --quick --op "MambaForCausalLM decode batch 1," > $R/nsys-m1-o$1-i$2.log 2>&1
  timeout 120 nsys stats -r cuda_gpu_trace -f csv -o $R/trace-m1-o$1-i$2 $R/nsys-m1-o$1-i$2.nsys-rep >> $R/nsys-m1-o$1-i$2.log 2>&1
  gzip -f $R/trace-m1-o$1-i$2*.csv; rm -f $R/*.nsys-rep $R/*.sqlite
done; fi
echo "== done $SECONDS" >> $L
grep -E "^==|test result|FAILED|panicked|failed|decode batch" $L | tail -80
