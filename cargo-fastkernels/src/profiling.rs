//! `--profile` for `cargo fastkernels eval`: the timed pass of each workload runs with
//! `fk_runtime::profile` on, so every kernel launch, cuBLASLt GEMM, graph replay and copy is
//! bracketed by CUDA events, and the per-op GPU time is printed and written to the JSON. The
//! events cost host time per launch, so a profiled run's rates are marked as such: compare
//! rates only between unprofiled runs.

use anyhow::Result;
use fk_runtime::profile::{self, ProfileRow, Report};
use serde::Serialize;

/// Rows of the printed table (the rest summed in one line).
const TOP: usize = 25;

/// The note a profiled run carries.
pub const PROFILED_NOTE: &str = "profiled (--profile): CUDA events around every launch add host time, so this run's rates are not comparable with an unprofiled run's";

#[derive(Serialize)]
pub struct ProfileJson {
    /// Host wall time of the profiled pass (inflated by the profiling).
    pub wall_ms: f64,
    /// Σ of the spans' GPU time.
    pub gpu_ms: f64,
    /// Σ of the host time inside the spans (checks, allocations, launch calls).
    pub host_ms: f64,
    pub rows: Vec<ProfileRowJson>,
}

#[derive(Serialize)]
pub struct ProfileRowJson {
    pub op: String,
    pub calls: usize,
    pub gpu_ms: f64,
    pub host_ms: f64,
}

impl From<&Report> for ProfileJson {
    fn from(r: &Report) -> ProfileJson {
        let row = |p: &ProfileRow| ProfileRowJson { op: p.name.clone(), calls: p.calls, gpu_ms: p.gpu_ms, host_ms: p.host_ms };
        ProfileJson { wall_ms: r.wall_ms, gpu_ms: r.gpu_ms(), host_ms: r.host_ms(), rows: r.rows.iter().map(row).collect() }
    }
}

/// Run `body` profiled when `on` (printing the table under `title`), plainly otherwise.
pub fn profiled<T>(on: bool, title: &str, body: impl FnOnce() -> Result<T>) -> Result<(T, Option<ProfileJson>)> {
    if !on {
        return Ok((body()?, None));
    }
    profile::start();
    let out = body();
    // Stop recording whether or not the body failed.
    let report = profile::finish()?;
    let out = out?;
    let Some(report) = report else { return Ok((out, None)) };
    eprintln!("\nwhere the GPU time went: {title}\n{}", report.table(TOP));
    Ok((out, Some(ProfileJson::from(&report))))
}
