//! Finding the CUDA toolkit and choosing the target architecture.

use super::{env_var, BuildError, BuildResult};
use std::path::{Path, PathBuf};
use std::process::Command;

#[derive(Clone, Debug)]
pub struct Toolkit {
    pub nvcc: PathBuf,
    /// Folder holding `libcudart_static.a`.
    pub lib_dir: PathBuf,
    /// `nvcc --version` release, e.g. "13.0".
    pub version: String,
}

/// Where `cargo xtask setup-cuda` puts NVIDIA's pip wheels, relative to the workspace root.
pub const LOCAL_TOOLKIT: &str = ".fastkernels/cuda/nvidia/cu13";

impl Toolkit {
    /// Locate nvcc, in this order: `$NVCC`, `$CUDA_HOME/bin/nvcc`, `$CUDA_PATH/bin/nvcc`,
    /// `nvcc` on `PATH`, `/usr/local/cuda/bin/nvcc`, then `<workspace>/.fastkernels/cuda/...`
    /// (searched upwards from `start`, normally `CARGO_MANIFEST_DIR`).
    pub fn find(start: &Path) -> BuildResult<Toolkit> {
        let mut tried = Vec::new();
        let mut candidates: Vec<(String, PathBuf)> = Vec::new();
        match env_var("NVCC") {
            Some(p) => candidates.push(("$NVCC".into(), PathBuf::from(p))),
            None => tried.push("$NVCC (unset)".to_string()),
        }
        for var in ["CUDA_HOME", "CUDA_PATH"] {
            match env_var(var) {
                Some(root) => candidates.push((format!("${var}/bin/nvcc"), Path::new(&root).join("bin/nvcc"))),
                None => tried.push(format!("${var} (unset)")),
            }
        }
        if let Some(path) = std::env::var_os("PATH") {
            for dir in std::env::split_paths(&path) {
                candidates.push(("PATH".into(), dir.join("nvcc")));
            }
        }
        candidates.push(("/usr/local/cuda".into(), PathBuf::from("/usr/local/cuda/bin/nvcc")));
        for dir in start.ancestors() {
            candidates.push(("cargo xtask setup-cuda".into(), dir.join(LOCAL_TOOLKIT).join("bin/nvcc")));
        }
        for (how, nvcc) in candidates {
            if nvcc.is_file() {
                return Toolkit::from_nvcc(&nvcc).map_err(|e| BuildError(format!("{e}\n(nvcc found via {how})")));
            }
            if how != "PATH" && how != "cargo xtask setup-cuda" {
                tried.push(format!("{} ({how}): not found", nvcc.display()));
            }
        }
        tried.push("nvcc on PATH: not found".into());
        tried.push(format!("<workspace>/{LOCAL_TOOLKIT}/bin/nvcc: not found"));
        Err(BuildError(format!(
            "nvcc (the CUDA compiler) was not found, so the CUDA kernels cannot be built.\n\
             Looked at:\n  - {}\n\
             Fix one of:\n  \
             - run `cargo xtask setup-cuda` in the workspace (installs NVIDIA's nvcc 13.0 pip wheels into {LOCAL_TOOLKIT}; needs python3 + pip)\n  \
             - install the CUDA toolkit (>= 12.4) and set CUDA_HOME=/usr/local/cuda\n  \
             - set NVCC=/path/to/nvcc",
            tried.join("\n  - ")
        )))
    }

    fn from_nvcc(nvcc: &Path) -> BuildResult<Toolkit> {
        let out = Command::new(nvcc)
            .arg("--version")
            .output()
            .map_err(|e| BuildError(format!("cannot run {}: {e}", nvcc.display())))?;
        if !out.status.success() {
            return Err(BuildError(format!("{} --version failed: {}", nvcc.display(), String::from_utf8_lossy(&out.stderr))));
        }
        let text = String::from_utf8_lossy(&out.stdout);
        let version = text
            .split("release ")
            .nth(1)
            .and_then(|s| s.split(',').next())
            .unwrap_or("unknown")
            .trim()
            .to_string();
        let root = nvcc.parent().and_then(Path::parent).unwrap_or(Path::new("/"));
        let lib_dir = ["lib64", "lib", "targets/x86_64-linux/lib", "targets/sbsa-linux/lib"]
            .iter()
            .map(|d| root.join(d))
            .find(|d| d.join("libcudart_static.a").is_file())
            .ok_or_else(|| {
                BuildError(format!(
                    "found nvcc at {} but no libcudart_static.a under {}/{{lib64,lib,targets/*/lib}}; \
                     install the CUDA runtime (pip: nvidia-cuda-runtime) next to it",
                    nvcc.display(),
                    root.display()
                ))
            })?;
        Ok(Toolkit { nvcc: nvcc.to_path_buf(), lib_dir, version })
    }

