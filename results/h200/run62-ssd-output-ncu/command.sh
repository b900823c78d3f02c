# run 62 (bundle43 again): ncu of the Hopper SSD output pass at mamba2-2.7b 8k tokens: full section set, and the SASS source page with per-instruction warp-stall samples
(cd bundle43 && tar -xJf bin.tar.xz)
B=$PWD/bundle43/bin; R=$OUT/r62; mkdir -p $R; L=$R/log.txt
export FASTKERNELS_GIT_SHA=$(cat bundle43/GIT_SHA)
echo "== sha $FASTKERNELS_GIT_SHA" >> $L
timeout 200 ncu --cache-control all --clock-control none -k regex:output_sm90 --launch-skip 5 --launch-count 1 --set full -o $R/out_sm90 $B/fk-baselines.ops --bench --quick --op "ssd_chunk_scan 1x8192 heads 80x64" >> $L 2>&1
echo "== details $SECONDS" >> $L
ncu -i $R/out_sm90.ncu-rep --page details > $R/details.txt 2>&1
ncu -i $R/out_sm90.ncu-rep --page source --csv --print-source sass > $R/source-sass.csv 2>> $L
ls -la $R >> $L; rm -f $R/out_sm90.ncu-rep
echo "== done $SECONDS" >> $L
tail -5 $L; grep -E "Duration|Throughput|Pipe|Issued|Eligible|Active Warps|Occupancy|Stall|Bank|Warp Cycles" $R/details.txt | head -60
