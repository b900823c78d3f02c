# run 106: bundle67 (7472a23: mamba_decode_tolerance with a per-element floor of 6 units at
# 1.0), built with cargo xtask gpu-bundle --out bundle67 --only fk-baselines.gpu_ops,fk-mamba.model_gpu
# The 8 trials that failed in runs 103-104 replayed with their seeds (seeds.txt), then 12
# fresh-seed passes of every mamba_decode_layers trial, then the Mamba model tests.
(cd bundle67 && tar -xJf bin.tar.xz)
B=$PWD/bundle67/bin; R=/tmp/r106; mkdir -p $R $OUT/r106; L=$R/log.txt
export FASTKERNELS_GIT_SHA=$(cat bundle67/GIT_SHA) FASTKERNELS_GOLDENS=$PWD/bundle67/goldens
while IFS='|' read -r name seed; do
  FASTKERNELS_SEED=$seed timeout 60 $B/fk-baselines.gpu_ops --test-threads 1 "$name" > $R/replay.txt 2>&1
  echo "replay rc=$? $name: $(grep -o 'test result: [a-zA-Z]*\. [0-9]* passed; [0-9]* failed' $R/replay.txt)" >> $L; cat $R/replay.txt >> $R/replays.txt
done < results/h200/run106-tolerance-floor/seeds.txt
for k in $(seq 1 12); do timeout 60 $B/fk-baselines.gpu_ops --test-threads 1 mamba_decode_layers > $R/fresh-$k.txt 2>&1; echo "fresh $k rc=$? $(grep -o 'test result: [a-zA-Z]*\. [0-9]* passed; [0-9]* failed' $R/fresh-$k.txt)" >> $L; done
grep -h -A3 "^---- " $R/fresh-*.txt >> $L
timeout 150 $B/fk-mamba.model_gpu --test-threads 1 > $R/model.txt 2>&1; echo "model rc=$?" >> $L
grep -E "test result|FAILED|one-kernel" $R/model.txt | tail -4 >> $L
cat $L
tar -czf $OUT/r106/logs.tar.gz -C $R .
# and the experiment after run 102's tagged variant was removed from it: the product's order (split B1), correct and as fast as run 100
nvcc -O3 -std=c++17 -gencode=arch=compute_90a,code=sm_90a experiments/ssm/mamba_decode_persistent.cu -o /tmp/mdp && MDP_SPLIT_B1=1 timeout 100 /tmp/mdp 64 4 > $OUT/r106/mdp-split.json 2>&1
echo "experiment: $(grep -o '"correct": [a-z]*' $OUT/r106/mdp-split.json) $(grep -o '"barrier": "fence_atomic", "median_us": [0-9.]*, [^}]*' $OUT/r106/mdp-split.json)"
