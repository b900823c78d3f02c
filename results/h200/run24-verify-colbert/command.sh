# run 24 (bundle dbd6ab3: `cargo xtask gpu-bundle --out bundle7 --only gpu_runtime,gpu_ops,fk-colbertv2.embed,fk-bge-m3.embed,fk-siglip2.embed,fk-dinov3.embed,cargo-fastkernels.embed_gpu,fk-baselines.ops,fk-mamba.ops`)
(cd bundle7 && tar -xJf bin.tar.xz)
B=$PWD/bundle7/bin; R=/tmp/r; mkdir -p $R; L=$R/log.txt
export FASTKERNELS_GIT_SHA=$(cat bundle7/GIT_SHA) FASTKERNELS_GOLDENS=$PWD/bundle7/goldens
echo "== gpu_runtime" >> $L; timeout 60 $B/fk-runtime.gpu_runtime --test-threads 1 2>&1 | grep -v " ok$" >> $L
echo "== gpu_ops selective_scan" >> $L; timeout 90 $B/fk-baselines.gpu_ops --test-threads 1 selective_scan 2>&1 | grep -v " ok$" >> $L
for t in fk-colbertv2.embed_gpu fk-bge-m3.embed_gpu fk-siglip2.embed_gpu fk-dinov3.embed_gpu cargo-fastkernels.embed_gpu; do echo "== $t" >> $L; timeout 60 $B/$t --test-threads 1 2>&1 | grep -v " ok$" >> $L; done
A=colbertv2
for k in 1 2; do
  echo "== $A pair $k $SECONDS" >> $L
  timeout 100 python3 bundle7/scripts/peer_hf_encoders.py --arch $A --reps 10 --save-dir /tmp/enc --out $R/hf-$A-$k.json 2>&1 | grep -v -i warn >> $L
  timeout 60 $B/cargo-fastkernels eval --model /tmp/enc/$A --json $R/eval-$A-$k.json >> $L 2>&1
done
echo "== scan bench $SECONDS" >> $L; timeout 60 $B/fk-baselines.ops --bench --quick --op selective_scan --json $R/bench-scan.json >> $L 2>&1
echo "== done $SECONDS" >> $L
tar czf $OUT/r.tgz -C /tmp r; grep -E "^==|test result|Embed|FAILED|panicked|selective_scan" $L | tail -70
