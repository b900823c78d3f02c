# run 100 (no bundle): experiments/ssm/mamba_decode_persistent.cu with B1 split in two halves
# and in_proj's z rows between them (MDP_SPLIT_B1=1) against run 95's order (0), alternated
# three times; mamba-2.8b, 64 layers, 2 checked.
nvcc -O3 -std=c++17 -gencode=arch=compute_90a,code=sm_90a experiments/ssm/mamba_decode_persistent.cu -o /tmp/mdp || exit 1
mkdir -p $OUT/r100
for rep in 1 2 3; do for s in 0 1; do MDP_SPLIT_B1=$s timeout 100 /tmp/mdp 64 2 > $OUT/r100/s$s-$rep.json 2>&1; done; done
MDP_SPLIT_B1=1 timeout 100 /tmp/mdp 24 4 130m > $OUT/r100/s1-130m.json 2>&1
MDP_SPLIT_B1=0 timeout 100 /tmp/mdp 24 4 130m > $OUT/r100/s0-130m.json 2>&1
for f in $OUT/r100/*.json; do echo "$f: $(grep -o '"correct": [a-z]*' $f) $(grep -o '"barrier": "fence_atomic", "median_us": [0-9.]*, [^}]*' $f)"; done
grep -o '"phase_us": {.*' $OUT/r100/s1-1.json $OUT/r100/s0-1.json
tar czf $OUT/r100.tgz -C $OUT r100
