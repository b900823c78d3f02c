//! Baseline L1 ops at the real Llama-3.1-8B shapes (tokens 1 … 8192), bf16; paged decode
//! attention at batch 1–64 × context 1k–32k; sampling at batch 1 and 32 over the 128256 vocab;
//! the MoE ops at Mixtral-8x7B's shapes (tokens 1 … 4096) with a cuBLAS peer row after each
//! grouped-GEMM row and the routed-experts L2 row; the encoder ops at BERT/SigLIP/DINOv3
//! shapes; the SSM ops at mamba-2.8b and Mamba-Codestral-7B shapes (prefill tokens 1 / 2048 /
//! 8192, decode batch 1 / 32). Flop-heavy rows take their roofline from the cuBLASLt bf16 rate
//! measured at start.
//! `cargo bench -p fk-baselines --bench ops -- [--op X] [--json FILE] [--peer FILE] [--quick]`
use fk_baselines::harness::bench::{self, BenchEnv, BenchSpec};
use fk_baselines::harness::{encoder_bench_cases, llm_bench_cases, llm_decode_bench_cases, llm_sample_bench_cases, moe_bench_specs, ssm_bench_specs, LlmShapes, MoeShapes, MOE_BENCH_TOKENS};
use fk_runtime::DType;

fn main() {
    let s = LlmShapes::LLAMA_3_1_8B;
    let mut cases = llm_bench_cases(&s, &[1, 16, 128, 2048, 8192], DType::BF16);
    cases.extend(llm_decode_bench_cases(&s, &[(1, 4096), (1, 32768), (32, 1024), (32, 4096), (64, 4096)], DType::BF16));
    cases.extend(llm_sample_bench_cases(&s, &[1, 32]));
    // Encoder ops (issue 6) at BERT-base / SigLIP so400m / DINOv3 ViT-L and 7B shapes; their
    // attention rows are in the architecture crates' benches (encoder_attention_bench_cases).
    cases.extend(encoder_bench_cases(DType::BF16));
    let mut specs: Vec<BenchSpec> = cases.into_iter().map(BenchSpec::l1).collect();
    specs.extend(moe_bench_specs(&MoeShapes::MIXTRAL_8X7B, &MOE_BENCH_TOKENS));
    specs.extend(ssm_bench_specs(&[1, 2048, 8192], &[1, 32]));
    bench::main("fk-baselines", None, specs, BenchEnv { gemm_peak_tflops: Some(Box::new(bench::gemm_peak_tflops)) })
}
