//! `cargo fastkernels`: list the architecture registry, test and bench architecture crates,
//! manage candidate kernels, and run models (`generate`, `embed` for encoders, `eval`, and
//! `serve`: an OpenAI-compatible HTTP server).
//!
//! Works installed (`cargo install --path cargo-fastkernels`, then cargo runs
//! `cargo-fastkernels fastkernels <args>`) and through the workspace alias in
//! `.cargo/config.toml` (`cargo run -p cargo-fastkernels -- <args>`, no "fastkernels" argument).

mod bench;
mod candidate;
mod cargo;
mod embed;
mod encoders;
mod eval;
mod eval_encoders;
mod generate;
mod list;
mod models;
mod output;
mod profiling;
mod progress;
mod registry;
mod report;
mod serve;
mod table;
mod test;
mod workspace;

use clap::{Parser, Subcommand};
use std::ffi::OsString;
use std::path::PathBuf;

#[derive(Parser)]
#[command(
    name = "cargo-fastkernels",
    bin_name = "cargo fastkernels",
    version,
    about = "List, test and benchmark the fastkernels architecture crates and their candidate kernels",
    after_help = "Run inside the fastkernels workspace (or pass --manifest-path).\n\
                  Architectures are named by registry module: llama, gpt_oss (also accepted: fk-llama, gpt-oss)."
)]
struct Cli {
    /// The workspace's Cargo.toml (default: the workspace of the current directory)
    #[arg(long, global = true, value_name = "PATH")]
    manifest_path: Option<PathBuf>,

    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// All 47 registry entries, and which ones this workspace implements
    List(list::ListArgs),
    /// Run the tests of architecture crates (`cargo test -p fk-<arch>`)
    Test(test::TestArgs),
    /// Benchmark baseline vs candidate kernels of architecture crates, with a combined summary
    Bench(bench::BenchArgs),
    /// Summarise bench JSON files written elsewhere (e.g. brought back from a GPU machine)
    Report(report::ReportArgs),
    /// Run an HF model folder on the GPU and print the continuation of a prompt
    Generate(generate::GenerateArgs),
    /// Run an HF encoder folder on token ids, text or pixel values; write last_hidden_state and the pooled output
    Embed(embed::EmbedArgs),
    /// Run the family's workloads (LLM.mixed, …) through the engine on the GPU
    Eval(eval::EvalArgs),
    /// Serve an HF model folder over an OpenAI-compatible HTTP API (/v1/completions, /v1/models, /health)
    Serve(serve::ServeArgs),
    /// Create and list candidate kernels
    #[command(subcommand)]
    Candidate(candidate::CandidateCmd),
}

/// What every subcommand gets: how to find the workspace.
pub struct Ctx {
    pub manifest_path: Option<PathBuf>,
}

impl Ctx {
    pub fn workspace(&self) -> anyhow::Result<workspace::Workspace> {
        workspace::Workspace::load(self.manifest_path.as_deref())
    }
}

fn main() {
    let mut args: Vec<OsString> = std::env::args_os().collect();
    // Installed as a cargo subcommand, cargo calls us as `cargo-fastkernels fastkernels …`.
    if args.get(1).is_some_and(|a| a == "fastkernels") {
        args.remove(1);
    }
    let cli = Cli::parse_from(args);
    let ctx = Ctx { manifest_path: cli.manifest_path };
    let result = match cli.command {
        Command::List(a) => list::run(&ctx, a),
        Command::Test(a) => test::run(&ctx, a),
        Command::Bench(a) => bench::run(&ctx, a),
        Command::Report(a) => report::run(a),
        Command::Candidate(c) => candidate::run(&ctx, c),
        Command::Generate(a) => generate::run(a),
        Command::Eval(a) => eval::run(a),
        Command::Embed(a) => embed::run(a),
        Command::Serve(a) => serve::run_cli(a),
    };
    let code = match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e}");
            for cause in e.chain().skip(1) {
                eprintln!("  caused by: {cause}");
            }
            1
        }
    };
    std::process::exit(code);
}
