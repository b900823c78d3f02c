//! fk-mixtral: baseline vs this crate's candidates at Mixtral-8x7B-Instruct-v0.1's shapes (the
//! shipped config.json), bf16, random weights.
//! - L1: the MoE ops (`topk_softmax`, `moe_align_block_size`, `fused_moe` gate_up and down,
//!   `moe_sum`) at 1 … 4096 tokens, each grouped GEMM followed by its cuBLAS per-expert peer
//!   row; the routed experts (`MixtralSparseMoeBlock experts`); the dense ops at 1 and 2048
//!   tokens; paged decode attention at batch 1 and 32.
//! - L2: `MixtralSparseMoeBlock` (router included; `scripts/peer_hf_moe.py` gives HF's block
//!   in the same call) and `MixtralAttention`; L3: `MixtralDecoderLayer`; L4:
//!   `MixtralForCausalLM` prefill 2048 and decode steps at batch 1 and 32. The full bf16 model
//!   is ~93 GB: it fits the H200 (141 GB), not the H100 (80 GB); set
//!   `FASTKERNELS_MIXTRAL_LAYERS=16` there (the row's shape says how many layers ran).
//!
//! `cargo fastkernels bench --arch mixtral` runs this.
use fk_baselines::harness::bench::{self, BenchEnv, BenchSpec};
use fk_baselines::harness::{llm_bench_cases, llm_decode_bench_cases, moe_bench_specs, MoeShapes, MOE_BENCH_TOKENS};
use fk_baselines::OpId;
use fk_llm::attention::prefill_kernel_supports;
use fk_llm::step_bench::{step_spec, BuildModel, ModuleNames, Scope, StepKind};
use fk_mixtral::kernels::candidate_table;
use fk_mixtral::moe_block_workload::MoeBlockWorkload;
use fk_mixtral::{MixtralConfig, MixtralForCausalLM};
use fk_runtime::DType;
use std::sync::Arc;

fn model_layers(cfg: &MixtralConfig) -> usize {
    match std::env::var("FASTKERNELS_MIXTRAL_LAYERS") {
        Ok(v) => match v.parse::<usize>() {
            Ok(n) if (1..=cfg.num_hidden_layers).contains(&n) => n,
            _ => {
                eprintln!("FASTKERNELS_MIXTRAL_LAYERS={v}: expected 1..={}", cfg.num_hidden_layers);
                std::process::exit(2)
            }
        },
        Err(_) => cfg.num_hidden_layers,
    }
}

fn main() {
    let cfg = MixtralConfig::mixtral_8x7b();
    let shapes = cfg.shapes();
    let moe = MoeShapes { hidden: cfg.hidden_size, intermediate: cfg.intermediate_size, experts: cfg.num_local_experts, top_k: cfg.num_experts_per_tok };
    let mut specs: Vec<BenchSpec> = moe_bench_specs(&moe, &MOE_BENCH_TOKENS);
    specs.extend(llm_bench_cases(&shapes, &[1, 2048], DType::BF16).into_iter().map(BenchSpec::l1));
    specs.extend(llm_decode_bench_cases(&shapes, &[(1, 4096), (32, 4096)], DType::BF16).into_iter().map(BenchSpec::l1));
    let moe_ops = [OpId::TopkSoftmax, OpId::MoeAlignBlockSize, OpId::FusedMoe, OpId::MoeSum];
    for t in MOE_BENCH_TOKENS {
        let cfg = cfg.clone();
        specs.push(BenchSpec {
            op: "MixtralSparseMoeBlock".into(),
            level: "L2",
            shape: moe.block_label(t),
            dtype: DType::BF16,
            uses: [&moe_ops[..], &[OpId::SkinnyGemm]].concat(),
            make: Box::new(move |dev, rng| Ok(Box::new(MoeBlockWorkload::new(dev, &cfg, t, rng.next_u64())?) as _)),
        });
    }
    let names = ModuleNames { attention: "MixtralAttention", layer: "MixtralDecoderLayer", model: "MixtralForCausalLM" };
    let model_cfg = cfg.clone();
    let build: BuildModel<_> = Arc::new(move |dev, layers, seed| {
        let mut c = model_cfg.clone();
        c.num_hidden_layers = layers;
        Ok(MixtralForCausalLM::random(dev, &c, DType::BF16, seed)?.inner)
    });
    let mut kinds = vec![StepKind::Decode { batch: 1, context: 1024 }, StepKind::Decode { batch: 32, context: 1024 }];
    if prefill_kernel_supports(DType::BF16, cfg.head_dim) {
        kinds.insert(0, StepKind::Prefill { tokens: 2048 });
    }
    let layers = model_layers(&cfg);
    for scope in [Scope::Attention, Scope::DecoderLayer, Scope::Model] {
        for &kind in &kinds {
            specs.push(step_spec(names, scope, kind, layers, &moe_ops, build.clone()));
        }
    }
    let env = BenchEnv { gemm_peak_tflops: Some(Box::new(bench::gemm_peak_tflops)) };
    bench::main("fk-mixtral", Some(candidate_table()), specs, env)
}
