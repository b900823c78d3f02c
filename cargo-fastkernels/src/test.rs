//! `cargo fastkernels test`: `cargo test` for the chosen architecture crates.

use crate::registry::Registry;
use crate::Ctx;
use anyhow::Result;
use clap::Args;

#[derive(Args)]
pub struct TestArgs {
    /// Architecture to test (repeatable or comma-separated): llama, fk-llama, gpt-oss, …
    #[arg(long = "arch", value_name = "ARCH", value_delimiter = ',')]
    arches: Vec<String>,
    /// Every architecture crate whose candidate slot holds at least one `.cu`
    #[arg(long)]
    changed: bool,
    /// Build and test in release mode
    #[arg(long)]
    release: bool,
    /// Print the cargo command instead of running it
    #[arg(long)]
    dry_run: bool,
    /// Arguments for the test binaries, e.g. `-- --nocapture` or `-- rms_norm`
    #[arg(last = true, value_name = "TEST_ARGS")]
    extra: Vec<String>,
}

/// With neither `--arch` nor `--changed`: the whole workspace.
pub fn run(ctx: &Ctx, args: TestArgs) -> Result<i32> {
    let reg = Registry::embedded()?;
    let ws = ctx.workspace()?;
    let mut cargo_args = vec!["test".to_string()];
    if args.arches.is_empty() && !args.changed {
        cargo_args.push("--workspace".into());
    } else {
        let crates = ws.select(&reg, &args.arches, args.changed)?;
        if crates.is_empty() {
            eprintln!("No architecture crate has a candidate in its slot (kernels/*.cu): nothing to test.");
            return Ok(0);
        }
        for c in crates {
            cargo_args.push("-p".into());
            cargo_args.push(c.package.clone());
        }
    }
    if args.release {
        cargo_args.push("--release".into());
    }
    if !args.extra.is_empty() {
        cargo_args.push("--".into());
        cargo_args.extend(args.extra);
    }
    if args.dry_run {
        crate::output::line(crate::cargo::describe(&cargo_args));
        return Ok(0);
    }
    crate::cargo::run(&ws.root, &cargo_args)
}
