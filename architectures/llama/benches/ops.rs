//! fk-llama: baseline vs this crate's candidates at Llama-3.1-8B shapes (from the shipped
//! config.json), bf16, random weights. L1: every op at tokens 1 … 8192, paged decode
//! attention at batch 1–64 × context 1k–32k, decode-time linear layers (skinny_gemm) at batch
//! 1 and 8, prefill attention at batch 1 × 1k–16k tokens (causal and not, plus head_dim 64),
//! sampling over the 128256 vocab at batch 1 and 32; L2: LlamaRMSNorm→LlamaMLP and
//! LlamaAttention; L3: LlamaDecoderLayer; L4: LlamaForCausalLM steps (prefill 2048, decode at
//! batch 1 and 32).
//! `cargo fastkernels bench --arch llama` runs this.
use fk_baselines::harness::bench::{self, BenchEnv, BenchSpec};
use fk_baselines::harness::{
    llm_bench_cases, llm_decode_bench_cases, llm_linear_bench_cases, llm_prefill_bench_cases, llm_sample_bench_cases, prefill_bench_case,
};
use fk_baselines::OpId;
use fk_llama::kernels::candidate_table;
use fk_llama::{LlamaConfig, LlamaForCausalLM, MlpHalfLayer};
use fk_llm::attention::prefill_kernel_supports;
use fk_llm::step_bench::{step_spec, BuildModel, ModuleNames, Scope, StepKind};
use fk_runtime::DType;
use std::sync::Arc;

const TOKENS: [usize; 5] = [1, 16, 128, 2048, 8192];

fn main() {
    let cfg = LlamaConfig::llama_3_1_8b();
    let mut specs: Vec<BenchSpec> = llm_bench_cases(&cfg.shapes(), &TOKENS, DType::BF16).into_iter().map(BenchSpec::l1).collect();
    // Decode attention over the paged cache: (batch, context).
    let decode = [(1, 4096), (1, 32768), (32, 1024), (32, 4096), (64, 4096)];
    specs.extend(llm_decode_bench_cases(&cfg.shapes(), &decode, DType::BF16).into_iter().map(BenchSpec::l1));
    // Decode-time linear layers (qkv, o, gate_up, down, lm_head) at batch 1 and 8.
    specs.extend(llm_linear_bench_cases(&cfg.shapes(), &[1, 8], DType::BF16).into_iter().map(BenchSpec::l1));
    // Prefill attention (flash_attn_varlen_func), batch 1, FLOPs = 4·s²·d·heads (/2 causal).
    let shapes = cfg.shapes();
    specs.extend(llm_prefill_bench_cases(&shapes, &[1024, 2048, 4096, 8192, 16384], &[true, false], DType::BF16).into_iter().map(BenchSpec::l1));
    for causal in [true, false] {
        specs.push(BenchSpec::l1(prefill_bench_case(1, 8192, shapes.heads, shapes.kv_heads, 64, causal, DType::BF16)));
    }
    specs.extend(llm_sample_bench_cases(&cfg.shapes(), &[1, 32]).into_iter().map(BenchSpec::l1));
    for t in TOKENS {
        let cfg = cfg.clone();
        specs.push(BenchSpec {
            op: "LlamaRMSNorm→LlamaMLP".into(),
            level: "L2",
            shape: format!("[{t}, {}] I={}", cfg.hidden_size, cfg.intermediate_size),
            dtype: DType::BF16,
            uses: vec![OpId::FusedAddRmsNorm, OpId::SiluAndMul, OpId::SkinnyGemm],
            make: Box::new(move |dev, rng| Ok(Box::new(MlpHalfLayer::new(dev, &cfg, t, DType::BF16, rng)?) as _)),
        });
    }
    // Steps of the real model. Prefill rows need the tensor-core prefill kernel (the
    // per-token fallback would take minutes at these sizes).
    let mut kinds = vec![StepKind::Decode { batch: 1, context: 1024 }, StepKind::Decode { batch: 32, context: 1024 }];
    if prefill_kernel_supports(DType::BF16, cfg.head_dim) {
        kinds.insert(0, StepKind::Prefill { tokens: 2048 });
    }
    let names = ModuleNames { attention: "LlamaAttention", layer: "LlamaDecoderLayer", model: "LlamaForCausalLM" };
    let model_cfg = cfg.clone();
    let build: BuildModel<_> = Arc::new(move |dev, layers, seed| {
        let mut c = model_cfg.clone();
        c.num_hidden_layers = layers;
        Ok(LlamaForCausalLM::random(dev, &c, DType::BF16, seed)?.inner)
    });
    for scope in [Scope::Attention, Scope::DecoderLayer, Scope::Model] {
        for &kind in &kinds {
            specs.push(step_spec(names, scope, kind, cfg.num_hidden_layers, &[OpId::SiluAndMul], build.clone()));
        }
    }
    let env = BenchEnv { gemm_peak_tflops: Some(Box::new(bench::gemm_peak_tflops)) };
    bench::main("fk-llama", Some(candidate_table()), specs, env)
}
