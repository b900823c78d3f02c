# run 161: issue 7's performance points on the same build as run 160 (bundle90 = 7cd3d54):
# the SSM ops against the copy rate measured in the same call (twice), and the fk-mamba /
# fk-mamba2 benches (L1 ops, L2 mixers, L4 prefill and graph decode against the weight-streaming
# roofline) with transformers' peer rows measured in the same call first (peer_hf_mamba.py:
# random bf16 weights at the shipped configs; it records which HF path ran).
(cd bundle90 && tar -xJf bin.tar.xz)
B=$PWD/bundle90/bin; R=/tmp/r161; mkdir -p $R; L=$OUT/log.txt
export FASTKERNELS_GIT_SHA=$(cat bundle90/GIT_SHA) FASTKERNELS_GOLDENS=$PWD/bundle90/goldens
echo "sha $FASTKERNELS_GIT_SHA $(nvidia-smi --query-gpu=name --format=csv,noheader)" | tee $L
for i in 1 2; do
  timeout 100 $B/fk-baselines.ops --bench --quick --op selective_scan --op causal_conv1d --op ssd_chunk_scan --json $R/ops-$i.json > $R/ops-$i.txt 2>&1
  echo "ssm ops pass $i rc=$?" | tee -a $L; grep -E "8192" $R/ops-$i.txt | tee -a $L
done
timeout 200 python3 bundle90/peer_hf_mamba.py --arch mamba --tokens 8192 --reps 2 --model-tokens 8192 --model-reps 1 --out $R/peer-mamba.json > $R/peer-mamba.txt 2>&1; echo "peer mamba rc=$? t=$SECONDS" | tee -a $L
timeout 150 $B/fk-mamba.ops --bench --quick --peer $R/peer-mamba.json --json $R/bench-mamba.json > $R/bench-mamba.txt 2>&1; echo "fk-mamba bench rc=$? t=$SECONDS" | tee -a $L
grep -E "MambaMixer|MambaForCausalLM" $R/bench-mamba.txt | tee -a $L
timeout 100 python3 bundle90/peer_hf_mamba.py --arch mamba2 --tokens 2048 --reps 2 --model-tokens 2048 --model-reps 1 --out $R/peer-mamba2.json > $R/peer-mamba2.txt 2>&1; echo "peer mamba2 rc=$? t=$SECONDS" | tee -a $L
timeout 150 $B/fk-mamba2.ops --bench --quick --peer $R/peer-mamba2.json --json $R/bench-mamba2.json > $R/bench-mamba2.txt 2>&1; echo "fk-mamba2 bench rc=$? t=$SECONDS" | tee -a $L
grep -E "Mamba2Mixer|Mamba2ForCausalLM|ssd_chunk_scan" $R/bench-mamba2.txt | tee -a $L
tar -czf $OUT/logs.tar.gz -C $R .
