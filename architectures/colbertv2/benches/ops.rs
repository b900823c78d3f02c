//! fk-colbertv2 at colbert-ir/colbertv2.0 shapes (BERT base, 12 heads × 64), bf16: the baseline
//! ops this encoder will run on the GPU that exist today: bidirectional prefill attention at
//! ColBERT's query length (32) and document length (180), batch 1–256. LayerNorm, GELU and
//! the full encoder come with their kernels. `cargo bench -p fk-colbertv2 --bench ops` runs this (`cargo fastkernels bench` once the crate is registered).
use fk_baselines::harness::bench::{self, BenchEnv, BenchSpec};
use fk_baselines::harness::encoder_attention_bench_cases;
use fk_colbertv2::kernels::candidate_table;
use fk_runtime::DType;

fn main() {
    let cfg = fk_colbertv2::colbertv2_config();
    let shapes = [(256, 32), (1, 180), (32, 180), (256, 180)];
    let specs = encoder_attention_bench_cases(cfg.num_attention_heads, cfg.head_dim, &shapes, DType::BF16).into_iter().map(BenchSpec::l1).collect();
    let env = BenchEnv { gemm_peak_tflops: Some(Box::new(bench::gemm_peak_tflops)) };
    bench::main("fk-colbertv2", Some(candidate_table()), specs, env)
}
