//! What the compiled kernels are made of, read from their SASS (no GPU needed): the claims a
//! kernel's comments make about the instructions it runs are checked here, on every build.
//!
//! cuobjdump comes with every CUDA toolkit; the pip toolkit of `cargo xtask setup-cuda` installs
//! it next to nvcc. Without one the tests say so and pass, unless FASTKERNELS_REQUIRE_CUOBJDUMP=1
//! (set by `cargo xtask ci`), where a missing cuobjdump is a failure.

use std::path::{Path, PathBuf};
use std::process::Command;

fn cuobjdump() -> Option<PathBuf> {
    let next_to_nvcc = Path::new(env!("FK_NVCC")).with_file_name("cuobjdump");
    if next_to_nvcc.is_file() {
        return Some(next_to_nvcc);
    }
    let on_path = std::env::var_os("PATH").and_then(|p| std::env::split_paths(&p).map(|d| d.join("cuobjdump")).find(|c| c.is_file()));
    if on_path.is_none() && std::env::var("FASTKERNELS_REQUIRE_CUOBJDUMP").is_ok_and(|v| v == "1") {
        panic!("FASTKERNELS_REQUIRE_CUOBJDUMP=1 but no cuobjdump next to {} or on PATH (cargo xtask setup-cuda --force installs it)", env!("FK_NVCC"));
    }
    on_path
}

/// The newest object of kernel file `stem` (`kernels/<stem>.cu`) in this build's OUT_DIR.
fn object_of(stem: &str) -> PathBuf {
    let dir = Path::new(env!("OUT_DIR")).join("fk-obj");
    let prefix = format!("{stem}-");
    std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with(&prefix) && e.path().extension().is_some_and(|x| x == "o"))
        .max_by_key(|e| e.metadata().and_then(|m| m.modified()).ok())
        .map(|e| e.path())
        .unwrap_or_else(|| panic!("no object of kernels/{stem}.cu in {}", dir.display()))
}

/// (function name, SASS lines) of every kernel in `obj`.
fn sass_functions(tool: &Path, obj: &Path) -> Vec<(String, Vec<String>)> {
    let out = Command::new(tool).arg("-sass").arg(obj).output().unwrap_or_else(|e| panic!("{}: {e}", tool.display()));
    assert!(out.status.success(), "cuobjdump -sass {} failed: {}", obj.display(), String::from_utf8_lossy(&out.stderr));
    let mut funcs: Vec<(String, Vec<String>)> = Vec::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        if let Some(name) = line.trim().strip_prefix("Function : ") {
            funcs.push((name.to_string(), Vec::new()));
        } else if let Some((_, body)) = funcs.last_mut() {
            body.push(line.to_string());
        }
    }
    funcs
}

/// [`sass_functions`] of `kernels/<stem>.cu`, or None (said on stderr) without a cuobjdump.
fn kernels_of(stem: &str) -> Option<Vec<(String, Vec<String>)>> {
    let Some(tool) = cuobjdump() else {
        eprintln!("no cuobjdump: SASS not checked (FASTKERNELS_REQUIRE_CUOBJDUMP=1 makes this a failure)");
        return None;
    };
    Some(sass_functions(&tool, &object_of(stem)))
}

fn count(body: &[String], opcode: &str) -> usize {
    body.iter().filter(|l| l.split_whitespace().any(|w| w.starts_with(opcode))).count()
}

