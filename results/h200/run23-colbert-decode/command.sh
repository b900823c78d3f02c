# run 23 (bundle 6dce7c8, built with only results/ edits uncommitted: "-dirty"), from the repo root on the GPU machine
(cd bundle6 && tar -xJf bin.tar.xz)
B=$PWD/bundle6/bin; R=/tmp/r; mkdir -p $R; L=$R/log.txt
export FASTKERNELS_GIT_SHA=$(cat bundle6/GIT_SHA)
A=colbertv2
timeout 70 python3 bundle6/scripts/peer_hf_encoders.py --arch $A --reps 10 --save-dir /tmp/enc --out $R/hf-$A.json 2>&1 | grep -v -i warn >> $L
timeout 40 $B/cargo-fastkernels eval --model /tmp/enc/$A --json $R/eval-$A.json >> $L 2>&1
tar czf $OUT/r.tgz -C /tmp r; grep Embed $L
