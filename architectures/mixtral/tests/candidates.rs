//! `cargo test -p fk-mixtral`: every op replaced by this crate's slot is checked against the
//! CPU reference and the baseline on fresh random inputs (the generic awkward shapes and
//! Mixtral-8x7B's real ones), and `MixtralSparseMoeBlock` at its real size runs with the
//! baseline and the candidate table in one process: the candidate's output must match the
//! baseline's. GPU trials are ignored (with the reason) without a GPU.
use fk_baselines::harness::{default_test_cases, moe_bench_cases, op_trials, MoeShapes, TrialOptions, Workload};
use fk_mixtral::kernels::{baseline_table, candidate_table, CANDIDATES, SLOT_DIR};
use fk_mixtral::moe_block_workload::MoeBlockWorkload;
use fk_mixtral::MixtralConfig;
use fk_runtime::gpu_test::{gpu_trial, run};
use fk_runtime::rng::fresh_seed;
use fk_runtime::DType;
use std::sync::Arc;

fn main() {
    let cand = Arc::new(candidate_table());
    let replaced = cand.replaced();
    eprintln!(
        "fk-mixtral slot {SLOT_DIR}: {}",
        if CANDIDATES.is_empty() { "empty (pure baselines)".to_string() } else { format!("replaces {replaced:?}") }
    );
    let cfg = MixtralConfig::mixtral_8x7b();
    let moe = MoeShapes { hidden: cfg.hidden_size, intermediate: cfg.intermediate_size, experts: cfg.num_local_experts, top_k: cfg.num_experts_per_tok };
    let mut cases = default_test_cases();
    cases.extend(moe_bench_cases(&moe, &[1, 7, 130], DType::BF16));
    cases.retain(|c| replaced.contains(&c.op));
    let mut trials = op_trials(cand.clone(), cases, TrialOptions { prefix: "candidate/".into(), baseline: Some(Arc::new(baseline_table())) });

    // L2: the real-size block, both tables, one process (skipped for an empty slot: the
    // baseline against itself proves nothing and costs a 3 GB model).
    if !CANDIDATES.is_empty() {
        for tokens in [1usize, 5, 300] {
            let (cand, cfg) = (cand.clone(), cfg.clone());
            trials.push(gpu_trial(format!("modules/MixtralSparseMoeBlock/bf16/tokens {tokens}/candidate == baseline"), move |dev| {
                let seed = fresh_seed();
                let ctx = |e: String| format!("{e} [seed {seed}]");
                let mut w = MoeBlockWorkload::new(dev, &cfg, tokens, seed).map_err(|e| ctx(e.to_string()))?;
                w.prepare().map_err(|e| ctx(e.to_string()))?;
                w.run(&cand).map_err(|e| ctx(e.to_string()))?;
                w.check().map_err(|e| ctx(format!("{} table: {e}", cand.name())))
            }));
        }
    }
    run(trials)
}
