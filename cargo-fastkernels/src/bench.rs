//! `cargo fastkernels bench`: run each chosen crate's `ops` bench (baseline vs candidate per
//! op and level), collect the JSON each writes, and print one combined summary.

use crate::registry::Registry;
use crate::report::{finish, CrateResult, Outcome};
use crate::workspace::ArchCrate;
use crate::Ctx;
use anyhow::{bail, Context, Result};
use clap::Args;
use std::path::PathBuf;

/// The bench target every architecture crate has (`benches/ops.rs`, `harness = false`).
pub const BENCH_TARGET: &str = "ops";

#[derive(Args)]
pub struct BenchArgs {
    /// Architecture to bench (repeatable or comma-separated); default: every implemented one
    #[arg(long = "arch", value_name = "ARCH", value_delimiter = ',')]
    arches: Vec<String>,
    /// Only these rows (repeatable or comma-separated), passed to the bench binaries: an op name
    /// or the start of "op shape" ("MixtralSparseMoeBlock [1024, 4096]": a comma followed by a
    /// space stays in the filter)
    #[arg(long = "op", value_name = "OP")]
    ops: Vec<String>,
    /// Every architecture crate whose candidate slot holds at least one `.cu`
    #[arg(long)]
    changed: bool,
    /// Write the combined report (`fastkernels.bench-report.v1`) to this file
    #[arg(long, value_name = "FILE")]
    json: Option<PathBuf>,
    /// Fewer repetitions (a smoke run, not a measurement to quote)
    #[arg(long)]
    quick: bool,
    /// Print the cargo commands instead of running them
    #[arg(long)]
    dry_run: bool,
}

/// `--op` values split at commas that separate filters (not followed by a space, which a shape
/// label's "[1024, 4096]" has); empty pieces dropped (an empty filter would match every row).
fn op_filters(values: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    for v in values {
        let mut cur = String::new();
        let mut chars = v.chars().peekable();
        while let Some(ch) = chars.next() {
            if ch == ',' && chars.peek() != Some(&' ') {
                out.push(std::mem::take(&mut cur));
            } else {
                cur.push(ch);
            }
        }
        out.push(cur);
    }
    out.retain(|f| !f.trim().is_empty());
    out
}

pub fn run(ctx: &Ctx, args: BenchArgs) -> Result<i32> {
    let reg = Registry::embedded()?;
    let ws = ctx.workspace()?;
    let crates: Vec<&ArchCrate> = if args.arches.is_empty() && !args.changed {
        ws.arch_crates.iter().collect()
    } else {
        ws.select(&reg, &args.arches, args.changed)?
    };
    if crates.is_empty() {
        let why = if args.changed {
            "No architecture crate has a candidate in its slot (kernels/*.cu): nothing to bench."
        } else {
            "This workspace has no architecture crate: nothing to bench."
        };
        eprintln!("{why}");
        return Ok(0);
    }
    for c in &crates {
        if !c.benches.iter().any(|b| b == BENCH_TARGET) {
            bail!(
                "{} has no `{BENCH_TARGET}` bench target: add benches/{BENCH_TARGET}.rs and [[bench]] name = \"{BENCH_TARGET}\", harness = false to {}",
                c.package,
                c.dir.join("Cargo.toml").display()
            );
        }
    }
    let results_dir = ws.target_dir.join("fastkernels");
    if !args.dry_run {
        std::fs::create_dir_all(&results_dir).with_context(|| format!("cannot create {}", results_dir.display()))?;
    }

    let mut outcomes = Vec::new();
    for c in crates {
        let out = results_dir.join(format!("bench-{}.json", c.package));
        let mut cargo_args: Vec<String> =
            ["bench", "-p", &c.package, "--bench", BENCH_TARGET, "--", "--json"].iter().map(|s| s.to_string()).collect();
        cargo_args.push(out.display().to_string());
        for op in op_filters(&args.ops) {
            cargo_args.push("--op".into());
            cargo_args.push(op);
        }
        if args.quick {
            cargo_args.push("--quick".into());
        }
        if args.dry_run {
            crate::output::line(crate::cargo::describe(&cargo_args));
            continue;
        }
        // A stale file from an earlier run must never be read as this run's result.
        if out.exists() {
            std::fs::remove_file(&out).with_context(|| format!("cannot remove stale {}", out.display()))?;
        }
        let code = crate::cargo::run(&ws.root, &cargo_args)?;
        let outcome = if code != 0 {
            Outcome::Failed { krate: c.package.clone(), error: format!("`cargo bench` exited with code {code}") }
        } else if !out.is_file() {
            Outcome::Failed { krate: c.package.clone(), error: format!("the bench exited 0 but did not write {}", out.display()) }
        } else {
            match CrateResult::load(&out) {
                Ok(r) => {
                    if r.file.krate != c.package {
                        eprintln!("warning: {} says it is from crate `{}`, expected `{}`", out.display(), r.file.krate, c.package);
                    }
                    if r.file.skipped.is_none() && r.file.rows.is_empty() && !args.ops.is_empty() {
                        eprintln!("warning: {} reported no rows: does --op {} name an op it benches?", c.package, args.ops.join(","));
                    }
                    Outcome::Loaded(r)
                }
                Err(e) => Outcome::Failed { krate: c.package.clone(), error: format!("{e:#}") },
            }
        };
        outcomes.push(outcome);
    }
    if args.dry_run {
        return Ok(0);
    }
    finish(&outcomes, args.json.as_deref())
}

#[cfg(test)]
mod tests {
    use super::op_filters;

    #[test]
    fn op_filters_split_lists_but_keep_shapes() {
        let v = |s: &[&str]| s.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        assert_eq!(op_filters(&v(&["rms_norm,fused_moe"])), v(&["rms_norm", "fused_moe"]));
        assert_eq!(op_filters(&v(&["MixtralSparseMoeBlock [1024, 4096]"])), v(&["MixtralSparseMoeBlock [1024, 4096]"]));
        // A trailing comma (a shape prefix such as "[1024,") leaves no empty match-all filter.
        assert_eq!(op_filters(&v(&["fused_moe gate_up [1024,", "moe_sum"])), v(&["fused_moe gate_up [1024", "moe_sum"]));
        assert!(op_filters(&v(&["", ","])).is_empty());
    }
}
