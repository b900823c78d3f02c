//! `cargo fastkernels candidate`: start a candidate kernel from its baseline, list candidates.

use crate::output::{emit, line};
use crate::registry::Registry;
use crate::table::Table;
use crate::Ctx;
use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand};

#[derive(Subcommand)]
pub enum CandidateCmd {
    /// Copy baselines/kernels/<OP>.cu into an architecture's slot as a starting point
    New(NewArgs),
    /// The ops each architecture crate replaces
    List,
}

#[derive(Args)]
pub struct NewArgs {
    /// Architecture crate whose slot receives the candidate (llama, fk-llama, …)
    #[arg(long, value_name = "ARCH")]
    arch: String,
    /// Baseline op to start from (a file stem of baselines/kernels/)
    #[arg(long, value_name = "OP")]
    op: String,
    /// Overwrite an existing candidate
    #[arg(long)]
    force: bool,
}

pub fn run(ctx: &Ctx, cmd: CandidateCmd) -> Result<i32> {
    match cmd {
        CandidateCmd::New(a) => new(ctx, a),
        CandidateCmd::List => list(ctx),
    }
}

fn new(ctx: &Ctx, args: NewArgs) -> Result<i32> {
    let reg = Registry::embedded()?;
    let ws = ctx.workspace()?;
    let ops = ws.baseline_ops()?;
    let op = args.op.trim();
    if !ops.iter().any(|o| o == op) {
        bail!("`{op}` is not a baseline op; the ops are: {}", ops.join(", "));
    }
    let c = ws.resolve(&reg, &args.arch)?;
    let src = ws.baseline_kernels_dir()?.join(format!("{op}.cu"));
    let dst = c.slot.join(format!("{op}.cu"));
    if dst.exists() && !args.force {
        bail!("{} already exists (a candidate for {op} in {}); pass --force to overwrite it with the baseline", dst.display(), c.package);
    }
    std::fs::create_dir_all(&c.slot).with_context(|| format!("cannot create the slot {}", c.slot.display()))?;
    std::fs::copy(&src, &dst).with_context(|| format!("cannot copy {} to {}", src.display(), dst.display()))?;
    let slot_note = c.slot_override.as_ref().map(|v| format!(" (slot from ${v})")).unwrap_or_default();
    line(format!("Created {}{slot_note} from {}", dst.display(), src.display()));
    line(format!(
        "It replaces the baseline `{op}` for {} only. Next:\n  \
         edit it (keep the launcher contract of include/fk/ops/{op}.h)\n  \
         cargo fastkernels test --arch {}     # correctness vs the CPU reference and the baseline\n  \
         cargo fastkernels bench --arch {}    # speed vs the baseline, per op and level",
        c.package, c.module, c.module
    ));
    Ok(0)
}

fn list(ctx: &Ctx) -> Result<i32> {
    let ws = ctx.workspace()?;
    if ws.arch_crates.is_empty() {
        line("This workspace has no architecture crate.");
        return Ok(0);
    }
    let mut t = Table::new(&["CRATE", "MODULE", "REPLACED OPS", "SLOT"]);
    for c in &ws.arch_crates {
        let ops = if c.candidates.is_empty() { "none (pure baselines)".to_string() } else { c.candidates.join(", ") };
        let slot = c.slot.strip_prefix(&ws.root).unwrap_or(&c.slot).display().to_string();
        let slot = match &c.slot_override {
            Some(v) => format!("{slot} (${v})"),
            None => slot,
        };
        t.row(vec![c.package.clone(), c.module.clone(), ops, slot]);
    }
    emit(&t.render());
    Ok(0)
}
