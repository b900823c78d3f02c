# run 119 (prepared in session 17, NOT run: no device time left): issue 7's SSD bar re-measured
# against the ring kernel, both ops at 8k tokens at equal width (mamba2-2.7b / mamba-2.8b) in
# one call, as run 70 measured it against the chunked scan. Build first:
#   cargo xtask gpu-bundle --out bundle71 --only fk-baselines.ops
(cd bundle71 && tar -xJf bin.tar.xz)
B=$PWD/bundle71/bin; export FASTKERNELS_GIT_SHA=$(cat bundle71/GIT_SHA)
for pass in 1 2; do
  timeout 120 $B/fk-baselines.ops --bench --quick --op selective_scan --op ssd_chunk_scan --json $OUT/bench-$pass.json 2>&1 | grep 8192 | tee -a $OUT/log.txt
done
