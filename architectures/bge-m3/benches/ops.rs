//! fk-bge-m3 at BAAI/bge-m3 shapes (XLM-R large, 16 heads × 64), bf16: the baseline ops this
//! encoder will run on the GPU that exist today: bidirectional prefill attention from short
//! queries to its 8192-token limit. LayerNorm, GELU and the full encoder come with their
//! kernels. `cargo bench -p fk-bge-m3 --bench ops` runs this (`cargo fastkernels bench` once the crate is registered).
use fk_baselines::harness::bench::{self, BenchEnv, BenchSpec};
use fk_baselines::harness::encoder_attention_bench_cases;
use fk_bge_m3::kernels::candidate_table;
use fk_runtime::DType;

fn main() {
    let cfg = fk_bge_m3::bge_m3_config();
    let shapes = [(128, 64), (32, 512), (8, 2048), (1, cfg.max_sequence_length())];
    let specs = encoder_attention_bench_cases(cfg.num_attention_heads, cfg.head_dim, &shapes, DType::BF16).into_iter().map(BenchSpec::l1).collect();
    let env = BenchEnv { gemm_peak_tflops: Some(Box::new(bench::gemm_peak_tflops)) };
    bench::main("fk-bge-m3", Some(candidate_table()), specs, env)
}
