//! fk-llama: baseline vs this crate's candidates at Llama-3.1-8B shapes (from the shipped
//! config.json), bf16. L1: every op at tokens 1 … 8192, paged decode attention at batch
//! 1–64 × context 1k–32k and sampling over the 128256 vocab at batch 1 and 32;
//! L2: LlamaRMSNorm→LlamaMLP.
//! `cargo fastkernels bench --arch llama` runs this.
use fk_baselines::harness::bench::{self, BenchEnv, BenchSpec};
use fk_baselines::harness::{llm_bench_cases, llm_decode_bench_cases, llm_sample_bench_cases};
use fk_baselines::OpId;
use fk_llama::kernels::candidate_table;
use fk_llama::{LlamaConfig, MlpHalfLayer};
use fk_runtime::DType;

const TOKENS: [usize; 5] = [1, 16, 128, 2048, 8192];

fn main() {
    let cfg = LlamaConfig::llama_3_1_8b();
    let mut specs: Vec<BenchSpec> = llm_bench_cases(&cfg.shapes(), &TOKENS, DType::BF16).into_iter().map(BenchSpec::l1).collect();
    // Decode attention over the paged cache: (batch, context).
    let decode = [(1, 4096), (1, 32768), (32, 1024), (32, 4096), (64, 4096)];
    specs.extend(llm_decode_bench_cases(&cfg.shapes(), &decode, DType::BF16).into_iter().map(BenchSpec::l1));
    specs.extend(llm_sample_bench_cases(&cfg.shapes(), &[1, 32]).into_iter().map(BenchSpec::l1));
    for t in TOKENS {
        let cfg = cfg.clone();
        specs.push(BenchSpec {
            op: "LlamaRMSNorm→LlamaMLP".into(),
            level: "L2",
            shape: format!("[{t}, {}] I={}", cfg.hidden_size, cfg.intermediate_size),
            dtype: DType::BF16,
            uses: vec![OpId::FusedAddRmsNorm, OpId::SiluAndMul],
            make: Box::new(move |dev, rng| Ok(Box::new(MlpHalfLayer::new(dev, &cfg, t, DType::BF16, rng)?) as _)),
        });
    }
    let env = BenchEnv { gemm_peak_tflops: Some(Box::new(bench::gemm_peak_tflops)) };
    bench::main("fk-llama", Some(candidate_table()), specs, env)
}
