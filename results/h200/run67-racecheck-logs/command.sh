# run 67 (bundle46 = 5ca0b3f, the reverted mbarrier variant of the SSD output pass; prefill attention unchanged since run 51): racecheck logs of (1) the variant's bf16 SSD trials, to see its 10 hazards, and (2) the prefill attention trials (the same consumer-side fence.proxy.async after an mbarrier wait); all logs in one tar
(cd bundle46 && tar -xJf bin.tar.xz)
B=$PWD/bundle46/bin; R=/tmp/r67; mkdir -p $R $OUT/r67; L=$R/log.txt
echo "== sha $(cat bundle46/GIT_SHA)" >> $L
$B/fk-baselines.gpu_ops --list 2>/dev/null | grep -c "prefill_attention" >> $L
echo "== racecheck ssd variant $SECONDS" >> $L; timeout 150 compute-sanitizer --tool racecheck --print-limit 40 $B/fk-baselines.gpu_ops --test-threads 1 ssd_chunk_scan/bf16 > $R/racecheck-ssd-variant.txt 2>&1; tail -3 $R/racecheck-ssd-variant.txt >> $L
echo "== racecheck prefill_attention bf16 $SECONDS" >> $L; timeout 300 compute-sanitizer --tool racecheck --print-limit 40 $B/fk-baselines.gpu_ops --test-threads 1 prefill_attention/bf16 > $R/racecheck-prefill.txt 2>&1; tail -3 $R/racecheck-prefill.txt >> $L
echo "== done $SECONDS" >> $L
tar -czf $OUT/r67/logs.tar.gz -C $R .
cat $L; grep -m5 -A6 "Race reported\|Error: Race\|hazard" $R/racecheck-ssd-variant.txt | head -40
