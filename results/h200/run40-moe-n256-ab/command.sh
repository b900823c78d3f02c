# run 40 (bundle23): fused_moe sm90: m64n256 consumer tiles + idle padding consumer; A/B of the BM128 tile width (FK_MOE_BN=1: BN 128) and of the block size (FK_MOE_BLOCK=64); HF eager MoE block at 13 token counts
(cd bundle23 && tar -xJf bin.tar.xz)
B=$PWD/bundle23/bin; R=/tmp/r; mkdir -p $R; L=$R/log.txt
export FASTKERNELS_GIT_SHA=$(cat bundle23/GIT_SHA) FASTKERNELS_GOLDENS=$PWD/bundle23/goldens
echo "== sha $FASTKERNELS_GIT_SHA" >> $L
echo "== gpu_ops moe $SECONDS" >> $L; timeout 150 $B/fk-baselines.gpu_ops --test-threads 1 moe 2>&1 | grep -v " ok$" >> $L
echo "== gpu_ops fused_moe BN128 $SECONDS" >> $L; FK_MOE_BN=1 timeout 100 $B/fk-baselines.gpu_ops --test-threads 1 fused_moe 2>&1 | grep -v " ok$" >> $L
echo "== peer $SECONDS" >> $L; timeout 150 python3 bundle23/scripts/peer_hf_moe.py --reps 10 --out $R/peer.json > $R/peer.txt 2>&1; tail -3 $R/peer.txt >> $L
echo "== bench default $SECONDS" >> $L; timeout 150 $B/fk-baselines.ops --bench --quick --op fused_moe --op "MixtralSparseMoeBlock experts" --json $R/bench-default.json > $R/bench-default.txt 2>&1; tail -2 $R/bench-default.txt >> $L
echo "== bench BN128 $SECONDS" >> $L; FK_MOE_BN=1 timeout 60 $B/fk-baselines.ops --bench --quick --op "MixtralSparseMoeBlock experts" --json $R/bench-bn128.json > $R/bench-bn128.txt 2>&1
echo "== bench block64 $SECONDS" >> $L; FK_MOE_BLOCK=64 timeout 60 $B/fk-baselines.ops --bench --quick --op "MixtralSparseMoeBlock experts" --json $R/bench-block64.json > $R/bench-block64.txt 2>&1
echo "== mixtral block $SECONDS" >> $L; timeout 120 $B/fk-mixtral.ops --bench --quick --peer $R/peer.json --op MixtralSparseMoeBlock --json $R/bench-mixtral.json > $R/bench-mixtral.txt 2>&1
echo "== done $SECONDS" >> $L
tar czf $OUT/r.tgz -C /tmp r; grep -E "^==|test result|FAILED|panicked|failed" $L | tail -40
for f in default bn128 block64; do echo "-- $f"; grep "MixtralSparseMoeBlock experts" $R/bench-$f.txt; done; grep -E "fused_moe" $R/bench-default.txt; grep "MixtralSparseMoeBlock" $R/bench-mixtral.txt
