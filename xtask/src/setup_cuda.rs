//! `cargo xtask setup-cuda`: make nvcc available without a system CUDA install.
//!
//! NVIDIA publishes the CUDA compiler as pip wheels; installed with `pip --target` into
//! `<workspace>/.fastkernels/cuda`, they form a toolkit at `nvidia/cu13/{bin,lib,include,nvvm}`,
//! which `fk_runtime::build::Toolkit::find` discovers by itself (it searches
//! `.fastkernels/cuda/nvidia/cu13` upward from each crate), so no environment needs setting.
//! No GPU and no driver are needed to compile kernels.

use crate::process::{capture, run_streaming};
use anyhow::{anyhow, bail, Context, Result};
use std::path::{Path, PathBuf};
use std::process::Command;

/// The wheels, pinned as one consistent CUDA 13.0 set. Every version is pinned on purpose:
/// an unpinned `nvidia-nvvm` resolves to a newer release whose NVVM emits PTX that the 13.0
/// `ptxas` of `nvidia-cuda-nvcc==13.0.88` rejects ("Unsupported .version"). The set is complete
/// (nvcc's own requirements are nvvm, crt and runtime), so pip runs with `--no-deps`.
/// cuobjdump and the nvdisasm it runs (for the SASS tests of `fk-baselines`) have no 13.0
/// wheels; 13.2 reads the sm_90a objects of any 13.x nvcc.
pub const WHEELS: [&str; 7] = [
    "nvidia-cuda-nvcc==13.0.88",
    "nvidia-nvvm==13.0.88",
    "nvidia-cuda-crt==13.0.88",
    "nvidia-cuda-runtime==13.0.96",
    "nvidia-cuda-cccl==13.0.85",
    "nvidia-cuda-cuobjdump==13.2.51",
    "nvidia-cuda-nvdisasm==13.2.51",
];

/// Install folder relative to the workspace root (what the build helper searches for).
pub const DEFAULT_DIR: &str = ".fastkernels/cuda";
/// The toolkit inside the install folder.
pub const TOOLKIT_SUBDIR: &str = "nvidia/cu13";
/// Overrides the install folder (absolute, or relative to the workspace root). Builds then
/// need `CUDA_HOME=<dir>/nvidia/cu13` unless the folder is `.fastkernels/cuda` of an ancestor.
pub const DIR_VAR: &str = "FASTKERNELS_CUDA_DIR";

pub fn install_dir(ws: &Path) -> PathBuf {
    match std::env::var_os(DIR_VAR).filter(|v| !v.is_empty()) {
        Some(v) => {
            let p = PathBuf::from(v);
            if p.is_absolute() {
                p
            } else {
                ws.join(p)
            }
        }
        None => ws.join(DEFAULT_DIR),
    }
}

/// Where an nvcc is found, in the order the build helper looks, plus the install folder.
fn find_existing(ws: &Path, install: &Path) -> Option<(String, PathBuf)> {
    let env = |v: &str| std::env::var(v).ok().filter(|s| !s.trim().is_empty());
    let mut cands: Vec<(String, PathBuf)> = Vec::new();
    if let Some(p) = env("NVCC") {
        cands.push(("$NVCC".into(), PathBuf::from(p)));
    }
    for var in ["CUDA_HOME", "CUDA_PATH"] {
        if let Some(root) = env(var) {
            cands.push((format!("${var}/bin/nvcc"), Path::new(&root).join("bin/nvcc")));
        }
    }
    if let Some(path) = std::env::var_os("PATH") {
        cands.extend(std::env::split_paths(&path).map(|d| ("PATH".to_string(), d.join("nvcc"))));
    }
    cands.push(("/usr/local/cuda".into(), PathBuf::from("/usr/local/cuda/bin/nvcc")));
    let default = ws.join(DEFAULT_DIR);
    if install != default {
        cands.push((format!("${DIR_VAR}"), install.join(TOOLKIT_SUBDIR).join("bin/nvcc")));
    }
    cands.push((format!("an earlier `cargo xtask setup-cuda` ({DEFAULT_DIR})"), default.join(TOOLKIT_SUBDIR).join("bin/nvcc")));
    cands.into_iter().find(|(_, p)| p.is_file())
}

/// `nvcc --version`'s last line, e.g. "Build cuda_13.0.r13.0/compiler.36424714_0", plus release.
fn nvcc_version(nvcc: &Path) -> Result<String> {
    let text = capture(Command::new(nvcc).arg("--version"))?;
    Ok(text.lines().find(|l| l.contains("release")).map(str::trim).unwrap_or("unknown version").to_string())
}

