# run 21 (bundle fdf2c78, `cargo xtask gpu-bundle --out bundle3 --only ...`), from the repo root on the GPU machine
(cd bundle3 && tar -xJf bin.tar.xz)
B=$PWD/bundle3/bin; R=/tmp/r; mkdir -p $R; L=$R/log.txt
export FASTKERNELS_GIT_SHA=$(cat bundle3/GIT_SHA) FASTKERNELS_GOLDENS=$PWD/bundle3/goldens
echo "== gpu_runtime" >> $L; timeout 60 $B/fk-runtime.gpu_runtime --test-threads 1 2>&1 | grep -v " ok$" >> $L
echo "== gpu_ops selective_scan" >> $L; timeout 60 $B/fk-baselines.gpu_ops --test-threads 1 selective_scan 2>&1 | grep -v " ok$" >> $L
for t in fk-siglip2.embed_gpu fk-dinov3.embed_gpu cargo-fastkernels.embed_gpu; do echo "== $t" >> $L; timeout 60 $B/$t --test-threads 1 2>&1 | grep -v " ok$" >> $L; done
echo "== L1 $SECONDS" >> $L; timeout 60 $B/fk-baselines.ops --bench --quick --op selective_scan --json $R/bench-l1.json >> $L 2>&1
timeout 60 ncu -k regex:scan_kernel --launch-skip 70 --launch-count 1 --set full $B/fk-baselines.ops --bench --quick --op selective_scan > $R/ncu-scan.txt 2>&1
echo "== mamba $SECONDS" >> $L; timeout 100 $B/fk-mamba.ops --bench --quick --peer results/h200/run19-ssm-tests/peer-mamba.json --json $R/bench-mamba.json >> $L 2>&1
echo "== mamba2 peer $SECONDS" >> $L; timeout 100 python3 bundle3/peer_hf_mamba.py --arch mamba2 --tokens 2048,8192 --reps 2 --model-tokens 2048,8192 --out $R/peer-mamba2.json >> $L 2>&1
echo "== mamba2 $SECONDS" >> $L; timeout 100 $B/fk-mamba2.ops --bench --quick --peer $R/peer-mamba2.json --json $R/bench-mamba2.json >> $L 2>&1
for A in colbertv2 bge_m3 siglip2 dinov3; do
  echo "== $A $SECONDS" >> $L
  timeout 150 python3 bundle3/scripts/peer_hf_encoders.py --arch $A --reps 10 --save-dir /tmp/enc --out $R/hf-$A.json 2>&1 | grep -v -i warn >> $L
  timeout 100 $B/cargo-fastkernels eval --model /tmp/enc/$A --json $R/eval-$A.json >> $L 2>&1
  case $A in colbertv2|siglip2) timeout 80 $B/cargo-fastkernels eval --model /tmp/enc/$A --profile --json $R/prof-$A.json > $R/prof-$A.txt 2>&1;; esac
  rm -rf /tmp/enc/$A
done
