# NOT RUN: the device refused every call after bundle65 was built (session end); kept so the next session can run it
# run 98: bundle65 (review commits: x_proj_transposed shared by loader and trials; kernel SASS unchanged), built with
# cargo xtask gpu-bundle --out bundle65 --only fk-baselines.gpu_ops,fk-mamba.model_gpu
(cd bundle65 && tar -xJf bin.tar.xz)
B=$PWD/bundle65/bin; R=/tmp/r98; mkdir -p $R $OUT/r98; L=$R/log.txt
export FASTKERNELS_GIT_SHA=$(cat bundle65/GIT_SHA) FASTKERNELS_GOLDENS=$PWD/bundle65/goldens
timeout 150 $B/fk-baselines.gpu_ops --test-threads 1 mamba_decode_layers > $R/ops-mdl.txt 2>&1; echo "ops rc=$?" >> $L; grep -E "test result" $R/ops-mdl.txt >> $L
timeout 150 $B/fk-mamba.model_gpu --test-threads 1 > $R/model.txt 2>&1; echo "model rc=$?" >> $L
grep -E "test result|FAILED|one-kernel vs" $R/model.txt | tail -4 >> $L
cat $L
tar -czf $OUT/r98/logs.tar.gz -C $R .
