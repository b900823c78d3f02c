//! `cargo test -p fk-llama`: every op replaced by this crate's slot is checked against the CPU
//! reference and the baseline on fresh random inputs (generic awkward shapes and Llama's real
//! ones), and the modules run with the baseline and the candidate table in one process and
//! must match the CPU reference with each. GPU trials are ignored (with the reason) without
//! a GPU.
use fk_baselines::harness::{default_test_cases, llm_bench_cases, op_trials, TrialOptions, Workload};
use fk_llama::kernels::{baseline_table, candidate_table, CANDIDATES, SLOT_DIR};
use fk_llama::{LlamaConfig, MlpHalfLayer};
use fk_runtime::gpu_test::{gpu_trial, run};
use fk_runtime::rng::{fresh_seed, Rng};
use fk_runtime::DType;
use std::sync::Arc;

fn main() {
    let cand = Arc::new(candidate_table());
    let replaced = cand.replaced();
    eprintln!(
        "fk-llama slot {SLOT_DIR}: {}",
        if CANDIDATES.is_empty() { "empty (pure baselines)".to_string() } else { format!("replaces {replaced:?}") }
    );
    let cfg = LlamaConfig::llama_3_1_8b();
    let mut cases: Vec<_> = default_test_cases();
    for dtype in [DType::BF16, DType::F16, DType::F32] {
        cases.extend(llm_bench_cases(&cfg.shapes(), &[1, 7, 130, 2048], dtype));
    }
    cases.retain(|c| replaced.contains(&c.op));
    let mut trials = op_trials(
        cand.clone(),
        cases,
        TrialOptions { prefix: "candidate/".into(), baseline: Some(Arc::new(baseline_table())) },
    );

    // L2: the same module, both tables, one process.
    for dtype in [DType::BF16, DType::F32] {
        for tokens in [1usize, 5, 300] {
            let (cand, cfg) = (cand.clone(), cfg.clone());
            trials.push(gpu_trial(format!("modules/LlamaRMSNorm→LlamaMLP/{dtype}/tokens {tokens}/baseline+candidate"), move |dev| {
                let seed = fresh_seed();
                let ctx = |e: String| format!("{e} [seed {seed}]");
                let mut w = MlpHalfLayer::new(dev, &cfg, tokens, dtype, &mut Rng::new(seed)).map_err(|e| ctx(e.to_string()))?;
                for table in [baseline_table(), (*cand).clone()] {
                    w.prepare().map_err(|e| ctx(e.to_string()))?;
                    w.run(&table).map_err(|e| ctx(e.to_string()))?;
                    w.check().map_err(|e| ctx(format!("{} table: {e}", table.name())))?;
                }
                Ok(())
            }));
        }
    }
    run(trials)
}
