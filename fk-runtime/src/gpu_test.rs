//! Runner for tests that need a GPU (`[[test]] harness = false` + libtest-mimic).
//!
//! GPU trials are discovered at run time: with no usable CUDA driver each one is reported
//! as *ignored*, and the reason is printed once. Forcing them with `--include-ignored` on
//! such a machine makes them *fail* ("no GPU"), never pass. GPU trials run one at a time
//! (they share one device and its stream).

use crate::device::Device;
use crate::driver;
use libtest_mimic::{Arguments, Failed, Trial};
use std::sync::OnceLock;

pub use libtest_mimic::Trial as TestTrial;

/// The device shared by all trials of this process (device 0).
pub fn shared_device() -> Result<Device, String> {
    static DEV: OnceLock<Result<Device, String>> = OnceLock::new();
    DEV.get_or_init(|| Device::new(0).map_err(|e| e.to_string())).clone()
}

/// A trial that needs the GPU. The closure returns `Err(message)` on failure.
pub fn gpu_trial(name: impl Into<String>, f: impl FnOnce(&Device) -> Result<(), String> + Send + 'static) -> Trial {
    let available = driver::gpu_available();
    Trial::test(name, move || {
        let dev = shared_device().map_err(|e| Failed::from(format!("no GPU: {e}")))?;
        f(&dev).map_err(Failed::from)
    })
    .with_kind("gpu")
    .with_ignored_flag(!available)
}

/// A trial that runs anywhere (CPU references, config checks, error paths).
pub fn cpu_trial(name: impl Into<String>, f: impl FnOnce() -> Result<(), String> + Send + 'static) -> Trial {
    Trial::test(name, move || f().map_err(Failed::from))
}

/// Parse libtest arguments, run the trials serially, exit with the conventional code.
pub fn run(trials: Vec<Trial>) -> ! {
    let mut args = Arguments::from_args();
    args.test_threads = Some(1);
    if let Some(reason) = driver::unavailable_reason() {
        let n = trials.iter().filter(|t| t.kind() == "gpu").count();
        if n > 0 && !args.list {
            eprintln!("note: {n} GPU tests are ignored: {reason}");
        }
    }
    libtest_mimic::run(&args, trials).exit()
}
