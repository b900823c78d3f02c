# run 102 (no bundle): experiments/ssm/mamba_decode_persistent.cu, B2 and B3 as polls of tagged
# data (MDP_TAGGED=1: y and the residual written as (layer + 1) << 16 | bf16 words, the readers
# poll the data) against counter barriers (0); both with run 100's split B1; alternated three
# times; mamba-2.8b, 64 layers, 2 checked; and a 16-layer check of the tagged form.
nvcc -O3 -std=c++17 -gencode=arch=compute_90a,code=sm_90a experiments/ssm/mamba_decode_persistent.cu -o /tmp/mdp || exit 1
mkdir -p $OUT/r102
for rep in 1 2 3; do for t in 0 1; do MDP_SPLIT_B1=1 MDP_TAGGED=$t timeout 100 /tmp/mdp 64 2 > $OUT/r102/t$t-$rep.json 2>&1; done; done
MDP_SPLIT_B1=1 MDP_TAGGED=1 timeout 100 /tmp/mdp 64 16 > $OUT/r102/t1-check16.json 2>&1
MDP_SPLIT_B1=1 MDP_TAGGED=1 timeout 100 /tmp/mdp 24 4 130m > $OUT/r102/t1-130m.json 2>&1
for f in $OUT/r102/*.json; do echo "$f: $(grep -o '"correct": [a-z]*' $f) $(grep -o '"barrier": "fence_atomic", "median_us": [0-9.]*, [^}]*' $f)"; done
for t in 0 1; do echo "t$t $(grep -o '"phase_us": {.*' $OUT/r102/t$t-1.json)"; grep -o '"barrier": "[a-z_(). ]*", "median_us": [0-9.]*' $OUT/r102/t$t-1.json; done
grep -o '"residual": {[^}]*}' $OUT/r102/t1-check16.json
tar czf $OUT/r102.tgz -C $OUT r102
