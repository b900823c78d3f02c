//! Baseline L1 ops at the real Llama-3.1-8B shapes (tokens 1 … 8192), bf16.
//! `cargo bench -p fk-baselines --bench ops -- [--op X] [--json FILE] [--peer FILE] [--quick]`
use fk_baselines::harness::bench::{self, BenchEnv, BenchSpec};
use fk_baselines::harness::{llm_bench_cases, LlmShapes};
use fk_runtime::DType;

fn main() {
    let specs = llm_bench_cases(&LlmShapes::LLAMA_3_1_8B, &[1, 16, 128, 2048, 8192], DType::BF16)
        .into_iter()
        .map(BenchSpec::l1)
        .collect();
    bench::main("fk-baselines", None, specs, BenchEnv::default())
}
