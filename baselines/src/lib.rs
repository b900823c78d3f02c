//! Production baseline kernels of fastkernels: for each L1 op a launcher contract
//! (`include/fk/ops/<op>.h`), the CUDA baseline (`kernels/<op>.cu`), a safe wrapper
//! ([`ops`]), a CPU reference ([`reference`]) and its test/bench spec ([`harness`]).
//! Modules receive kernels through an [`OpTable`]; architecture crates build candidate tables.

pub mod context;
pub mod fixtures;
pub mod ffi;
pub mod harness;
pub mod hf_config;
pub mod ops;
pub mod reference;
pub mod table;
pub mod util;

pub use context::Context;
pub use ffi::Launcher;
pub use fk_runtime::RawStream;
pub use table::{Candidate, OpId, OpTable};

/// The GPU architecture the kernels were compiled for (`CUDA_COMPUTE_CAP`, default 90a).
pub const COMPUTE_CAP: &str = env!("FK_COMPUTE_CAP");
/// nvcc release used for the build.
pub const NVCC_VERSION: &str = env!("FK_NVCC_VERSION");

#[cfg(test)]
mod sass_tests;
