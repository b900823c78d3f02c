# run 150: ssd_chunk_scan's Hopper state pass warp-specialised (exp/ws: warpgroup 1 scales x
# chunk after chunk and issues the copies, warpgroup 0 multiplies and publishes; full / scaled /
# empty mbarriers per stage instead of a CTA barrier) against the product at 56af7e1,
# alternated twice (ssd_state_bench: float64 check of published chunk states and final states).
set -x
NV="nvcc -O3 -std=c++17 --expt-relaxed-constexpr -gencode=arch=compute_90a,code=sm_90a -DFK_SM90A=1"
$NV -I baselines/include experiments/ssm/ssd_state_bench.cu -o /tmp/ssd_old &
$NV -I exp/ws/include -I baselines/include experiments/ssm/ssd_state_bench.cu -o /tmp/ssd_new &
wait
for i in 1 2; do
  timeout 60 /tmp/ssd_old 20 | tee -a $OUT/ssd_old.json
  timeout 60 /tmp/ssd_new 20 | tee -a $OUT/ssd_new.json; echo "new rc=$?"
done
