//! The workspace as `cargo metadata` sees it: which packages are architecture crates (they
//! carry `[package.metadata.fastkernels]`), where their candidate slots are and what is in them.

use crate::registry::{crate_name, did_you_mean, normalize_arch, Registry};
use anyhow::{anyhow, bail, Context, Result};
use std::path::{Path, PathBuf};

/// One architecture crate of the workspace.
#[derive(Clone, Debug)]
pub struct ArchCrate {
    /// Package name, e.g. `fk-llama`.
    pub package: String,
    /// `[package.metadata.fastkernels] module`.
    pub module: String,
    pub family: Option<String>,
    pub model_type: Option<String>,
    pub checkpoint: Option<String>,
    /// Folder holding the crate's Cargo.toml.
    pub dir: PathBuf,
    /// The candidate slot the build uses: `kernels/`, or the folder `FASTKERNELS_SLOT_<NAME>` names.
    pub slot: PathBuf,
    /// Name of the override variable when it is set.
    pub slot_override: Option<String>,
    /// Ops replaced by a `<op>.cu` in the slot, sorted.
    pub candidates: Vec<String>,
    /// Names of the crate's bench targets.
    pub benches: Vec<String>,
}

impl ArchCrate {
    /// "2 candidates: rms_norm, silu_and_mul", or "no candidates".
    pub fn candidates_text(&self) -> String {
        match self.candidates.len() {
            0 => "no candidates".to_string(),
            1 => format!("1 candidate: {}", self.candidates[0]),
            n => format!("{n} candidates: {}", self.candidates.join(", ")),
        }
    }
}

pub struct Workspace {
    pub root: PathBuf,
    pub target_dir: PathBuf,
    /// `--manifest-path` as given, forwarded to the cargo commands we run.
    pub manifest_path: Option<PathBuf>,
    pub arch_crates: Vec<ArchCrate>,
    /// fk-baselines' folder, when the workspace has it.
    pub baselines_dir: Option<PathBuf>,
}

/// Env var that points a crate's slot elsewhere (mirrors `fk_runtime::build::CandidateSlot`).
pub fn slot_override_var(package: &str) -> String {
    format!("FASTKERNELS_SLOT_{}", package.trim_start_matches("fk-").replace('-', "_").to_uppercase())
}

/// Op names of the `.cu` files directly inside `dir` (sorted); an absent folder has none.
pub fn cu_stems(dir: &Path) -> Result<Vec<String>> {
    if !dir.is_dir() {
        return Ok(Vec::new());
    }
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).with_context(|| format!("cannot read {}", dir.display()))? {
        let path = entry.with_context(|| format!("cannot read {}", dir.display()))?.path();
        if path.is_file() && path.extension().and_then(|e| e.to_str()) == Some("cu") {
            if let Some(stem) = path.file_stem().and_then(|s| s.to_str()) {
                out.push(stem.to_string());
            }
        }
    }
    out.sort();
    Ok(out)
}

impl Workspace {
    /// Read the workspace of the current directory (or of `manifest_path`).
    pub fn load(manifest_path: Option<&Path>) -> Result<Workspace> {
        let mut cmd = cargo_metadata::MetadataCommand::new();
        cmd.no_deps();
        if let Some(p) = manifest_path {
            cmd.manifest_path(p);
        }
        let meta = cmd.exec().map_err(|e| {
            anyhow!(
                "cannot read the cargo workspace: {e}\n\
                 Run this inside the fastkernels workspace, or pass --manifest-path <workspace>/Cargo.toml."
            )
        })?;
        let root = meta.workspace_root.clone().into_std_path_buf();
        let mut arch_crates = Vec::new();
        let mut baselines_dir = None;
        for pkg in &meta.packages {
            let dir = pkg.manifest_path.parent().map(|p| p.to_path_buf().into_std_path_buf()).unwrap_or_else(|| root.clone());
            let name = pkg.name.to_string();
            if name == "fk-baselines" {
                baselines_dir = Some(dir.clone());
            }
            let Some(fk) = pkg.metadata.get("fastkernels") else { continue };
            let field = |key: &str| fk.get(key).and_then(|v| v.as_str()).map(str::to_string);
            let module = field("module")
                .ok_or_else(|| anyhow!("{name} ({}): [package.metadata.fastkernels] has no string `module`", pkg.manifest_path))?;
            let var = slot_override_var(&name);
            let (slot, slot_override) = match std::env::var(&var).ok().filter(|v| !v.trim().is_empty()) {
                Some(v) => {
                    let p = PathBuf::from(v);
                    (if p.is_absolute() { p } else { root.join(p) }, Some(var))
                }
                None => (dir.join("kernels"), None),
            };
            let candidates = cu_stems(&slot)?;
            let benches =
                pkg.targets.iter().filter(|t| t.kind.contains(&cargo_metadata::TargetKind::Bench)).map(|t| t.name.clone()).collect();
            arch_crates.push(ArchCrate {
                package: name,
                module,
                family: field("family"),
                model_type: field("model_type"),
                checkpoint: field("checkpoint"),
                dir,
                slot,
                slot_override,
                candidates,
                benches,
            });
        }
        arch_crates.sort_by(|a, b| a.package.cmp(&b.package));
        Ok(Workspace {
            root,
            target_dir: meta.target_directory.into_std_path_buf(),
            manifest_path: manifest_path.map(Path::to_path_buf),
            arch_crates,
            baselines_dir,
        })
    }

