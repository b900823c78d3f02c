# run 99 (no bundle): experiments/ssm/mamba_decode_persistent.cu with the stage-window L2
# prefetch (MDP_WINDOW stages ahead of the ring's claim point), built with the device's nvcc;
# windows alternated, twice.
nvcc -O3 -std=c++17 -gencode=arch=compute_90a,code=sm_90a experiments/ssm/mamba_decode_persistent.cu -o /tmp/mdp || exit 1
mkdir -p $OUT/r99
for rep in 1 2; do for w in 0 4 8 12 16 24; do MDP_WINDOW=$w timeout 100 /tmp/mdp 64 2 > $OUT/r99/w$w-$rep.json 2>&1; done; done
for f in $OUT/r99/*.json; do echo "$f: $(grep -o '"barrier": "fence_atomic", "median_us": [0-9.]*, [^}]*' $f)"; done
tar czf $OUT/r99.tgz -C $OUT r99
