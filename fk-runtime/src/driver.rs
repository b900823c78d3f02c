//! Is there a usable CUDA GPU? Answered without ever panicking.
//!
//! cudarc's dynamic loader panics when `libcuda` is missing, so we first `dlopen` the driver
//! library ourselves; only if that works do we let cudarc initialise it, inside
//! `catch_unwind` for good measure. The answer is computed once per process.

use crate::error::{Error, Result};
use std::sync::OnceLock;

/// The driver library names cudarc may try, most specific first.
const DRIVER_LIBS: [&str; 2] = ["libcuda.so.1", "libcuda.so"];

static PROBE: OnceLock<Result<usize, String>> = OnceLock::new();

/// Number of CUDA devices, or the reason there is none.
pub fn probe() -> Result<usize> {
    PROBE.get_or_init(probe_uncached).clone().map_err(Error::NoGpu)
}

/// `true` when at least one CUDA device can be used.
pub fn gpu_available() -> bool {
    probe().is_ok()
}

/// Why GPU work cannot run here (`None` if it can): the text GPU tests show when ignored.
pub fn unavailable_reason() -> Option<String> {
    probe().err().map(|e| match e {
        Error::NoGpu(m) => m,
        other => other.to_string(),
    })
}

fn probe_uncached() -> std::result::Result<usize, String> {
    if std::env::var_os("FASTKERNELS_DISABLE_GPU").is_some() {
        return Err("FASTKERNELS_DISABLE_GPU is set".into());
    }
    let found = DRIVER_LIBS.iter().any(|name| {
        // SAFETY: loading the NVIDIA driver library runs its initialisers only; we close it
        // again immediately (cudarc opens its own handle).
        unsafe { libloading::Library::new(name) }.is_ok()
    });
    if !found {
        return Err(format!("no NVIDIA driver library ({}) on this machine", DRIVER_LIBS.join(" / ")));
    }
    let count = std::panic::catch_unwind(|| -> std::result::Result<i32, String> {
        cudarc::driver::result::init().map_err(|e| format!("cuInit failed: {e:?}"))?;
        cudarc::driver::result::device::get_count().map_err(|e| format!("cuDeviceGetCount failed: {e:?}"))
    })
    .map_err(|_| "the CUDA driver library could not be loaded by cudarc".to_string())??;
    if count <= 0 {
        return Err("the CUDA driver reports no devices".into());
    }
    Ok(count as usize)
}
