# run 36 (bundle19 b8f091f): in_proj + conv in one kernel (skinny_gemm conv epilogue) for Mamba/Mamba-2 decode; all four encoders vs HF in one call
(cd bundle19 && tar -xJf bin.tar.xz)
B=$PWD/bundle19/bin; R=/tmp/r; mkdir -p $R; L=$R/log.txt
export FASTKERNELS_GIT_SHA=$(cat bundle19/GIT_SHA) FASTKERNELS_GOLDENS=$PWD/bundle19/goldens
echo "== sha $FASTKERNELS_GIT_SHA" >> $L
for f in linear_conv1d_update skinny_gemm causal_conv1d_update selective_state_update; do echo "== gpu_ops $f $SECONDS" >> $L; timeout 150 $B/fk-baselines.gpu_ops --test-threads 1 $f 2>&1 | grep -v " ok$" >> $L; done
for t in fk-mamba.model_gpu fk-mamba2.model_gpu fk-mamba.engine_gpu fk-mamba2.engine_gpu cargo-fastkernels.recurrent_gpu fk-llama.model_gpu fk-mixtral.model_gpu; do echo "== $t $SECONDS" >> $L; timeout 120 $B/$t --test-threads 1 2>&1 | grep -v " ok$" >> $L; done
echo "== mamba $SECONDS" >> $L; timeout 120 $B/fk-mamba.ops --bench --quick --json $R/bench-mamba.json >> $L 2>&1
echo "== mamba2 $SECONDS" >> $L; timeout 120 $B/fk-mamba2.ops --bench --quick --json $R/bench-mamba2.json >> $L 2>&1
for A in colbertv2 bge_m3 siglip2 dinov3; do
  echo "== $A $SECONDS" >> $L
  timeout 150 python3 bundle19/scripts/peer_hf_encoders.py --arch $A --reps 10 --save-dir /tmp/enc --out $R/hf-$A.json 2>&1 | grep -v -i warn >> $L
  timeout 100 $B/cargo-fastkernels eval --model /tmp/enc/$A --json $R/eval-$A.json >> $L 2>&1
  rm -rf /tmp/enc/$A
done
echo "== done $SECONDS" >> $L
tar czf $OUT/r.tgz -C /tmp r; grep -E "^==|test result|FAILED|panicked|failed|L4|L2|Embed\.|seq/s|img/s" $L | grep -v "^Embed.*requests in" | tail -90
