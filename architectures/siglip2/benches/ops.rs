//! fk-siglip2 at google/siglip2-so400m-patch16-naflex shapes (16 heads × 72), bf16. Head dim
//! 72 runs on the portable prefill kernel in zero-padded 128-wide tiles; a build whose
//! prefill kernels lack it gets no rows (the bench says so instead of timing a fallback).
//! `cargo bench -p fk-siglip2 --bench ops` runs this (`cargo fastkernels bench` once the crate is registered).
use fk_baselines::harness::bench::{self, BenchEnv, BenchSpec};
use fk_baselines::harness::encoder_attention_bench_cases;
use fk_runtime::DType;
use fk_siglip2::kernels::candidate_table;

fn main() {
    let cfg = fk_siglip2::siglip2_so400m_naflex();
    // NaFlex sequence lengths: 256 (the default max_num_patches) and 1024, batch 1 and 64.
    let shapes = [(64, 256), (1, 1024), (64, 1024)];
    let specs: Vec<BenchSpec> = encoder_attention_bench_cases(cfg.num_attention_heads, cfg.head_dim, &shapes, DType::BF16).into_iter().map(BenchSpec::l1).collect();
    if specs.is_empty() {
        eprintln!("fk-siglip2: prefill_attention has no head_dim {} kernel yet; nothing to time", cfg.head_dim);
    }
    let env = BenchEnv { gemm_peak_tflops: Some(Box::new(bench::gemm_peak_tflops)) };
    bench::main("fk-siglip2", Some(candidate_table()), specs, env)
}
