# run 28 (bundle 56e897b: `cargo xtask gpu-bundle --out bundle11 --only cargo-fastkernels.embed_gpu`): ColBERTv2's host time by phase
(cd bundle11 && tar -xJf bin.tar.xz)
B=$PWD/bundle11/bin; R=/tmp/r; mkdir -p $R; L=$R/log.txt
export FASTKERNELS_GIT_SHA=$(cat bundle11/GIT_SHA) FASTKERNELS_GOLDENS=$PWD/bundle11/goldens
A=colbertv2
timeout 100 python3 bundle11/scripts/peer_hf_encoders.py --arch $A --reps 10 --save-dir /tmp/enc --out $R/hf-$A.json 2>&1 | grep -v -i warn >> $L
for k in 1 2; do timeout 60 $B/cargo-fastkernels eval --model /tmp/enc/$A --json $R/eval-$A-$k.json >> $L 2>&1; done
timeout 80 $B/cargo-fastkernels eval --model /tmp/enc/$A --profile --json $R/prof-$A.json > $R/prof-$A.txt 2>&1
A=bge_m3
timeout 100 python3 bundle11/scripts/peer_hf_encoders.py --arch $A --reps 10 --save-dir /tmp/enc --out $R/hf-$A.json 2>&1 | grep -v -i warn >> $L
timeout 60 $B/cargo-fastkernels eval --model /tmp/enc/$A --json $R/eval-$A.json >> $L 2>&1
echo "== done $SECONDS" >> $L
tar czf $OUT/r.tgz -C /tmp r; grep -E "Embed|host|done" $L | tail -30