    /// Print the directives that link the CUDA runtime statically (once per binary: only the
    /// crate at the bottom of the kernel stack, fk-baselines, calls this).
    pub fn link_cudart_static(&self) {
        println!("cargo:rustc-link-search=native={}", self.lib_dir.display());
        println!("cargo:rustc-link-lib=static=cudart_static");
        for lib in ["dl", "pthread", "rt", "stdc++"] {
            println!("cargo:rustc-link-lib=dylib={lib}");
        }
    }
}

/// The GPU architecture kernels are compiled for (SASS only, no PTX: a PTX newer than the
/// driver fails to load, SASS for the exact target never does).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ComputeCap {
    /// e.g. "90a", "80", "100a".
    pub arch: String,
}

impl ComputeCap {
    pub const DEFAULT: &'static str = "90a";
    pub const SUPPORTED: [&'static str; 5] = ["80", "89", "90", "90a", "100a"];

    /// `CUDA_COMPUTE_CAP` (accepts `90a`, `sm_90a`, `9.0`, `90`), default `90a` (H100/H200).
    pub fn from_env() -> BuildResult<ComputeCap> {
        match env_var("CUDA_COMPUTE_CAP") {
            None => Ok(ComputeCap { arch: Self::DEFAULT.into() }),
            Some(v) => Self::parse(&v),
        }
    }

    pub fn parse(v: &str) -> BuildResult<ComputeCap> {
        let s = v.trim().trim_start_matches("sm_").trim_start_matches("compute_").replace('.', "");
        if Self::SUPPORTED.contains(&s.as_str()) {
            Ok(ComputeCap { arch: s })
        } else {
            Err(BuildError(format!(
                "CUDA_COMPUTE_CAP={v:?} is not supported; use one of {} (H100/H200: 90a)",
                Self::SUPPORTED.join(", ")
            )))
        }
    }

    pub fn gencode(&self) -> String {
        format!("-gencode=arch=compute_{a},code=sm_{a}", a = self.arch)
    }

    /// Numeric capability (90 for "90a").
    pub fn number(&self) -> u32 {
        self.arch.trim_end_matches(|c: char| c.is_ascii_alphabetic()).parse().unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compute_cap_forms() {
        for (input, arch) in [("90a", "90a"), ("sm_90a", "90a"), ("9.0", "90"), ("80", "80"), ("100a", "100a")] {
            assert_eq!(ComputeCap::parse(input).unwrap().arch, arch, "{input}");
        }
        assert_eq!(ComputeCap::parse("90a").unwrap().gencode(), "-gencode=arch=compute_90a,code=sm_90a");
        assert_eq!(ComputeCap::parse("90a").unwrap().number(), 90);
        let e = ComputeCap::parse("75").unwrap_err().to_string();
        assert!(e.contains("not supported") && e.contains("90a"), "{e}");
    }

    #[test]
    fn missing_nvcc_says_how_to_fix() {
        // An empty directory tree with no env: the error must name the fix.
        let dir = std::env::temp_dir().join(format!("fk-no-nvcc-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let saved: Vec<_> = ["NVCC", "CUDA_HOME", "CUDA_PATH", "PATH"].iter().map(|v| (v, std::env::var_os(v))).collect();
        // SAFETY: this test is the only one in this binary touching these variables.
        unsafe {
            for (v, _) in &saved {
                std::env::remove_var(v);
            }
        }
        let r = Toolkit::find(&dir);
        unsafe {
            for (v, val) in saved {
                if let Some(val) = val {
                    std::env::set_var(v, val);
                }
            }
        }
        if Path::new("/usr/local/cuda/bin/nvcc").exists() {
            return; // a system toolkit is legitimately found
        }
        let e = r.unwrap_err().to_string();
        assert!(e.contains("cargo xtask setup-cuda") && e.contains("CUDA_HOME") && e.contains("NVCC="), "{e}");
    }
}
