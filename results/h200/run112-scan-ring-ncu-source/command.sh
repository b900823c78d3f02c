# run 112: run 111's report (carried in) printed per SASS line: where the ring kernel's warps stall.
set -x
R=results/h200/run112-scan-ring-ncu-source
ncu -i $R/ring.ncu-rep --page source --print-source sass --csv > $OUT/source.csv 2> $OUT/err.txt
head -c 600 $OUT/source.csv; echo
python3 $R/top.py $OUT/source.csv | tee $OUT/top.txt
