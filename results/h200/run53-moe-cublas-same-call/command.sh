# run 53 (bundle35, commit in the log): issue 5's grouped GEMM at 1024-4096 tokens beside its cuBLAS peer in the same call (two passes), and the MoE block rows at those sizes
(cd bundle35 && tar -xJf bin.tar.xz)
B=$PWD/bundle35/bin; R=/tmp/r53; rm -rf $R; mkdir -p $R; L=$R/log.txt
export FASTKERNELS_GIT_SHA=$(cat bundle35/GIT_SHA) FASTKERNELS_GOLDENS=$PWD/bundle35/goldens
echo "== sha $FASTKERNELS_GIT_SHA" >> $L
for pass in 1 2; do
  echo "== pass $pass $SECONDS" >> $L
  timeout 200 $B/fk-mixtral.ops --bench --quick --op "fused_moe gate_up [4096," --op "fused_moe cuBLAS peer gate_up [4096," --op "fused_moe down [4096," --op "fused_moe cuBLAS peer down [4096," --op "fused_moe gate_up [2048," --op "fused_moe cuBLAS peer gate_up [2048," --op "fused_moe down [2048," --op "fused_moe cuBLAS peer down [2048," --op "fused_moe gate_up [1024," --op "fused_moe cuBLAS peer gate_up [1024," --op "fused_moe down [1024," --op "fused_moe cuBLAS peer down [1024," --json $R/moe-gemm-$pass.json >> $L 2>&1
done
echo "== done $SECONDS" >> $L
tar czf $OUT/r.tgz -C /tmp r53; grep -E "^==|fused_moe|error|Error" $L | tail -40
