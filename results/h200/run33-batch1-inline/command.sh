# run 33 (bundle a8302be-dirty: `cargo xtask gpu-bundle --out bundle16 --only fk-colbertv2.embed,cargo-fastkernels.embed_gpu`): the one-batch inline path
(cd bundle16 && tar -xJf bin.tar.xz)
B=$PWD/bundle16/bin; R=/tmp/r; mkdir -p $R; L=$R/log.txt
export FASTKERNELS_GIT_SHA=$(cat bundle16/GIT_SHA) FASTKERNELS_GOLDENS=$PWD/bundle16/goldens
for t in fk-colbertv2.embed_gpu cargo-fastkernels.embed_gpu; do echo "== $t" >> $L; timeout 60 $B/$t --test-threads 1 2>&1 | grep -v " ok$" >> $L; done
A=colbertv2; echo "== $A $SECONDS" >> $L
timeout 100 python3 bundle16/scripts/peer_hf_encoders.py --arch $A --reps 10 --save-dir /tmp/enc --out $R/hf-$A.json 2>&1 | grep -v -i warn >> $L
timeout 60 $B/cargo-fastkernels eval --model /tmp/enc/$A --json $R/eval-$A.json >> $L 2>&1
echo "== done $SECONDS" >> $L
tar czf $OUT/r.tgz -C /tmp r; grep -E "^==|test result|FAILED|panicked|Embed" $L | tail -30
