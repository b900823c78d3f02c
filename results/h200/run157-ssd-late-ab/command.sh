# run 157: the op- and model-level A/B of the state pass's copy issue after the wgmma, in one
# call: bundle88 (56af7e1, copies issued before the wgmma) against bundle89 (046db75 = 85e0c4a,
# after it), alternated: the scan/SSD op bench three times each, Mamba2ForCausalLM prefill twice each.
tar -xJf ab/ab.tar.xz  # ab/bundle8{8,9}/bin: the two bench binaries of each bundle, GIT_SHA
L=$OUT/log.txt; mkdir -p /tmp/r157
for i in 1 2 3; do
  for b in bundle88 bundle89; do
    FASTKERNELS_GIT_SHA=$(cat ab/$b/GIT_SHA) timeout 100 ab/$b/bin/fk-baselines.ops --bench --quick --op ssd_chunk_scan --op selective_scan --json /tmp/r157/ops-$b-$i.json > /tmp/o.txt 2>&1
    echo "$b ops $i rc=$?" | tee -a $L; grep -E "8192" /tmp/o.txt | tee -a $L
  done
done
for i in 1 2; do
  for b in bundle88 bundle89; do
    FASTKERNELS_GIT_SHA=$(cat ab/$b/GIT_SHA) timeout 150 ab/$b/bin/fk-mamba2.ops --bench --quick --op "Mamba2ForCausalLM prefill" --json /tmp/r157/m2-$b-$i.json > /tmp/m.txt 2>&1
    echo "$b m2 $i rc=$?" | tee -a $L; grep -iE "prefill 8192" /tmp/m.txt | tee -a $L
  done
done
tar -czf $OUT/json.tar.gz -C /tmp/r157 .
