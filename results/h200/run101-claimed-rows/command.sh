# run 101 (no bundle): experiments/ssm/mamba_decode_persistent.cu, rows claimed from grid-wide
# counters (MDP_DYN: 1 in_proj's z rows between B1's halves, 2 out_proj's rows, 3 both) against
# run 100's split B1 (MDP_SPLIT_B1=1, DYN 0); alternated twice; mamba-2.8b, 64 layers, 2 checked.
nvcc -O3 -std=c++17 -gencode=arch=compute_90a,code=sm_90a experiments/ssm/mamba_decode_persistent.cu -o /tmp/mdp || exit 1
mkdir -p $OUT/r101
for rep in 1 2; do for d in 0 1 2 3; do MDP_SPLIT_B1=1 MDP_DYN=$d timeout 100 /tmp/mdp 64 2 > $OUT/r101/d$d-$rep.json 2>&1; done; done
MDP_DYN=3 timeout 100 /tmp/mdp 24 4 130m > $OUT/r101/d3-130m.json 2>&1
MDP_DYN=3 timeout 100 /tmp/mdp 64 16 > $OUT/r101/d3-check16.json 2>&1
for f in $OUT/r101/*.json; do echo "$f: $(grep -o '"correct": [a-z]*' $f) $(grep -o '"barrier": "fence_atomic", "median_us": [0-9.]*, [^}]*' $f)"; done
for d in 0 1 2 3; do echo "d$d $(grep -o '"phase_us": {.*' $OUT/r101/d$d-1.json)"; done
grep -o '"residual": {[^}]*}' $OUT/r101/*.json
tar czf $OUT/r101.tgz -C $OUT r101