/// Check a toolkit folder (`…/nvidia/cu13`): nvcc runs, the static runtime is there, and a
/// trivial kernel compiles to sm_90a SASS (this catches a mismatched nvvm/ptxas pair).
fn verify(toolkit: &Path) -> Result<String> {
    let nvcc = toolkit.join("bin/nvcc");
    if !nvcc.is_file() {
        bail!("{} is missing", nvcc.display());
    }
    let version = nvcc_version(&nvcc)?;
    let cudart = toolkit.join("lib/libcudart_static.a");
    if !cudart.is_file() {
        bail!("{} is missing (wheel nvidia-cuda-runtime)", cudart.display());
    }
    for (tool, wheel) in [("cuobjdump", "nvidia-cuda-cuobjdump"), ("nvdisasm", "nvidia-cuda-nvdisasm")] {
        let path = toolkit.join("bin").join(tool);
        if !path.is_file() {
            bail!("{} is missing (wheel {wheel})", path.display());
        }
    }
    smoke_compile(&nvcc)?;
    Ok(version)
}

fn smoke_compile(nvcc: &Path) -> Result<()> {
    let dir = std::env::temp_dir().join(format!("fastkernels-setup-cuda-{}", std::process::id()));
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let src = dir.join("smoke.cu");
    std::fs::write(&src, "__global__ void smoke(float* p) { p[threadIdx.x] *= 2.0f; }\n")?;
    let result = capture(Command::new(nvcc).args(["-cubin", "-arch=sm_90a", "-o"]).arg(dir.join("smoke.cubin")).arg(&src));
    let _ = std::fs::remove_dir_all(&dir);
    result.map(|_| ()).map_err(|e| {
        anyhow!(
            "nvcc cannot compile a trivial kernel for sm_90a: {e}\n\
             (nvcc needs a host C++ compiler: on Debian `apt-get install g++`)"
        )
    })
}

/// Returns the toolkit's nvcc.
pub fn run(ws: &Path, force: bool) -> Result<PathBuf> {
    let install = install_dir(ws);
    let toolkit = install.join(TOOLKIT_SUBDIR);
    if !force {
        if let Some((how, nvcc)) = find_existing(ws, &install) {
            match nvcc_version(&nvcc) {
                Ok(v) => {
                    println!("nvcc already available via {how}: {} ({v}); nothing to do (--force reinstalls)", nvcc.display());
                    return Ok(nvcc);
                }
                Err(e) if nvcc.starts_with(&install) || nvcc.starts_with(ws.join(DEFAULT_DIR)) => {
                    eprintln!("warning: the installed toolkit is broken ({e:#}); reinstalling");
                }
                Err(e) => bail!(
                    "an nvcc was found via {how} at {}, but it does not run: {e:#}\n\
                     Fix it (or whatever points at it), or pass --force to install the pip toolkit anyway.",
                    nvcc.display()
                ),
            }
        }
    }
    check_python()?;

    // Install into a sibling folder and swap it in only once verified, so a failed or
    // interrupted install never leaves a half toolkit where the build helper would find it.
    let name = install.file_name().and_then(|n| n.to_str()).unwrap_or("cuda");
    let staging = install.with_file_name(format!("{name}.partial"));
    if staging.exists() {
        std::fs::remove_dir_all(&staging).with_context(|| format!("cannot remove {}", staging.display()))?;
    }
    if let Some(parent) = staging.parent() {
        std::fs::create_dir_all(parent).with_context(|| format!("cannot create {}", parent.display()))?;
    }
    println!("Installing nvcc 13.0 into {} …", install.display());
    run_streaming(
        Command::new("python3")
            .args(["-m", "pip", "install", "--disable-pip-version-check", "--no-input", "--no-deps", "--target"])
            .arg(&staging)
            .args(WHEELS),
    )
    .context("pip could not install the CUDA wheels (is PyPI reachable? a proxy needs HTTPS_PROXY)")?;
    verify(&staging.join(TOOLKIT_SUBDIR)).context("the freshly installed toolkit does not work")?;
    if install.exists() {
        std::fs::remove_dir_all(&install).with_context(|| format!("cannot remove the old {}", install.display()))?;
    }
    std::fs::rename(&staging, &install).with_context(|| format!("cannot move {} to {}", staging.display(), install.display()))?;
    let version = verify(&toolkit).context("the toolkit does not work after moving it into place")?;
    let nvcc = toolkit.join("bin/nvcc");
    println!("Installed {} ({version}).", nvcc.display());
    if install == ws.join(DEFAULT_DIR) {
        println!("The kernel builds find it by themselves; nothing to set.");
    } else {
        println!("It is outside the workspace's {DEFAULT_DIR}: builds need CUDA_HOME={}", toolkit.display());
    }
    Ok(nvcc)
}

fn check_python() -> Result<()> {
    match Command::new("python3").arg("--version").output() {
        Ok(o) if o.status.success() => {}
        _ => bail!(
            "python3 was not found, and it is needed to install NVIDIA's nvcc wheels.\n\
             Install python3 and pip (Debian: `apt-get install python3 python3-pip`), or install the \
             CUDA toolkit and set CUDA_HOME."
        ),
    }
    match Command::new("python3").args(["-m", "pip", "--version"]).output() {
        Ok(o) if o.status.success() => Ok(()),
        _ => bail!(
            "pip is not available for python3 (`python3 -m pip` fails).\n\
             Install it (Debian: `apt-get install python3-pip`; elsewhere `python3 -m ensurepip`), or \
             install the CUDA toolkit and set CUDA_HOME."
        ),
    }
}
