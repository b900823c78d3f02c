//! Baseline L1 ops at the real Llama-3.1-8B shapes (tokens 1 … 8192), bf16; paged decode
//! attention at batch 1–64 × context 1k–32k; sampling at batch 1 and 32 over the 128256 vocab.
//! `cargo bench -p fk-baselines --bench ops -- [--op X] [--json FILE] [--peer FILE] [--quick]`
use fk_baselines::harness::bench::{self, BenchEnv, BenchSpec};
use fk_baselines::harness::{llm_bench_cases, llm_decode_bench_cases, llm_sample_bench_cases, LlmShapes};
use fk_runtime::DType;

fn main() {
    let s = LlmShapes::LLAMA_3_1_8B;
    let mut cases = llm_bench_cases(&s, &[1, 16, 128, 2048, 8192], DType::BF16);
    cases.extend(llm_decode_bench_cases(&s, &[(1, 4096), (1, 32768), (32, 1024), (32, 4096), (64, 4096)], DType::BF16));
    cases.extend(llm_sample_bench_cases(&s, &[1, 32]));
    bench::main("fk-baselines", None, cases.into_iter().map(BenchSpec::l1).collect(), BenchEnv::default())
}
