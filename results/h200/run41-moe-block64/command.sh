# run 41 (bundle24): block 64 for decode sizes, the fk-mixtral candidate over 16-row groups of any block; tests; HF eager MoE block at 13 token counts and fk-mixtral's block rows against it; A/B at 512-4096 tokens of the BM128 tile width (FK_MOE_BN=1: BN 128) and of block 64 (FK_MOE_BLOCK=64)
(cd bundle24 && tar -xJf bin.tar.xz)
B=$PWD/bundle24/bin; R=/tmp/r; mkdir -p $R; L=$R/log.txt
export FASTKERNELS_GIT_SHA=$(cat bundle24/GIT_SHA) FASTKERNELS_GOLDENS=$PWD/bundle24/goldens
echo "== sha $FASTKERNELS_GIT_SHA" >> $L
echo "== gpu_ops moe $SECONDS" >> $L; timeout 150 $B/fk-baselines.gpu_ops --test-threads 1 moe 2>&1 | grep -v " ok$" >> $L
for t in fk-mixtral.candidates fk-mixtral.model_gpu; do echo "== $t $SECONDS" >> $L; timeout 120 $B/$t --test-threads 1 2>&1 | grep -v " ok$" >> $L; done
echo "== peer $SECONDS" >> $L; timeout 120 python3 scripts/peer_hf_moe.py --reps 10 --out $R/peer.json > $R/peer.txt 2>&1; tail -2 $R/peer.txt >> $L
echo "== mixtral block $SECONDS" >> $L; timeout 130 $B/fk-mixtral.ops --bench --quick --peer $R/peer.json --op "MixtralSparseMoeBlock [" --json $R/bench-mixtral.json > $R/bench-mixtral.txt 2>&1
AB='--op "MixtralSparseMoeBlock experts [512," --op "MixtralSparseMoeBlock experts [1024," --op "MixtralSparseMoeBlock experts [2048," --op "MixtralSparseMoeBlock experts [4096,"'
G='--op "fused_moe gate_up [1024," --op "fused_moe down [2048," --op "fused_moe gate_up [4096," --op "fused_moe down [8192,"'
echo "== ab default $SECONDS" >> $L; eval timeout 60 $B/fk-baselines.ops --bench --quick $AB $G --json $R/ab-default.json > $R/ab-default.txt 2>&1
echo "== ab BN128 $SECONDS" >> $L; eval FK_MOE_BN=1 timeout 60 $B/fk-baselines.ops --bench --quick $AB $G --json $R/ab-bn128.json > $R/ab-bn128.txt 2>&1
echo "== ab block64 $SECONDS" >> $L; eval FK_MOE_BLOCK=64 timeout 45 $B/fk-baselines.ops --bench --quick $AB --json $R/ab-block64.json > $R/ab-block64.txt 2>&1
echo "== done $SECONDS" >> $L
tar czf $OUT/r.tgz -C /tmp r; grep -E "^==|test result|FAILED|panicked|failed" $L | tail -40
grep "MixtralSparseMoeBlock" $R/bench-mixtral.txt; for f in default bn128 block64; do echo "-- $f"; grep -E "MixtralSparseMoeBlock experts|fused_moe" $R/ab-$f.txt; done
