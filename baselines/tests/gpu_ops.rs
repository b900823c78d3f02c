//! GPU correctness of every baseline op against its CPU reference (fresh random inputs, all
//! dtypes, ≥ 5 shapes each), plus bad-input handling, the sampling-specific trials and the
//! MoE block (topk_softmax → fused_experts) against the composed reference, the encoder paths
//! (patch embedding, padded attention) with their bad-input trials, and the SSM ops' chaining
//! trials (prefill in pieces, prefill then decode) and bad-input trials.
//! Without a GPU these are reported as ignored, with the reason.
use fk_baselines::harness::{default_test_cases, encoder_trials, error_trials, moe_trials, op_trials, sampling_trials, ssm_trials, TrialOptions};
use fk_baselines::OpTable;
use std::sync::Arc;

fn main() {
    let mut trials = op_trials(Arc::new(OpTable::baseline()), default_test_cases(), TrialOptions::default());
    trials.extend(error_trials());
    trials.extend(sampling_trials());
    trials.extend(moe_trials());
    trials.extend(encoder_trials());
    trials.extend(ssm_trials());
    fk_runtime::gpu_test::run(trials)
}
