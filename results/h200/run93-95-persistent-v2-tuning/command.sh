# runs 93-95 (no bundle; experiments/ssm/mamba_decode_persistent.cu, built with the device's nvcc)
# 93 (commit 2e1c..., the r91 kernel + L2 knob): ncu -k regex:mamba_decode_persistent --launch-skip 3 --launch-count 1 --section WarpStateStats --section SchedulerStats --section SourceCounters --section LaunchStats --section Occupancy /tmp/mdp 64 2
# 94: the kernel with the f32 in_proj vector, 4-lane dt_proj rows and the two-output x_proj: /tmp/mdp 64 4; /tmp/mdp 24 4 130m
# 95: v0 = as 94; v1 = -DMDP_XP_ONE_OUTPUT (the one-output x_proj of run 91); v2 = v1 + -DMDP_INPROJ_BF16 (run 91's bf16 in_proj vector); each /tmp/mdp$i 64 2, twice, alternated
for rep in 1 2; do for i in 0 1 2; do timeout 100 /tmp/mdp$i 64 2 > $OUT/r95/v$i-$rep.json; done; done
