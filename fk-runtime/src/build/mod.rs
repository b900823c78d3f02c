//! The nvcc build helper every kernel crate's `build.rs` uses.
//!
//! * [`Toolkit::find`] locates nvcc: `NVCC`, `CUDA_HOME`/`CUDA_PATH`, `PATH`, then the
//!   toolkit `cargo xtask setup-cuda` installs under `<workspace>/.fastkernels/cuda`.
//! * [`ComputeCap::from_env`] reads `CUDA_COMPUTE_CAP` (default `90a`; 80, 89, 90, 90a, 100a).
//! * [`KernelLib`] compiles `.cu` files to SASS for that target with `-O3`, in parallel,
//!   caches objects by a hash of source + headers + flags, archives them into one static
//!   library and prints the `cargo:` directives (link, rerun-if-changed, rerun-if-env-changed).
//! * [`CandidateSlot`] builds an architecture crate's `kernels/` folder: each `<op>.cu` is a
//!   candidate for a baseline op, exported under a crate-specific symbol prefix, and a Rust
//!   file listing the candidates is written for the crate to `include!`.
//!
//! Errors are returned as [`BuildError`] whose `Display` says how to fix the problem;
//! [`exit_on_error`] prints it and fails the build script cleanly.

mod compile;
mod slot;
mod toolkit;

pub use compile::KernelLib;
pub use slot::CandidateSlot;
pub use toolkit::{ComputeCap, Toolkit};

use std::fmt;

#[derive(Debug)]
pub struct BuildError(pub String);

impl fmt::Display for BuildError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for BuildError {}

pub type BuildResult<T> = Result<T, BuildError>;

/// In a `build.rs`: unwrap or print the error (with its fix) and exit non-zero.
pub fn exit_on_error<T>(r: BuildResult<T>) -> T {
    match r {
        Ok(v) => v,
        Err(e) => {
            eprintln!("\nfastkernels build error:\n{e}\n");
            std::process::exit(1);
        }
    }
}

/// Environment variables that change what the helper does; each is a rerun trigger.
pub const WATCHED_ENV: [&str; 8] = [
    "NVCC",
    "CUDA_HOME",
    "CUDA_PATH",
    "CUDA_COMPUTE_CAP",
    "NVCC_CCBIN",
    "FASTKERNELS_NVCC_JOBS",
    "FASTKERNELS_NVCC_FLAGS",
    "FASTKERNELS_PTXAS_VERBOSE",
];

pub(crate) fn env_var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}
