# run 47 (bundle29 = commit 97d3013, the binaries of run 46): ncu per-kernel times (each kernel alone) of the batch-1 decode GEMVs, warp-per-row kernel vs the streaming kernel at 2 CTAs/SM interleaved (run 46's s6): Llama-3.1-8B (eval single_request) and Codestral
(cd bundle29 && tar -xJf bin.tar.xz)
B=$PWD/bundle29/bin; R=/tmp/r; mkdir -p $R; L=$R/log.txt
export FASTKERNELS_GIT_SHA=$(cat bundle29/GIT_SHA) FASTKERNELS_GOLDENS=$PWD/bundle29/goldens
M=gpu__time_duration.sum,dram__bytes_read.sum,dram__throughput.avg.pct_of_peak_sustained_elapsed
N="ncu --graph-profiling node --cache-control none --clock-control none -k regex:gemv|skinny --metrics $M --csv"
FK_AB_NO_STREAM=1 timeout 120 $N --launch-skip 400 --launch-count 10 $B/cargo-fastkernels eval --arch llama --random-weights --workload LLM.single_request > $R/ncu-llama-old.csv 2>$R/ncu-llama-old.err
FK_STREAM_CPS=2 FK_STREAM_INTERLEAVE=1 timeout 120 $N --launch-skip 400 --launch-count 10 $B/cargo-fastkernels eval --arch llama --random-weights --workload LLM.single_request > $R/ncu-llama-s6.csv 2>$R/ncu-llama-s6.err
FK_AB_NO_STREAM=1 timeout 120 $N --launch-skip 600 --launch-count 6 $B/fk-mamba2.ops --bench --quick --op "Mamba2ForCausalLM decode batch 1" > $R/ncu-mamba2-old.csv 2>$R/ncu-mamba2-old.err
FK_STREAM_CPS=2 FK_STREAM_INTERLEAVE=1 timeout 120 $N --launch-skip 600 --launch-count 6 $B/fk-mamba2.ops --bench --quick --op "Mamba2ForCausalLM decode batch 1" > $R/ncu-mamba2-s6.csv 2>$R/ncu-mamba2-s6.err
tar czf $OUT/r.tgz -C /tmp r
