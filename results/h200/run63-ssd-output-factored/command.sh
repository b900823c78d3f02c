# run 63 (bundle44, commit in GIT_SHA): the Hopper SSD output pass, second form (factored decays, balanced warps, cursor-walked units): SSD trials with it and with FK_SSD_OUTPUT_PASS=mma, racecheck/synccheck/memcheck of the bf16 SSD trials, Mamba-2 goldens and engine; selective_scan and ssd_chunk_scan A/B in one call (alternated); Mamba-2 prefill; ncu of the new pass (sections and the SASS source page)
(cd bundle44 && tar -xJf bin.tar.xz)
B=$PWD/bundle44/bin; R=$OUT/r63; mkdir -p $R; L=$R/log.txt
export FASTKERNELS_GIT_SHA=$(cat bundle44/GIT_SHA) FASTKERNELS_GOLDENS=$PWD/bundle44/goldens
echo "== sha $FASTKERNELS_GIT_SHA" >> $L
echo "== gpu_ops ssd_chunk_scan (sm90 pass) $SECONDS" >> $L; timeout 150 $B/fk-baselines.gpu_ops --test-threads 1 ssd_chunk_scan 2>&1 | grep -v " ok$" >> $L
echo "== gpu_ops ssd_chunk_scan (FK_SSD_OUTPUT_PASS=mma) $SECONDS" >> $L; FK_SSD_OUTPUT_PASS=mma timeout 150 $B/fk-baselines.gpu_ops --test-threads 1 ssd_chunk_scan 2>&1 | grep -v " ok$" >> $L
for t in fk-mamba2.model_gpu fk-mamba2.engine_gpu; do echo "== $t $SECONDS" >> $L; timeout 120 $B/$t --test-threads 1 2>&1 | grep -v " ok$" >> $L; done
for rep in 1 2; do
  echo "== bench scan+ssd sm90 rep $rep $SECONDS" >> $L; timeout 120 $B/fk-baselines.ops --bench --quick --op selective_scan --op ssd_chunk_scan --json $R/bench-sm90-$rep.json >> $L 2>&1
  echo "== bench scan+ssd mma rep $rep $SECONDS" >> $L; FK_SSD_OUTPUT_PASS=mma timeout 120 $B/fk-baselines.ops --bench --quick --op selective_scan --op ssd_chunk_scan --json $R/bench-mma-$rep.json >> $L 2>&1
done
echo "== bench mamba2 prefill $SECONDS" >> $L; timeout 90 $B/fk-mamba2.ops --bench --quick --op "Mamba2Mixer prefill" --op "Mamba2ForCausalLM prefill" --op "ssd_chunk_scan" --json $R/bench-mamba2-prefill.json >> $L 2>&1
echo "== ncu output_sm90 $SECONDS" >> $L; timeout 120 ncu --cache-control all --clock-control none -k regex:output_sm90 --launch-skip 5 --launch-count 1 --set full -o $R/out_sm90 $B/fk-baselines.ops --bench --quick --op "ssd_chunk_scan 1x8192 heads 80x64" >> $L 2>&1
ncu -i $R/out_sm90.ncu-rep --page details > $R/ncu-output_sm90.txt 2>&1; ncu -i $R/out_sm90.ncu-rep --page source --csv --print-source sass > $R/source-sass.csv 2>> $L; rm -f $R/out_sm90.ncu-rep
for tool in racecheck synccheck memcheck; do echo "== $tool $SECONDS" >> $L; timeout 100 compute-sanitizer --tool $tool --print-limit 20 $B/fk-baselines.gpu_ops --test-threads 1 ssd_chunk_scan/bf16 > $R/$tool.log 2>&1; tail -3 $R/$tool.log >> $L; done
echo "== done $SECONDS" >> $L
grep -E "^==|test result|FAILED|panicked|failed|ERROR SUMMARY|RACECHECK SUMMARY|selective_scan |ssd_chunk_scan |prefill" $L | tail -60; grep -E "Duration|DRAM Throughput|Registers Per|Issued Ipc|Issued Instructions  |Warp Cycles Per Issued" $R/ncu-output_sm90.txt
