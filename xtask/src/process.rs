//! Running child processes with readable failures.

use anyhow::{bail, Context, Result};
use std::ffi::OsString;
use std::path::Path;
use std::process::Command;

/// The cargo that runs us (`$CARGO`), else `cargo` on PATH.
pub fn cargo_bin() -> OsString {
    std::env::var_os("CARGO").filter(|c| !c.is_empty()).unwrap_or_else(|| "cargo".into())
}

/// `program args…` as a shell would show it.
pub fn describe(cmd: &Command) -> String {
    std::iter::once(cmd.get_program()).chain(cmd.get_args()).map(|a| a.to_string_lossy().into_owned()).collect::<Vec<_>>().join(" ")
}

/// Run with inherited stdio; an unsuccessful exit is an error naming the command.
pub fn run_streaming(cmd: &mut Command) -> Result<()> {
    let shown = describe(cmd);
    eprintln!("+ {shown}");
    let status = cmd.status().with_context(|| format!("cannot start `{shown}`"))?;
    if !status.success() {
        bail!("`{shown}` failed ({status})");
    }
    Ok(())
}

/// Run and capture stdout (stderr too on failure).
pub fn capture(cmd: &mut Command) -> Result<String> {
    let shown = describe(cmd);
    let out = cmd.output().with_context(|| format!("cannot start `{shown}`"))?;
    if !out.status.success() {
        bail!("`{shown}` failed ({}):\n{}{}", out.status, String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// `cargo <args>` in `dir`.
pub fn cargo(dir: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::new(cargo_bin());
    cmd.args(args).current_dir(dir);
    cmd
}
