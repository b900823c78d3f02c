# run 104: run 103's one failing trial (f16, 3 layers [256, 512], seed 1796235330758618100)
# replayed 3 times on bundle65 (the kernel before the split B1, 1d75bc3) and bundle66 (15662d7):
# deterministic or a race, and the same on the old kernel or new; then 10 fresh-seed passes of
# the whole mamba_decode_layers trial set on bundle66 (a failure rate, not one draw).
for b in bundle65s bundle66s; do (cd $b && tar -xJf bin.tar.xz); done
R=/tmp/r104; mkdir -p $R $OUT/r104; L=$R/log.txt
T="mamba_decode_layers/f16/3 layers [256, 512] R16 W4 slot 2 of 4"
for b in bundle65s bundle66s; do for k in 1 2 3; do
  FASTKERNELS_GIT_SHA=$(cat $b/GIT_SHA) FASTKERNELS_GOLDENS=/nonexistent FASTKERNELS_SEED=1796235330758618100 timeout 60 $b/bin/fk-baselines.gpu_ops --test-threads 1 "$T" > $R/replay-$b-$k.txt 2>&1
  echo "$b replay $k rc=$? $(grep -o 'last block.s y: [^w]*worst\[[0-9]*\]: out=[-0-9.e]* ref=[-0-9.e]*' $R/replay-$b-$k.txt) $(grep -o 'test result: [a-zA-Z]*\. [0-9]* passed; [0-9]* failed' $R/replay-$b-$k.txt)" >> $L
done; done
export FASTKERNELS_GIT_SHA=$(cat bundle66s/GIT_SHA) FASTKERNELS_GOLDENS=/nonexistent
for k in $(seq 1 10); do timeout 60 bundle66s/bin/fk-baselines.gpu_ops --test-threads 1 mamba_decode_layers > $R/fresh-$k.txt 2>&1; echo "fresh $k rc=$? $(grep -o 'test result: [a-zA-Z]*\. [0-9]* passed; [0-9]* failed' $R/fresh-$k.txt) $(grep -o 'worst\[[0-9]*\]: out=[-0-9.e]* ref=[-0-9.e]* (atol [-0-9.e]*' $R/fresh-$k.txt | head -2 | tr '\n' ' ')" >> $L; done
grep -h "^test .*FAILED" $R/fresh-*.txt | sort | uniq -c >> $L
cat $L
tar -czf $OUT/r104/logs.tar.gz -C $R .
