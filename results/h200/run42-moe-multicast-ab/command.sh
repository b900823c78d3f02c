# run 42 (bundle25): MoE tests on the committed kernels (multicast off) and with FK_MOE_MULTICAST=1; fk-mixtral candidates (one-token candidate) and goldens; A/B of the multicast pairs at 512-4096 tokens; HF eager block and fk-mixtral's MixtralSparseMoeBlock rows in the same call
(cd bundle25 && tar -xJf bin.tar.xz)
B=$PWD/bundle25/bin; R=/tmp/r; mkdir -p $R; L=$R/log.txt
export FASTKERNELS_GIT_SHA=$(cat bundle25/GIT_SHA) FASTKERNELS_GOLDENS=$PWD/bundle25/goldens
echo "== sha $FASTKERNELS_GIT_SHA" >> $L
echo "== gpu_ops moe $SECONDS" >> $L; timeout 150 $B/fk-baselines.gpu_ops --test-threads 1 moe 2>&1 | grep -v " ok$" >> $L
echo "== gpu_ops fused_moe + moe/block MULTICAST $SECONDS" >> $L; FK_MOE_MULTICAST=1 timeout 120 $B/fk-baselines.gpu_ops --test-threads 1 fused_moe moe/block 2>&1 | grep -v " ok$" >> $L
AB='--op "MixtralSparseMoeBlock experts [512," --op "MixtralSparseMoeBlock experts [1024," --op "MixtralSparseMoeBlock experts [2048," --op "MixtralSparseMoeBlock experts [4096," --op "fused_moe gate_up [1024," --op "fused_moe down [2048," --op "fused_moe gate_up [4096," --op "fused_moe down [8192,"'
echo "== ab default $SECONDS" >> $L; eval timeout 60 $B/fk-baselines.ops --bench --quick $AB --json $R/ab-default.json > $R/ab-default.txt 2>&1
echo "== ab multicast $SECONDS" >> $L; eval FK_MOE_MULTICAST=1 timeout 60 $B/fk-baselines.ops --bench --quick $AB --json $R/ab-multicast.json > $R/ab-multicast.txt 2>&1
for t in fk-mixtral.model_gpu fk-mixtral.candidates; do echo "== $t $SECONDS" >> $L; timeout 120 $B/$t --test-threads 1 2>&1 | grep -v " ok$" >> $L; done
echo "== MULTICAST fk-mixtral.model_gpu $SECONDS" >> $L; FK_MOE_MULTICAST=1 timeout 60 $B/fk-mixtral.model_gpu --test-threads 1 2>&1 | grep -v " ok$" >> $L
echo "== peer $SECONDS" >> $L; timeout 100 python3 scripts/peer_hf_moe.py --reps 10 --out $R/peer.json > $R/peer.txt 2>&1; tail -1 $R/peer.txt >> $L
echo "== mixtral block $SECONDS" >> $L; timeout 110 $B/fk-mixtral.ops --bench --quick --peer $R/peer.json --op "MixtralSparseMoeBlock [" --json $R/bench-mixtral.json > $R/bench-mixtral.txt 2>&1
echo "== mixtral block MULTICAST $SECONDS" >> $L; FK_MOE_MULTICAST=1 timeout 60 $B/fk-mixtral.ops --bench --quick --peer $R/peer.json --op "MixtralSparseMoeBlock [512," --op "MixtralSparseMoeBlock [1024," --op "MixtralSparseMoeBlock [2048," --op "MixtralSparseMoeBlock [4096," --json $R/bench-mixtral-mc.json > $R/bench-mixtral-mc.txt 2>&1
echo "== done $SECONDS" >> $L
tar czf $OUT/r.tgz -C /tmp r; grep -E "^==|test result|FAILED|panicked|failed" $L | tail -40
for f in default multicast; do echo "-- $f"; grep -E "MixtralSparseMoeBlock experts|fused_moe" $R/ab-$f.txt; done; grep "MixtralSparseMoeBlock" $R/bench-mixtral.txt; echo "-- mc"; grep "MixtralSparseMoeBlock" $R/bench-mixtral-mc.txt
