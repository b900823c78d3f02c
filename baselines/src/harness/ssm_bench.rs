//! SSM benchmark rows: the L1 cases of `ssm_bench_cases` at mamba-2.8b (Mamba-1: conv and
//! selective scan at 1 / 2048 / 8192 prefill tokens, decode conv and state update at batch 1
//! and 32), Mamba-Codestral-7B (Mamba-2: conv over xBC, the chunked SSD scan, gated norm,
//! per-head state update) and mamba2-2.7b (Mamba-2 at mamba-2.8b's width: its SSD scan row
//! against mamba-2.8b's selective_scan row is the equal-width comparison of issue 7). Bytes are what each op must move (see the instances in `ssm_inst.rs`): at
//! mamba-2.8b the scan's are u, delta, z in and y out (4 × tokens × 5120 × 2 B) plus B, C and
//! the states, so its GB/s against the copy bandwidth is the figure of merit.

use super::bench::BenchSpec;
use super::ssm::{ssm_bench_cases, SsmShapes};
use fk_runtime::DType;

pub fn ssm_bench_specs(tokens: &[usize], batches: &[usize]) -> Vec<BenchSpec> {
    let mut cases = ssm_bench_cases(&SsmShapes::MAMBA_2_8B, tokens, batches, DType::BF16);
    cases.extend(ssm_bench_cases(&SsmShapes::MAMBA_CODESTRAL_7B, tokens, batches, DType::BF16));
    cases.extend(ssm_bench_cases(&SsmShapes::MAMBA2_2_7B, tokens, &[], DType::BF16));
    cases.into_iter().map(BenchSpec::l1).collect()
}
