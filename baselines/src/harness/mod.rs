//! Test and benchmark specs for the L1 ops, shared by every crate that tests or benches an
//! op table: [`Case`]s describe shapes/dtypes/input distributions, [`instantiate`] turns a
//! case into a [`Workload`] on a device with fresh random inputs and its CPU reference,
//! [`trials`] makes libtest-mimic GPU trials of them, and [`bench`] times them.

pub mod bench;
mod cases;
mod encoder;
mod encoder_inst;
mod encoder_trials;
mod errors;
mod instances;
mod mamba_decode;
mod moe;
mod moe_bench;
mod moe_trials;
mod prefill;
mod sampling;
mod skinny;
mod ssm;
mod ssm_bench;
mod ssm_inst;
mod ssm_trials;
mod ssd_inst;
mod ssd_trials;
mod dt_proj_trials;
mod linear_conv_trials;
mod slot_trials;
mod trials;

pub use cases::{
    default_test_cases, encoder_attention_bench_cases, llm_bench_cases, llm_decode_bench_cases, llm_linear_bench_cases, llm_prefill_bench_cases, llm_sample_bench_cases,
    prefill_bench_case, Case, CaseParams, LlmShapes, PrefillSource,
};
pub use encoder::{encoder_bench_cases, EncoderCase, MaskKind};
pub use encoder_trials::encoder_trials;
pub use errors::error_trials;
pub use instances::{instantiate, random, Checked};
pub use moe::{moe_bench_cases, MoeCase, MoeGemmKind, MoeShapes, MOE_BENCH_TOKENS};
pub use moe_bench::moe_bench_specs;
pub use moe_trials::moe_trials;
pub use sampling::sampling_trials;
pub use ssm::{ssm_bench_cases, SsmCase, SsmShapes};
pub use ssm_bench::ssm_bench_specs;
pub use ssm_trials::ssm_trials;
pub use trials::{op_trials, TrialOptions};

use crate::table::OpTable;
use fk_runtime::Result;

/// Something that can be run repeatedly with an op table and checked afterwards: an L1 op
/// instance, or an L2+ module with its inputs (architecture crates implement it too).
pub trait Workload {
    /// Untimed: restore inputs that the op mutates in place, poison the outputs.
    fn prepare(&mut self) -> Result<()>;
    /// Timed: enqueue the op(s) with kernels from `table`.
    fn run(&mut self, table: &OpTable) -> Result<()>;
    /// Download the outputs and compare them with the reference (computed once, lazily).
    fn check(&mut self) -> std::result::Result<(), String>;
    /// Bytes that must move through device memory (each input read once, output written once).
    fn bytes(&self) -> u64;
    /// Floating-point operations (0 for memory-bound ops).
    fn flops(&self) -> u64 {
        0
    }
}
