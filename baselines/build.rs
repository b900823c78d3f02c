//! Builds the baseline kernels (kernels/*.cu) into one static library, links the CUDA runtime
//! statically (once, here, for every binary), and publishes through `links = "fk_baselines"`:
//!   DEP_FK_BASELINES_INCLUDE  the include/ folder with the launcher contracts
//!   DEP_FK_BASELINES_OPS      the op names (file stems of kernels/*.cu)
//! which architecture crates' candidate slots build against.
use fk_runtime::build::{exit_on_error, ComputeCap, KernelLib, Toolkit};
use std::path::{Path, PathBuf};

fn main() {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let include = manifest.join("include");
    let kernels = cu_files(&manifest.join("kernels"));
    // Utilities (random weights, …) are not ops: no candidate slot, no contract header.
    let utils = cu_files(&manifest.join("util"));
    let ops: Vec<String> =
        kernels.iter().filter_map(|p| p.file_stem().and_then(|s| s.to_str()).map(String::from)).collect();

    let toolkit = exit_on_error(Toolkit::find(&manifest));
    let cap = exit_on_error(ComputeCap::from_env());
    exit_on_error(
        KernelLib::new("fk_baselines")
            .sources(kernels.iter().cloned().chain(utils).chain([manifest.join("abi/abi_check.cu")]))
            .include(&include)
            .define("FK_SYMBOL_PREFIX", "fk_baseline_")
            // Kernels with an sm_90a-only path (wgmma, setmaxnreg) select it on the host side
            // from this; the host compiler pass cannot tell sm_90 from sm_90a by itself.
            .define("FK_SM90A", if cap.arch == "90a" { "1" } else { "0" })
            .build(&toolkit, &cap),
    );
    toolkit.link_cudart_static();
    println!("cargo:rerun-if-changed={}", manifest.join("kernels").display());
    println!("cargo:rerun-if-changed={}", manifest.join("util").display());
    println!("cargo:include={}", include.display());
    println!("cargo:ops={}", ops.join(","));
    println!("cargo:rustc-env=FK_COMPUTE_CAP={}", cap.arch);
    println!("cargo:rustc-env=FK_NVCC_VERSION={}", toolkit.version);
    // The SASS tests (src/sass_tests.rs) look for cuobjdump next to the nvcc that built the kernels.
    println!("cargo:rustc-env=FK_NVCC={}", toolkit.nvcc.display());
}

/// The `.cu` files of `dir`, sorted (so the library and the op list do not depend on the
/// directory order).
fn cu_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().and_then(|x| x.to_str()) == Some("cu"))
        .collect();
    files.sort();
    files
}
