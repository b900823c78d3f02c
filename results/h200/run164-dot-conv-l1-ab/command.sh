# run 164: L1 benches of every kernel this session's two shared device pieces changed
# (fk::dot16_acc: skinny_gemm and its streaming kernel, selective_state_update's folded dt_proj;
# fk::conv_update_step: causal_conv1d_update and skinny_gemm's conv epilogue), before and after,
# alternated twice in one call. Built with
#   cargo xtask gpu-bundle --out bundle93 --only fk-baselines.ops,fk-llama.ops        (8192502, the code now)
#   cargo xtask gpu-bundle --out bundle94 --only fk-baselines.ops,fk-llama.ops        (the same tree with
#     baselines/include and baselines/kernels checked out from 7cd3d54, before both changes)
# and carried as ab/b93, ab/b94 (binaries only). fk-baselines.ops: the SSM decode ops and the
# skinny_gemm trial shapes; fk-llama.ops: skinny_gemm at Llama-3.1-8B's linear layers, 1 and 8 rows.
for b in 93 94; do (cd ab/b$b && tar -xJf bin.tar.xz); done
R=/tmp/r164; mkdir -p $R; L=$OUT/log.txt
for i in 1 2; do for b in 94 93; do B=$PWD/ab/b$b/bin
  timeout 120 $B/fk-baselines.ops --bench --quick --op skinny_gemm --op causal_conv1d_update --op selective_state_update --json $R/ops-$b-$i.json > $R/ops-$b-$i.txt 2>&1; echo "bundle$b ops $i rc=$?" | tee -a $L
  timeout 120 $B/fk-llama.ops@tuned --bench --quick --op skinny_gemm --json $R/llama-$b-$i.json > $R/llama-$b-$i.txt 2>&1; echo "bundle$b llama $i rc=$?" | tee -a $L
done; done
tar -czf $OUT/logs.tar.gz -C $R .