/// Issue 7: the Mamba-2 SSD chunk scan runs its products on tensor cores (HMMA, and HGMMA in
/// the sm_90a state and output passes), in every instantiation of both passes of its 16-bit path; the f32 /
/// fallback recurrence has none.
#[test]
fn ssd_chunk_scan_uses_tensor_cores() {
    let Some(funcs) = kernels_of("ssd_chunk_scan") else { return };
    let tc: Vec<_> = funcs.iter().filter(|(n, _)| n.contains("state_kernel") || n.contains("output_kernel")).collect();
    assert!(tc.len() >= 8, "expected both passes for f16 and bf16 at 2 state tiles, found {:?}", funcs.iter().map(|f| &f.0).collect::<Vec<_>>());
    for (name, body) in &tc {
        let hmma = count(body, "HMMA");
        eprintln!("{name}: {hmma} HMMA");
        assert!(hmma >= 16, "{name}: {hmma} HMMA instructions");
    }
    for (name, body) in funcs.iter().filter(|(n, _)| n.contains("seq_kernel")) {
        assert_eq!(count(body, "HMMA"), 0, "{name}");
    }
    // sm_90a builds: the output pass's warpgroup form (fk/ssd/output_sm90.cuh), per dtype and
    // state tile: 8 or 4 m64n128 HGMMA for C . B^T, 8 or 4 m64n64 for C . S_in, 8 for
    // scores . x (one code path for both warpgroups); one TMA store of the outputs; no local
    // memory (222-232 registers).
    let sm90: Vec<_> = funcs.iter().filter(|(n, _)| n.contains("output_sm90_kernel")).collect();
    assert_eq!(sm90.len(), if crate::COMPUTE_CAP == "90a" { 4 } else { 0 }, "output_sm90_kernel instances");
    for (name, body) in &sm90 {
        let (hgmma, local) = (count(body, "HGMMA"), count(body, "LDL") + count(body, "STL"));
        let tma_stores = count(body, "UTMASTG");
        eprintln!("{name}: {hgmma} HGMMA, {tma_stores} UTMASTG");
        assert!(hgmma >= 4 + 4 + 8, "{name}: {hgmma} HGMMA instructions");
        assert_eq!(tma_stores, 1, "{name}: {tma_stores} TMA stores of the outputs");
        assert_eq!(local, 0, "{name}: {local} local-memory instructions (register spills)");
    }
    // ... and the state pass's (fk/ssd/state_sm90.cuh): one chunk's product is 8 m64n64k16
    // HGMMA with both operands in shared memory (the loop runs a chunk per pass); the states
    // are published by TMA store (one per chunk: per-thread global stores instead, the pass
    // 132 us against 93, runs 124-125); the chunk's sums come in by bulk copy (run 147);
    // no spills.
    let state90: Vec<_> = funcs.iter().filter(|(n, _)| n.contains("state_sm90_kernel")).collect();
    assert_eq!(state90.len(), if crate::COMPUTE_CAP == "90a" { 4 } else { 0 }, "state_sm90_kernel instances");
    for (name, body) in &state90 {
        let (hgmma, local) = (count(body, "HGMMA.64x64x16"), count(body, "LDL") + count(body, "STL"));
        let (tma_stores, bulk_copies) = (count(body, "UTMASTG"), count(body, "UBLKCP"));
        eprintln!("{name}: {hgmma} HGMMA, {tma_stores} UTMASTG, {bulk_copies} UBLKCP");
        assert_eq!(hgmma, 8, "{name}: {hgmma} HGMMA.64x64x16 instructions");
        assert_eq!(tma_stores, 1, "{name}: {tma_stores} TMA stores of the states");
        assert_eq!(bulk_copies, 4, "{name}: {bulk_copies} bulk copies of the sums (2 in the prologue, 2 in the loop)");
        assert_eq!(local, 0, "{name}: {local} local-memory instructions (register spills)");
    }
}

