# run 46 (bundle29): the streaming one-row skinny_gemm, conv steps moved after the stream; a sweep of its knobs (CTAs per SM, bytes per bulk copy, interleaved row groups) against the warp-per-row kernel (FK_AB_NO_STREAM) on batch-1 decode; tests under the default and the most different knobs
(cd bundle29 && tar -xJf bin.tar.xz)
B=$PWD/bundle29/bin; R=/tmp/r; mkdir -p $R; L=$R/log.txt
export FASTKERNELS_GIT_SHA=$(cat bundle29/GIT_SHA) FASTKERNELS_GOLDENS=$PWD/bundle29/goldens
echo "== sha $FASTKERNELS_GIT_SHA" >> $L
tests() { for f in skinny_gemm linear_conv1d_update; do echo "== gpu_ops $f $1 $SECONDS" >> $L; timeout 100 $B/fk-baselines.gpu_ops --test-threads 1 $f 2>&1 | grep -v " ok$" >> $L; done
  for t in fk-mamba.model_gpu fk-mamba2.model_gpu; do echo "== $t $1 $SECONDS" >> $L; timeout 100 $B/$t --test-threads 1 2>&1 | grep -v " ok$" >> $L; done; }
tests default
FK_STREAM_CPS=2 FK_STREAM_PIECE=4096 FK_STREAM_INTERLEAVE=1 tests cps2-piece4k-interleave
run_cfg() { name=$1; shift
  echo "== cfg $name mamba $SECONDS" >> $L; env "$@" timeout 60 $B/fk-mamba.ops --bench --quick --op "MambaForCausalLM decode batch 1" --json $R/cfg-$name-mamba.json >> $L 2>&1
  echo "== cfg $name mamba2 $SECONDS" >> $L; env "$@" timeout 60 $B/fk-mamba2.ops --bench --quick --op "Mamba2ForCausalLM decode batch 1" --json $R/cfg-$name-mamba2.json >> $L 2>&1; }
run_cfg old FK_AB_NO_STREAM=1
run_cfg s1-contig X=1
run_cfg s2-interleave FK_STREAM_INTERLEAVE=1
run_cfg s3-piece4k FK_STREAM_PIECE=4096
run_cfg s4-piece4k-interleave FK_STREAM_PIECE=4096 FK_STREAM_INTERLEAVE=1
run_cfg s5-cps2 FK_STREAM_CPS=2
run_cfg s6-cps2-interleave FK_STREAM_CPS=2 FK_STREAM_INTERLEAVE=1
run_cfg s7-cps2-piece4k-interleave FK_STREAM_CPS=2 FK_STREAM_PIECE=4096 FK_STREAM_INTERLEAVE=1
run_cfg old2 FK_AB_NO_STREAM=1
for c in "old FK_AB_NO_STREAM=1" "s1 X=1" "s6 FK_STREAM_CPS=2 FK_STREAM_INTERLEAVE=1"; do set -- $c; n=$1; shift
  echo "== llama $n $SECONDS" >> $L; env "$@" timeout 100 $B/cargo-fastkernels eval --arch llama --random-weights --workload LLM.single_request --json $R/llama-$n.json 2>&1 | grep -A3 "^workload" >> $L; done
echo "== done $SECONDS" >> $L
tar czf $OUT/r.tgz -C /tmp r; grep -E "^==|test result|FAILED|panicked|failed|decode batch|LLM\." $L | tail -80
