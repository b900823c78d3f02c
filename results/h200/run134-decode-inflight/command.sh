# run 134: does the grid barriers' latency behind the weight stream shrink when fewer copies are in flight per SM?
# experiments/ssm/mamba_decode_persistent.cu (split B1, as the product), MDP_INFLIGHT = 0 (unlimited: the ring's 10
# stages), 2, 3, 4, 6, each with its per-CTA trace (per_cta.py of run 131); twice, alternated
mkdir -p $OUT/r134
nvcc -O3 -std=c++17 -gencode=arch=compute_90a,code=sm_90a experiments/ssm/mamba_decode_persistent.cu -o /tmp/mdp || exit 1
for k in 1 2; do for n in 0 2 3 4 6; do
MDP_SPLIT_B1=1 MDP_INFLIGHT=$n MDP_TRACE_FILE=$OUT/r134/trace-$n-$k.bin timeout 100 /tmp/mdp 64 4 > $OUT/r134/mdp-$n-$k.json 2>&1
echo "inflight $n pass $k rc=$? $(grep -o '"correct": [a-z]*' $OUT/r134/mdp-$n-$k.json) $(grep -o '"barrier": "fence_atomic", "median_us": [0-9.]*, [^}]*' $OUT/r134/mdp-$n-$k.json)"
done; done
for n in 0 2 3 4 6; do echo "inflight $n: $(grep -o '"phase_us.*' $OUT/r134/mdp-$n-1.json)"; done
xz -9 $OUT/r134/trace-*-2.bin; rm -f $OUT/r134/trace-*-2.bin
