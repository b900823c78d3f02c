# run 105 (no bundle): experiments/ssm/mamba_decode_persistent.cu with out_proj split by
# channels (MDP_OUTCH=1: out_proj transposed, each CTA multiplies its own channels' y into
# fixed-point sums over hidden, no B2; the next layer's norm adds the sums to the residual)
# against the split-B1 form (0); alternated twice; a 16-layer check and mamba-130m.
# Then run 104's replay (bundle65s / bundle66s, see run104-replay-seed/command.sh).
nvcc -O3 -std=c++17 -gencode=arch=compute_90a,code=sm_90a experiments/ssm/mamba_decode_persistent.cu -o /tmp/mdp || exit 1
mkdir -p $OUT/r105
for rep in 1 2; do for o in 0 1; do MDP_SPLIT_B1=1 MDP_OUTCH=$o timeout 100 /tmp/mdp 64 2 > $OUT/r105/o$o-$rep.json 2>&1; done; done
MDP_SPLIT_B1=1 MDP_OUTCH=1 timeout 100 /tmp/mdp 64 16 > $OUT/r105/o1-check16.json 2>&1
MDP_SPLIT_B1=1 MDP_OUTCH=1 timeout 100 /tmp/mdp 24 4 130m > $OUT/r105/o1-130m.json 2>&1
for f in $OUT/r105/*.json; do echo "$f: $(grep -o '"correct": [a-z]*' $f) $(grep -o '"barrier": "fence_atomic", "median_us": [0-9.]*, [^}]*' $f)"; done
for o in 0 1; do echo "o$o $(grep -o '"phase_us": {.*' $OUT/r105/o$o-1.json)"; grep -o '"barrier": "[a-z_(). ]*", "median_us": [0-9.]*' $OUT/r105/o$o-1.json; done
grep -o '"residual": {[^}]*}' $OUT/r105/o1-check16.json
tar czf $OUT/r105.tgz -C $OUT r105
bash results/h200/run104-replay-seed/command.sh
