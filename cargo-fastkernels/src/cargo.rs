//! Running cargo itself: the same cargo that runs us (`$CARGO`), in the workspace root,
//! with output streamed to the terminal.

use anyhow::{Context, Result};
use std::ffi::OsString;
use std::path::Path;
use std::process::{Command, ExitStatus};

pub fn cargo_bin() -> OsString {
    std::env::var_os("CARGO").filter(|c| !c.is_empty()).unwrap_or_else(|| "cargo".into())
}

/// How the command reads on a terminal (`cargo test -p fk-llama`).
pub fn describe(args: &[String]) -> String {
    let quote = |a: &String| {
        if a.is_empty() || a.contains(|c: char| c.is_whitespace() || "'\"$\\".contains(c)) {
            format!("'{}'", a.replace('\'', r"'\''"))
        } else {
            a.clone()
        }
    };
    std::iter::once("cargo".to_string()).chain(args.iter().map(quote)).collect::<Vec<_>>().join(" ")
}

/// Run `cargo <args>` in `dir`, streaming its output; returns its exit code.
pub fn run(dir: &Path, args: &[String]) -> Result<i32> {
    eprintln!("+ {}", describe(args));
    let status =
        Command::new(cargo_bin()).args(args).current_dir(dir).status().with_context(|| format!("cannot start `{}`", describe(args)))?;
    Ok(exit_code(status))
}

/// The process's exit code; a signal `n` maps to `128 + n` as shells do.
pub fn exit_code(status: ExitStatus) -> i32 {
    if let Some(code) = status.code() {
        return code;
    }
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        if let Some(sig) = status.signal() {
            return 128 + sig;
        }
    }
    1
}
