# run 148: ssd_chunk_scan's Hopper state pass in 32-column state blocks (exp/ssd32: twice the
# CTAs, 4 per SM; B scaled instead of x: 32 elements per thread and chunk instead of 64; B and
# the published states in 64-byte-swizzled tiles; m64n32k16 wgmma; 2 stages) against the product
# at 56af7e1 (64-column blocks, x scaled), alternated twice (ssd_state_bench: float64 check of
# published chunk states and final states of two heads, whole-op and state-pass times).
set -x
NV="nvcc -O3 -std=c++17 --expt-relaxed-constexpr -gencode=arch=compute_90a,code=sm_90a -DFK_SM90A=1"
$NV -I baselines/include experiments/ssm/ssd_state_bench.cu -o /tmp/ssd_old &
$NV -I exp/ssd32/include -I baselines/include -I experiments/ssm exp/ssd32/ssd_state_bench.cu -o /tmp/ssd_new &
wait
for i in 1 2; do
  /tmp/ssd_old 20 | tee -a $OUT/ssd_old.json
  /tmp/ssd_new 20 | tee -a $OUT/ssd_new.json
done