/// selective_scan.cu's claims: every instantiation of the chunked kernel (3 dtypes x d_state
/// 16/32/64), of the ring kernel and of the cluster ring kernel (bf16, f16;
/// selective_scan_ring{,32}.cuh) fits its registers without local memory (the ring kernels in
/// the registers their blocks per SM allow), and a ring step is one exp2 per element.
#[test]
fn selective_scan_has_no_local_memory() {
    let Some(funcs) = kernels_of("selective_scan") else { return };
    let names = || funcs.iter().map(|f| &f.0).collect::<Vec<_>>();
    let kernels: Vec<_> = funcs.iter().filter(|(n, _)| n.contains("scan_kernel")).collect();
    assert_eq!(kernels.len(), 9, "expected 3 dtypes x 3 state sizes, found {:?}", names());
    let ring: Vec<_> = funcs.iter().filter(|(n, _)| n.contains("ring_kernel")).collect();
    assert_eq!(ring.len(), 2, "expected the ring kernel for bf16 and f16, found {:?}", names());
    for (name, body) in kernels.iter().chain(&ring) {
        let local = count(body, "LDL") + count(body, "STL");
        assert_eq!(local, 0, "{name}: {local} local-memory instructions (register spills)");
    }
    // Per lane and chunk: 16 tokens (FK_RING_TOK's default) x 4 states of decays, and softplus
    // + silu (one exp2 each) for its 4 tokens.
    for (name, body) in &ring {
        let exps = count(body, "MUFU.EX2");
        assert_eq!(exps, 16 * 4 + 2 * 4, "{name}: {exps} MUFU.EX2 (one per element and two per token expected)");
    }
    // The cluster ring kernel (sm_90a builds: selective_scan_ring32.cuh): no local memory; one
    // step body (16 tokens' decays) plus softplus and silu for the lane's 16 tokens; states handed
    // to the next CTA by st.async (STAS), so the only GPU-wide fences are the cluster barriers'.
    let ring32: Vec<_> = funcs.iter().filter(|(n, _)| n.contains("ring32_kernel")).collect();
    if crate::COMPUTE_CAP != "90a" {
        assert!(ring32.is_empty(), "the cluster ring kernel is sm_90a only, found {:?}", names());
        return;
    }
    assert_eq!(ring32.len(), 2, "expected the cluster ring kernel for bf16 and f16, found {:?}", names());
    for (name, body) in &ring32 {
        assert_eq!(count(body, "LDL") + count(body, "STL"), 0, "{name}: local-memory instructions (register spills)");
        let exps = count(body, "MUFU.EX2");
        assert_eq!(exps, 16 + 2 * 16, "{name}: {exps} MUFU.EX2 (16 per step body, two per token of the lane's 16)");
        assert!(count(body, "STAS") > 0, "{name}: no st.async hand-off");
        let (fences, cluster_arrivals) = (count(body, "MEMBAR.ALL.GPU"), count(body, "UCGABAR_ARV"));
        assert_eq!(fences, cluster_arrivals, "{name}: {fences} GPU-wide fences for {cluster_arrivals} cluster barriers (a hand-off fenced?)");
    }
}

/// conv1d/stream_sm90.cuh's claims: every output store of the streaming causal_conv1d is one
/// 16-byte STG (fk::store16: nvcc split plain Packed stores into four), and no instantiation
/// (3 dtypes x widths 2-4) uses local memory.
#[test]
fn causal_conv1d_stream_stores_16_bytes() {
    let Some(funcs) = kernels_of("causal_conv1d") else { return };
    let kernels: Vec<_> = funcs.iter().filter(|(n, _)| n.contains("conv_stream_kernel")).collect();
    assert_eq!(kernels.len(), 9, "expected 3 dtypes x 3 widths, found {:?}", funcs.iter().map(|f| &f.0).collect::<Vec<_>>());
    for (name, body) in &kernels {
        let (stores, wide) = (count(body, "STG"), count(body, "STG.E.128"));
        assert!(wide >= 2 && stores == wide, "{name}: {wide} of {stores} stores are 16-byte");
        let local = count(body, "LDL") + count(body, "STL");
        assert_eq!(local, 0, "{name}: {local} local-memory instructions (register spills)");
    }
}

/// rms_norm_gated.cu: the vector instantiations (16-byte pieces: 8 bf16/f16, 4 f32) store each
/// output vector with one 16-byte STG (fk::store16), not nvcc's split 32-bit stores.
#[test]
fn rms_norm_gated_stores_16_bytes() {
    let Some(funcs) = kernels_of("rms_norm_gated") else { return };
    let vec: Vec<_> = funcs.iter().filter(|(n, _)| n.contains("norm_kernel") && !n.contains("Li1E")).collect();
    assert_eq!(vec.len(), 3, "expected the vector kernel for 3 dtypes, found {:?}", funcs.iter().map(|f| &f.0).collect::<Vec<_>>());
    for (name, body) in &vec {
        let (stores, wide) = (count(body, "STG"), count(body, "STG.E.128"));
        assert!(wide >= 1 && stores == wide, "{name}: {wide} of {stores} stores are 16-byte");
    }
}
