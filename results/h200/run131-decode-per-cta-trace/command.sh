# run 131: experiments/ssm/mamba_decode_persistent.cu (split B1, as the product) with MDP_TRACE_FILE: the raw per-CTA,
# per-layer phase trace of one launch (and each CTA's SM), twice, to see whether the CTAs that arrive last at the grid
# barriers are the same ones launch after launch (analysis: per_cta.py in this folder)
mkdir -p $OUT/r131
nvcc -O3 -std=c++17 -gencode=arch=compute_90a,code=sm_90a experiments/ssm/mamba_decode_persistent.cu -o /tmp/mdp || exit 1
for k in 1 2; do MDP_SPLIT_B1=1 MDP_TRACE_FILE=$OUT/r131/trace-$k.bin timeout 100 /tmp/mdp 64 4 > $OUT/r131/mdp-$k.json 2>&1; echo "run $k rc=$?"; grep -o '"correct": [a-z]*' $OUT/r131/mdp-$k.json; grep -o '"barrier": "fence_atomic", "median_us": [0-9.]*, [^}]*' $OUT/r131/mdp-$k.json; grep -o '"phase_us.*' $OUT/r131/mdp-$k.json; done
