# run 34: pending verification (b515530, 45d0471, 69ac9b1) + vector selective_state_update + split-row skinny_gemm
(cd bundle17 && tar -xJf bin.tar.xz)
B=$PWD/bundle17/bin; R=/tmp/r; mkdir -p $R; L=$R/log.txt
export FASTKERNELS_GIT_SHA=$(cat bundle17/GIT_SHA) FASTKERNELS_GOLDENS=$PWD/bundle17/goldens
echo "== sha $FASTKERNELS_GIT_SHA" >> $L
echo "== gpu_runtime" >> $L; timeout 90 $B/fk-runtime.gpu_runtime --test-threads 1 2>&1 | grep -v " ok$" >> $L
for f in selective_state_update skinny_gemm ssd_chunk_scan selective_scan; do echo "== gpu_ops $f $SECONDS" >> $L; timeout 150 $B/fk-baselines.gpu_ops --test-threads 1 $f 2>&1 | grep -v " ok$" >> $L; done
for t in fk-mamba.model_gpu fk-mamba2.model_gpu fk-mamba.engine_gpu fk-mamba2.engine_gpu fk-llama.model_gpu fk-mixtral.model_gpu fk-colbertv2.embed_gpu cargo-fastkernels.embed_gpu; do echo "== $t $SECONDS" >> $L; timeout 120 $B/$t --test-threads 1 2>&1 | grep -v " ok$" >> $L; done
echo "== bench ops $SECONDS" >> $L; timeout 60 $B/fk-baselines.ops --bench --quick --op selective_state_update --op skinny_gemm --json $R/bench-ops.json >> $L 2>&1
echo "== mamba $SECONDS" >> $L; timeout 120 $B/fk-mamba.ops --bench --quick --json $R/bench-mamba.json >> $L 2>&1
echo "== mamba2 $SECONDS" >> $L; timeout 120 $B/fk-mamba2.ops --bench --quick --json $R/bench-mamba2.json >> $L 2>&1
A=colbertv2; echo "== $A $SECONDS" >> $L
timeout 100 python3 bundle17/scripts/peer_hf_encoders.py --arch $A --reps 10 --save-dir /tmp/enc --out $R/hf-$A.json 2>&1 | grep -v -i warn >> $L
timeout 60 $B/cargo-fastkernels eval --model /tmp/enc/$A --profile --json $R/eval-$A.json >> $L 2>&1
echo "== done $SECONDS" >> $L
tar czf $OUT/r.tgz -C /tmp r; grep -E "^==|test result|FAILED|panicked|failed|state_update|skinny|L4|L2|Embed|seq/s" $L | tail -90
