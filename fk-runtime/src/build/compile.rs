//! Compiling `.cu` files into one static library with nvcc.

use super::{env_var, BuildError, BuildResult, ComputeCap, Toolkit, WATCHED_ENV};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

/// A static library of CUDA kernels. See the module docs for the flags it uses.
#[derive(Clone, Debug, Default)]
pub struct KernelLib {
    name: String,
    sources: Vec<PathBuf>,
    include_dirs: Vec<PathBuf>,
    defines: Vec<(String, String)>,
    flags: Vec<String>,
}

impl KernelLib {
    /// `name` becomes `lib<name>.a` in `OUT_DIR`.
    pub fn new(name: impl Into<String>) -> Self {
        KernelLib { name: name.into(), ..Default::default() }
    }

    pub fn sources<P: Into<PathBuf>>(mut self, paths: impl IntoIterator<Item = P>) -> Self {
        self.sources.extend(paths.into_iter().map(Into::into));
        self
    }

    pub fn include(mut self, dir: impl Into<PathBuf>) -> Self {
        self.include_dirs.push(dir.into());
        self
    }

    pub fn define(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.defines.push((key.into(), value.into()));
        self
    }

    pub fn flag(mut self, flag: impl Into<String>) -> Self {
        self.flags.push(flag.into());
        self
    }

    /// Compile every source (in parallel, reusing cached objects), archive, and print the
    /// cargo directives that link the archive into the crate. Returns the archive path, or
    /// `None` when there are no sources.
    pub fn build(&self, toolkit: &Toolkit, cap: &ComputeCap) -> BuildResult<Option<PathBuf>> {
        for v in WATCHED_ENV {
            println!("cargo:rerun-if-env-changed={v}");
        }
        let headers = self.headers();
        for h in &headers {
            println!("cargo:rerun-if-changed={}", h.display());
        }
        for d in &self.include_dirs {
            println!("cargo:rerun-if-changed={}", d.display());
        }
        for s in &self.sources {
            println!("cargo:rerun-if-changed={}", s.display());
        }
        if self.sources.is_empty() {
            return Ok(None);
        }
        let out_dir = PathBuf::from(env_var("OUT_DIR").ok_or_else(|| BuildError("OUT_DIR is not set: call from build.rs".into()))?);
        let obj_dir = out_dir.join("fk-obj");
        std::fs::create_dir_all(&obj_dir).map_err(|e| BuildError(format!("create {}: {e}", obj_dir.display())))?;

        let args = self.nvcc_args(cap);
        let mut key = Fnv::new();
        key.add(toolkit.version.as_bytes());
        for a in &args {
            key.add(a.as_bytes());
        }
        for h in &headers {
            key.add(&std::fs::read(h).map_err(|e| BuildError(format!("read {}: {e}", h.display())))?);
        }
        let jobs: Vec<(PathBuf, PathBuf)> = self
            .sources
            .iter()
            .map(|src| {
                let mut k = key.clone();
                k.add(&std::fs::read(src).map_err(|e| BuildError(format!("read {}: {e}", src.display())))?);
                let stem = src.file_stem().and_then(|s| s.to_str()).unwrap_or("kernel");
                Ok((src.clone(), obj_dir.join(format!("{stem}-{:016x}.o", k.finish()))))
            })
            .collect::<BuildResult<_>>()?;

        let threads = env_var("FASTKERNELS_NVCC_JOBS")
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2))
            .clamp(1, jobs.len());
        let next = AtomicUsize::new(0);
        let errors = Mutex::new(Vec::new());
        std::thread::scope(|s| {
            for _ in 0..threads {
                s.spawn(|| loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some((src, obj)) = jobs.get(i) else { break };
                    if obj.is_file() {
                        continue;
                    }
                    if let Err(e) = compile_one(toolkit, &args, src, obj) {
                        errors.lock().unwrap().push(e.0);
                    }
                });
            }
        });
        let errors = errors.into_inner().unwrap();
        if !errors.is_empty() {
            return Err(BuildError(errors.join("\n\n")));
        }

        let lib = out_dir.join(format!("lib{}.a", self.name));
        let _ = std::fs::remove_file(&lib);
        let status = Command::new(&toolkit.nvcc)
            .arg("--lib")
            .arg("-o")
            .arg(&lib)
            .args(jobs.iter().map(|(_, o)| o))
            .output()
            .map_err(|e| BuildError(format!("run {} --lib: {e}", toolkit.nvcc.display())))?;
        if !status.status.success() {
            return Err(BuildError(format!("nvcc --lib failed:\n{}", String::from_utf8_lossy(&status.stderr))));
        }
        println!("cargo:rustc-link-search=native={}", out_dir.display());
        println!("cargo:rustc-link-lib=static={}", self.name);
        Ok(Some(lib))
    }

    fn nvcc_args(&self, cap: &ComputeCap) -> Vec<String> {
        let mut a: Vec<String> = [
            "-std=c++17",
            "-O3",
            "--expt-relaxed-constexpr",
            "-lineinfo", // source lines for ncu / compute-sanitizer; no effect on the code
            "-Xcompiler",
            "-fPIC",
            "-Xptxas=-warn-spills",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        a.push(cap.gencode());
        if let Some(ccbin) = env_var("NVCC_CCBIN") {
            a.extend(["-ccbin".into(), ccbin, "-allow-unsupported-compiler".into()]);
        }
        if env_var("FASTKERNELS_PTXAS_VERBOSE").is_some() {
            a.push("-Xptxas=-v".into());
        }
        for d in &self.include_dirs {
            a.push(format!("-I{}", d.display()));
        }
        for (k, v) in &self.defines {
            a.push(format!("-D{k}={v}"));
        }
        a.extend(self.flags.iter().cloned());
        if let Some(extra) = env_var("FASTKERNELS_NVCC_FLAGS") {
            a.extend(extra.split_whitespace().map(String::from));
        }
        a
    }

    fn headers(&self) -> Vec<PathBuf> {
        let mut out = Vec::new();
        for d in &self.include_dirs {
            collect_headers(d, &mut out);
        }
        out.sort();
        out
    }
}