    pub fn by_module(&self, module: &str) -> Option<&ArchCrate> {
        self.arch_crates.iter().find(|c| c.module == module)
    }

    pub fn implemented_modules(&self) -> Vec<&str> {
        self.arch_crates.iter().map(|c| c.module.as_str()).collect()
    }

    /// The baseline ops (`baselines/kernels/<op>.cu`), sorted.
    pub fn baseline_ops(&self) -> Result<Vec<String>> {
        let dir = self.baseline_kernels_dir()?;
        let ops = cu_stems(&dir)?;
        if ops.is_empty() {
            bail!("no baseline kernels found in {}", dir.display());
        }
        Ok(ops)
    }

    pub fn baseline_kernels_dir(&self) -> Result<PathBuf> {
        let dir = self.baselines_dir.as_ref().ok_or_else(|| {
            anyhow!("the workspace at {} has no fk-baselines package: is it the fastkernels workspace?", self.root.display())
        })?;
        Ok(dir.join("kernels"))
    }

    /// The architecture crate a user means by `input` (`llama`, `fk-llama`, `gpt-oss`, …), or
    /// an error that says whether it is unknown or known but not implemented yet.
    pub fn resolve(&self, reg: &Registry, input: &str) -> Result<&ArchCrate> {
        let module = normalize_arch(input);
        if let Some(c) = self.by_module(&module).or_else(|| self.arch_crates.iter().find(|c| c.package == input)) {
            return Ok(c);
        }
        let implemented = self.implemented_modules();
        let implemented_text = if implemented.is_empty() { "none yet".to_string() } else { implemented.join(", ") };
        if let Some(arch) = reg.get(&module) {
            bail!(
                "architecture `{input}` ({}, family {}) is in the registry but not implemented yet: no workspace crate \
                 declares [package.metadata.fastkernels] module = \"{}\" (it would be {} in architectures/{}).\n\
                 Implemented architectures: {implemented_text}",
                arch.name,
                arch.family,
                arch.module,
                crate_name(&arch.module),
                arch.module.replace('_', "-")
            );
        }
        let not_yet: Vec<&str> = reg.architectures.iter().map(|a| a.module.as_str()).filter(|m| !implemented.contains(m)).collect();
        let all = reg.architectures.iter().map(|a| a.module.as_str()).chain(implemented.iter().copied());
        let hint = did_you_mean(&module, all).map(|m| format!(" (did you mean `{m}`?)")).unwrap_or_default();
        bail!(
            "unknown architecture `{input}`{hint}.\nImplemented architectures: {implemented_text}\n\
             In the registry but not implemented yet: {}\n(`cargo fastkernels list` shows all of them)",
            not_yet.join(", ")
        )
    }

    /// The crates named by `--arch` plus, with `--changed`, every crate whose slot has a
    /// candidate; in that order, without repeats.
    pub fn select(&self, reg: &Registry, arches: &[String], changed: bool) -> Result<Vec<&ArchCrate>> {
        let mut out: Vec<&ArchCrate> = Vec::new();
        for a in arches {
            let c = self.resolve(reg, a)?;
            if !out.iter().any(|o| o.package == c.package) {
                out.push(c);
            }
        }
        if changed {
            for c in self.arch_crates.iter().filter(|c| !c.candidates.is_empty()) {
                if !out.iter().any(|o| o.package == c.package) {
                    out.push(c);
                }
            }
        }
        Ok(out)
    }
}
