# run 32 (bundle a8da190: `cargo xtask gpu-bundle --out bundle15 --only gpu_runtime,gpu_ops,fk-colbertv2.embed,fk-bge-m3.embed,fk-siglip2.embed,fk-dinov3.embed,cargo-fastkernels.embed_gpu`)
(cd bundle15 && tar -xJf bin.tar.xz)
B=$PWD/bundle15/bin; R=/tmp/r; mkdir -p $R; L=$R/log.txt
export FASTKERNELS_GIT_SHA=$(cat bundle15/GIT_SHA) FASTKERNELS_GOLDENS=$PWD/bundle15/goldens
echo "== gpu_runtime" >> $L; timeout 60 $B/fk-runtime.gpu_runtime --test-threads 1 2>&1 | grep -v " ok$" >> $L
echo "== gpu_ops ssd selective" >> $L; for f in ssd_chunk_scan selective_scan; do timeout 120 $B/fk-baselines.gpu_ops --test-threads 1 $f 2>&1 | grep -v " ok$" >> $L; done
echo "== replay run 30 f32 seed" >> $L; FASTKERNELS_SEED=1796139193932015316 timeout 60 $B/fk-baselines.gpu_ops --test-threads 1 "ssd_chunk_scan/f32/1x2048 heads 4x64 G1 N128 full" 2>&1 | grep -v " ok$" >> $L
for t in fk-colbertv2.embed_gpu fk-bge-m3.embed_gpu fk-siglip2.embed_gpu fk-dinov3.embed_gpu cargo-fastkernels.embed_gpu; do echo "== $t" >> $L; timeout 60 $B/$t --test-threads 1 2>&1 | grep -v " ok$" >> $L; done
for A in colbertv2 bge_m3 siglip2 dinov3; do
  echo "== $A $SECONDS" >> $L
  timeout 150 python3 bundle15/scripts/peer_hf_encoders.py --arch $A --reps 10 --save-dir /tmp/enc --out $R/hf-$A.json 2>&1 | grep -v -i warn >> $L
  timeout 100 $B/cargo-fastkernels eval --model /tmp/enc/$A --json $R/eval-$A.json >> $L 2>&1
  case $A in colbertv2) timeout 80 $B/cargo-fastkernels eval --model /tmp/enc/$A --profile --json $R/prof-$A.json > $R/prof-$A.txt 2>&1;; esac
  rm -rf /tmp/enc/$A
done
echo "== done $SECONDS" >> $L
tar czf $OUT/r.tgz -C /tmp r; grep -E "^==|test result|FAILED|panicked|Embed" $L | tail -80