fn collect_headers(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            collect_headers(&p, out);
        } else if matches!(p.extension().and_then(|x| x.to_str()), Some("h" | "cuh" | "hpp")) {
            out.push(p);
        }
    }
}

fn compile_one(toolkit: &Toolkit, args: &[String], src: &Path, obj: &Path) -> BuildResult<()> {
    let tmp = obj.with_extension("o.tmp");
    let out = Command::new(&toolkit.nvcc)
        .args(args)
        .arg("-c")
        .arg(src)
        .arg("-o")
        .arg(&tmp)
        .output()
        .map_err(|e| BuildError(format!("run {}: {e}", toolkit.nvcc.display())))?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    if !out.status.success() {
        return Err(BuildError(format!(
            "nvcc failed on {}:\n{}\ncommand: {} {} -c {}",
            src.display(),
            stderr.trim_end(),
            toolkit.nvcc.display(),
            args.join(" "),
            src.display()
        )));
    }
    // Spill and other ptxas warnings are worth seeing on every build, not only on failure.
    for line in stderr.lines().filter(|l| !l.trim().is_empty()).take(20) {
        println!("cargo:warning={}: {line}", src.file_name().and_then(|s| s.to_str()).unwrap_or("?"));
    }
    std::fs::rename(&tmp, obj).map_err(|e| BuildError(format!("rename {}: {e}", obj.display())))
}

/// FNV-1a 64: a stable content hash for the object cache (std's hasher is not stable).
#[derive(Clone)]
struct Fnv(u64);

impl Fnv {
    fn new() -> Self {
        Fnv(0xcbf29ce484222325)
    }
    fn add(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 ^ b as u64).wrapping_mul(0x100000001b3);
        }
        // Separator, so ("ab","c") and ("a","bc") differ.
        self.0 = (self.0 ^ 0xff).wrapping_mul(0x100000001b3);
    }
    fn finish(&self) -> u64 {
        self.0
    }
}
