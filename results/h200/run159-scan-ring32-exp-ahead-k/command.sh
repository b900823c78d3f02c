# run 159: the cluster ring selective_scan taking the first FK_RING32_AHEAD of a step's 16
# exponentials during the previous step (the working tree with variant.patch applied, reverted
# after: the plain state loop, no lambda; run
# 158's lambda form spilled into the hand-off path), AHEAD = 4 (no spills), 8, 16 (spills
# outside the step loop only), each against the committed kernel (b2f1d23, in the ignored
# oldscan/) in its own process, then all again; scan_bench, float64-checked, alternated.
for a in 4 8 16; do
  nvcc -O3 -std=c++17 --expt-relaxed-constexpr -gencode=arch=compute_90a,code=sm_90a \
    -I baselines/include -DFK_SM90A=1 -DFK_RING32_AHEAD=$a -DSCAN_VARIANT='"../../oldscan/selective_scan.cu"' \
    experiments/ssm/scan_bench.cu -o /tmp/sb$a &
done
wait
for pass in 1 2; do for a in 4 8 16; do
  echo "{\"ahead\": $a, \"pass\": $pass}" | tee -a $OUT/bench.jsonl
  timeout 60 /tmp/sb$a 8192 20 | tee -a $OUT/bench.jsonl
done; done
timeout 60 /tmp/sb4 2048 20 | tee -a $OUT/bench.jsonl
