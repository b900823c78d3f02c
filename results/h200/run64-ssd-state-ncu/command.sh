# run 64 (bundle44 again): ncu of the SSD state pass (state_kernel, pass 1) at mamba2-2.7b 8k tokens: full section set, and the SASS source page with per-instruction warp-stall samples
(cd bundle44 && tar -xJf bin.tar.xz)
B=$PWD/bundle44/bin; R=$OUT/r64; mkdir -p $R; L=$R/log.txt
export FASTKERNELS_GIT_SHA=$(cat bundle44/GIT_SHA)
echo "== sha $FASTKERNELS_GIT_SHA" >> $L
timeout 200 ncu --cache-control all --clock-control none -k regex:state_kernel --launch-skip 5 --launch-count 1 --set full -o $R/state $B/fk-baselines.ops --bench --quick --op "ssd_chunk_scan 1x8192 heads 80x64" >> $L 2>&1
ncu -i $R/state.ncu-rep --page details > $R/details.txt 2>&1
ncu -i $R/state.ncu-rep --page source --csv --print-source sass 2>> $L | gzip -9 > $R/source-sass.csv.gz
rm -f $R/state.ncu-rep
echo "== done $SECONDS" >> $L
tail -3 $L; grep -E "Duration|Issued Ipc|Issued Instructions  |Warp Cycles Per Issued|Eligible Warps|Registers Per|Achieved Occ" $R/details.txt
