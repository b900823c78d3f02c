//! `cargo xtask gpu-bundle`: everything a GPU machine without Rust needs, in one folder
//! (DESIGN §7). Builds every GPU test and bench binary in release (fk-llama once per example
//! candidate slot, so one GPU run shows a correct candidate passing and wrong ones failing),
//! strips them, and adds the runner script, the PyTorch peer script and a manifest.
//! Run it there with `bash bundle/run.sh`; results go to `$OUT`.

use crate::process::{capture, cargo, describe};
use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};
use std::process::Command;

/// The device tool carries at most 64 MiB; stay under it with room for the scripts.
const MAX_BUNDLE_BYTES: u64 = 60 << 20;

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Test,
    Bench,
    /// An end-to-end bench with its HF transformers peer (run.sh runs the peer first).
    E2e,
}

struct Item {
    kind: Kind,
    package: &'static str,
    target: &'static str,
    /// `FASTKERNELS_SLOT_LLAMA` for this build (None: the crate's own kernels/ folder).
    llama_slot: Option<&'static str>,
    /// Name in bundle/bin.
    out: &'static str,
    /// Tests: "pass" or "fail" (a wrong candidate must fail). Benches: the result file stem.
    expect: &'static str,
    describe: &'static str,
    bench_args: &'static str,
}

const ITEMS: &[Item] = &[
    Item { kind: Kind::Test, package: "fk-runtime", target: "gpu_runtime", llama_slot: None, out: "fk-runtime.gpu_runtime", expect: "pass", describe: "GEMM/Linear/safetensors on the GPU", bench_args: "" },
    Item { kind: Kind::Test, package: "fk-baselines", target: "gpu_ops", llama_slot: None, out: "fk-baselines.gpu_ops", expect: "pass", describe: "every baseline op vs CPU reference + bad input", bench_args: "" },
    Item { kind: Kind::Test, package: "fk-llama", target: "model_gpu", llama_slot: None, out: "fk-llama.model_gpu", expect: "pass", describe: "LlamaForCausalLM vs HF goldens, batching, graphs, bad input", bench_args: "" },
    Item { kind: Kind::Test, package: "fk-llama", target: "engine_gpu", llama_slot: None, out: "fk-llama.engine_gpu", expect: "pass", describe: "LLM engine: continuous batching == alone, seeds, 10k requests, bad input", bench_args: "" },
    Item { kind: Kind::Test, package: "fk-mixtral", target: "model_gpu", llama_slot: None, out: "fk-mixtral.model_gpu", expect: "pass", describe: "MixtralForCausalLM (fused MoE) vs HF goldens in bf16, engine, errors", bench_args: "" },
    Item { kind: Kind::Test, package: "fk-linear-attn", target: "state_cache_gpu", llama_slot: None, out: "fk-linear-attn.state_cache_gpu", expect: "pass", describe: "recurrent-state cache: reset, views, gather/scatter, bad batches", bench_args: "" },
    Item { kind: Kind::Test, package: "fk-mamba", target: "model_gpu", llama_slot: None, out: "fk-mamba.model_gpu", expect: "pass", describe: "MambaForCausalLM vs HF goldens (fp32, bf16), states, batch == alone, decode == prefill, bad input", bench_args: "" },
    Item { kind: Kind::Test, package: "fk-mamba", target: "engine_gpu", llama_slot: None, out: "fk-mamba.engine_gpu", expect: "pass", describe: "Mamba under the LLM engine (MambaRunner): greedy == transformers, batched == alone", bench_args: "" },
    Item { kind: Kind::Test, package: "fk-mamba2", target: "model_gpu", llama_slot: None, out: "fk-mamba2.model_gpu", expect: "pass", describe: "Mamba2ForCausalLM vs HF goldens (fp32, bf16), states, batch == alone, decode == prefill, chunked prefill, bad input", bench_args: "" },
    Item { kind: Kind::Test, package: "fk-mamba2", target: "engine_gpu", llama_slot: None, out: "fk-mamba2.engine_gpu", expect: "pass", describe: "Mamba-2 under the LLM engine (Mamba2Runner): greedy == transformers, batched == alone", bench_args: "" },
    Item { kind: Kind::Test, package: "fk-colbertv2", target: "goldens_gpu", llama_slot: None, out: "fk-colbertv2.goldens_gpu", expect: "pass", describe: "ColBERTv2 (BERT) GPU vs transformers goldens, padding, bad input", bench_args: "" },
    Item { kind: Kind::Test, package: "fk-bge-m3", target: "goldens_gpu", llama_slot: None, out: "fk-bge-m3.goldens_gpu", expect: "pass", describe: "BGE-M3 (XLM-R) GPU vs transformers goldens, padding, bad input", bench_args: "" },
    Item { kind: Kind::Test, package: "fk-siglip2", target: "goldens_gpu", llama_slot: None, out: "fk-siglip2.goldens_gpu", expect: "pass", describe: "SigLIP-2 vision tower GPU vs transformers goldens, bad input", bench_args: "" },
    Item { kind: Kind::Test, package: "fk-dinov3", target: "goldens_gpu", llama_slot: None, out: "fk-dinov3.goldens_gpu", expect: "pass", describe: "DINOv3 GPU vs transformers goldens, bad input", bench_args: "" },
    Item { kind: Kind::Test, package: "fk-colbertv2", target: "embed_gpu", llama_slot: None, out: "fk-colbertv2.embed_gpu", expect: "pass", describe: "embedding engine on ColBERTv2: batched == alone, bad requests", bench_args: "" },
    Item { kind: Kind::Test, package: "fk-bge-m3", target: "embed_gpu", llama_slot: None, out: "fk-bge-m3.embed_gpu", expect: "pass", describe: "embedding engine on BGE-M3: batched == alone, bad requests", bench_args: "" },
    Item { kind: Kind::Test, package: "fk-siglip2", target: "embed_gpu", llama_slot: None, out: "fk-siglip2.embed_gpu", expect: "pass", describe: "embedding engine on SigLIP-2: resolutions grouped, batched == alone, NCHW on the GPU == patchified, bad requests", bench_args: "" },
    Item { kind: Kind::Test, package: "fk-dinov3", target: "embed_gpu", llama_slot: None, out: "fk-dinov3.embed_gpu", expect: "pass", describe: "embedding engine on DINOv3: resolutions grouped, batched == alone, bad requests", bench_args: "" },
    Item { kind: Kind::Test, package: "cargo-fastkernels", target: "embed_gpu", llama_slot: None, out: "cargo-fastkernels.embed_gpu", expect: "pass", describe: "cargo fastkernels embed on the encoder goldens vs transformers", bench_args: "" },
    Item { kind: Kind::Test, package: "cargo-fastkernels", target: "recurrent_gpu", llama_slot: None, out: "cargo-fastkernels.recurrent_gpu", expect: "pass", describe: "cargo fastkernels eval/generate/serve on Mamba: 4 workloads, greedy == transformers, batched == alone", bench_args: "" },
    Item { kind: Kind::Test, package: "fk-llama", target: "candidates", llama_slot: None, out: "fk-llama.candidates", expect: "pass", describe: "fk-llama as committed (empty slot)", bench_args: "" },
    Item { kind: Kind::Test, package: "fk-mixtral", target: "candidates", llama_slot: None, out: "fk-mixtral.candidates", expect: "pass", describe: "fk-mixtral's fused_moe candidate vs reference and baseline, MixtralSparseMoeBlock A/B", bench_args: "" },
    Item { kind: Kind::Test, package: "fk-llama", target: "candidates", llama_slot: Some("examples/candidates/llama/tuned"), out: "fk-llama.candidates@tuned", expect: "pass", describe: "correct rms_norm candidate", bench_args: "" },
    Item { kind: Kind::Test, package: "fk-llama", target: "candidates", llama_slot: Some("examples/candidates/llama/drops_eps"), out: "fk-llama.candidates@drops_eps", expect: "fail", describe: "wrong candidate: rms_norm drops eps", bench_args: "" },
    Item { kind: Kind::Test, package: "fk-llama", target: "candidates", llama_slot: Some("examples/candidates/llama/half_row"), out: "fk-llama.candidates@half_row", expect: "fail", describe: "wrong candidate: rms_norm writes half of each row", bench_args: "" },
    Item { kind: Kind::Bench, package: "fk-llama", target: "ops", llama_slot: Some("examples/candidates/llama/tuned"), out: "fk-llama.ops@tuned", expect: "llama", describe: "fk-llama baseline vs tuned candidate", bench_args: "" },
    Item { kind: Kind::Bench, package: "fk-baselines", target: "ops", llama_slot: None, out: "fk-baselines.ops", expect: "selftest", describe: "baseline vs itself", bench_args: "--self-test --quick --op rms_norm --op silu_and_mul" },
    // Mixtral-8x7B L1–L4 (the MoE ops with their cuBLAS peer, MixtralSparseMoeBlock, attention,
    // decoder layer, the model); run.sh merges the HF `MixtralSparseMoeBlock` peer into
    // peer.json first.
    Item { kind: Kind::Bench, package: "fk-mixtral", target: "ops", llama_slot: None, out: "fk-mixtral.ops", expect: "mixtral", describe: "fk-mixtral L1-L4", bench_args: "" },
    // Mamba-2.8B: the SSM ops (L1), MambaMixer (L2), the 64-layer model (L4).
    Item { kind: Kind::Bench, package: "fk-mamba", target: "ops", llama_slot: None, out: "fk-mamba.ops", expect: "mamba", describe: "fk-mamba L1, L2, L4", bench_args: "" },
    // Mamba-Codestral-7B (and mamba2-2.7b's width for the SSD vs Mamba-1 scan rows): L1, L2
    // Mamba2Mixer, the 64-layer model (L4).
    Item { kind: Kind::Bench, package: "fk-mamba2", target: "ops", llama_slot: None, out: "fk-mamba2.ops", expect: "mamba2", describe: "fk-mamba2 L1, L2, L4", bench_args: "" },
    Item { kind: Kind::E2e, package: "fk-llama", target: "generate", llama_slot: None, out: "fk-llama.generate", expect: "llama", describe: "Llama-3.1-8B end to end vs HF generate", bench_args: "architectures/llama/configs/Llama-3.1-8B-Instruct/config.json" },
];

/// The shipped configs the HF peers build their random models from, at their repository
/// paths under bundle/ (`scripts/peer_hf_encoders.py` reads the encoders' — keep in step with
/// its CONFIGS — and `peer_hf_mamba.py` Mamba's and Mamba-2's).
const PEER_CONFIGS: &[&str] = &[
    "architectures/colbertv2/configs/colbertv2.0/config.json",
    "architectures/bge-m3/configs/bge-m3/config.json",
    "architectures/siglip2/configs/siglip2-so400m-patch16-naflex/config.json",
    "architectures/dinov3/configs/dinov3-vit7b16-pretrain-lvd1689m/config.json",
    "architectures/mamba/configs/mamba-2.8b-hf/config.json",
    "architectures/mamba2/configs/Mamba-Codestral-7B-v0.1/config.json",
];

/// Builds the bundle into `out_dir` (default `bundle/`). `only`: just the items whose binary
/// name contains one of these substrings (every binary together no longer fits the device
/// tool's 64 MiB carry, even compressed), plus the CLI.
pub fn run(ws: &Path, out_dir: Option<PathBuf>, only: Option<Vec<String>>) -> Result<()> {
    let items: Vec<&Item> = ITEMS.iter().filter(|i| only.as_ref().is_none_or(|o| o.iter().any(|s| i.out.contains(s.as_str())))).collect();
    if items.is_empty() {
        bail!("gpu-bundle --only {:?}: no binary matches (names: {})", only.unwrap_or_default(), ITEMS.iter().map(|i| i.out).collect::<Vec<_>>().join(", "));
    }
    let bundle = out_dir.unwrap_or_else(|| ws.join("bundle"));
    if bundle.exists() {
        std::fs::remove_dir_all(&bundle).with_context(|| format!("remove old {}", bundle.display()))?;
    }
    let bin = bundle.join("bin");
    std::fs::create_dir_all(&bin)?;
    let mut manifest = String::from("# kind binary expect-or-name args/description\n");
    for item in items {
        let exe = build(ws, item)?;
        let dst = bin.join(item.out);
        std::fs::copy(&exe, &dst).with_context(|| format!("copy {} -> {}", exe.display(), dst.display()))?;
        // Symbols are not needed to run; stripping roughly halves the binaries.
        if Command::new("strip").arg(&dst).status().map(|s| !s.success()).unwrap_or(true) {
            eprintln!("warning: could not strip {} (no `strip`?); the bundle will be larger", dst.display());
        }
        match item.kind {
            Kind::Test => manifest.push_str(&format!("test {} {} {}\n", item.out, item.expect, item.describe)),
            Kind::Bench => manifest.push_str(&format!("bench {} {} {}\n", item.out, item.expect, item.bench_args)),
            Kind::E2e => {
                // bench_args names the HF config the peer builds its random model from.
                let dst = bundle.join("configs").join(item.expect).join("config.json");
                std::fs::create_dir_all(dst.parent().expect("has a parent"))?;
                std::fs::copy(ws.join(item.bench_args), &dst)?;
                manifest.push_str(&format!("e2e {} {} configs/{}/config.json\n", item.out, item.expect, item.expect));
            }
        }
    }
    std::fs::write(bundle.join("manifest.txt"), manifest)?;
    std::fs::copy(ws.join("scripts/run_gpu_bundle.sh"), bundle.join("run.sh"))?;
    std::fs::copy(ws.join("scripts/peer_torch_ops.py"), bundle.join("peer_torch_ops.py"))?;
    std::fs::copy(ws.join("scripts/peer_hf_generate.py"), bundle.join("peer_hf_generate.py"))?;
    std::fs::copy(ws.join("scripts/peer_hf_moe.py"), bundle.join("peer_hf_moe.py"))?;
    std::fs::copy(ws.join("scripts/peer_hf_mamba.py"), bundle.join("peer_hf_mamba.py"))?;
    std::fs::copy(ws.join("scripts/check_generate_cli.py"), bundle.join("check_generate_cli.py"))?;
    std::fs::copy(ws.join("scripts/check_serve.py"), bundle.join("check_serve.py"))?;
    // The HF peers build their random models from the shipped configs, which they find at
    // their repository paths from their own folder (bundle/scripts/ -> bundle/, or bundle/).
    std::fs::create_dir_all(bundle.join("scripts"))?;
    std::fs::copy(ws.join("scripts/peer_hf_encoders.py"), bundle.join("scripts/peer_hf_encoders.py"))?;
    for cfg in PEER_CONFIGS {
        let dst = bundle.join(cfg);
        std::fs::create_dir_all(dst.parent().expect("has a parent"))?;
        std::fs::copy(ws.join(cfg), &dst).with_context(|| format!("copy {cfg}"))?;
    }
    // The CLI itself, so `generate` runs on the GPU machine against the goldens.
    let cli = build_cli(ws)?;
    let cli_dst = bin.join("cargo-fastkernels");
    std::fs::copy(&cli, &cli_dst).with_context(|| format!("copy {}", cli.display()))?;
    let _ = Command::new("strip").arg(&cli_dst).status();
    copy_tree(&ws.join("tests/goldens"), &bundle.join("goldens"))?;
    let sha = capture(Command::new("git").arg("-C").arg(ws).args(["describe", "--always", "--dirty"])).unwrap_or_else(|_| "unknown".into());
    std::fs::write(bundle.join("GIT_SHA"), sha.trim())?;

    let size = dir_size(&bundle)?;
    if size > MAX_BUNDLE_BYTES {
        // The archive path is resolved before -C applies: give it in full. The binaries are
        // ~30 MB each and mostly the same bytes (every one links the baselines' fatbins), so a
        // dictionary that spans all of them finds the repeats: 16 binaries (478 MB) went from
        // 46.5 MiB with xz's default 8 MiB dictionary to 8.0 MiB with 512 MiB. Compressing takes
        // ~5.5 GB of memory, unpacking 512 MiB.
        let status = Command::new("tar")
            .env("XZ_OPT", "--lzma2=preset=6,dict=512MiB")
            .arg("-C")
            .arg(&bundle)
            .arg("-cJf")
            .arg(bundle.join("bin.tar.xz"))
            .arg("bin")
            .status()?;
        if !status.success() {
            bail!("tar -cJf failed");
        }
        std::fs::remove_dir_all(&bin)?;
    }
    let size = dir_size(&bundle)?;
    if size > MAX_BUNDLE_BYTES {
        bail!("bundle is {} MiB even compressed (limit {} MiB): pick the binaries a run needs with --only", size >> 20, MAX_BUNDLE_BYTES >> 20);
    }
    eprintln!("gpu bundle: {} ({:.1} MiB). On the GPU machine: OUT=<dir> bash {}/run.sh", bundle.display(), size as f64 / (1 << 20) as f64, bundle.file_name().and_then(|s| s.to_str()).unwrap_or("bundle"));
    Ok(())
}

/// Build one test/bench binary in release and return its path (from cargo's JSON messages).
fn build(ws: &Path, item: &Item) -> Result<PathBuf> {
    // `cargo bench` builds with the release-based bench profile and takes no --release.
    let args: &[&str] = match item.kind {
        Kind::Test => &["test", "--release", "--test"],
        Kind::Bench | Kind::E2e => &["bench", "--bench"],
    };
    let mut full: Vec<&str> = args[..args.len() - 1].to_vec();
    full.extend(["--no-run", "--message-format=json-render-diagnostics", "-p", item.package, args[args.len() - 1], item.target]);
    let mut cmd = cargo(ws, &full);
    match item.llama_slot {
        Some(slot) => cmd.env("FASTKERNELS_SLOT_LLAMA", ws.join(slot)),
        None => cmd.env_remove("FASTKERNELS_SLOT_LLAMA"),
    };
    eprintln!("+ {}{}", item.llama_slot.map(|s| format!("FASTKERNELS_SLOT_LLAMA={s} ")).unwrap_or_default(), describe(&cmd));
    let out = capture(&mut cmd)?;
    for line in out.lines() {
        let Ok(v) = serde_json::from_str::<serde_json::Value>(line) else { continue };
        if v["reason"] == "compiler-artifact" && v["target"]["name"] == item.target && v["profile"]["test"] == true {
            if let Some(exe) = v["executable"].as_str() {
                return Ok(PathBuf::from(exe));
            }
        }
    }
    bail!("cargo built no executable for {} {}", item.package, item.target)
}

/// Build the `cargo-fastkernels` binary in release and return its path.
fn build_cli(ws: &Path) -> Result<PathBuf> {
    let mut cmd = cargo(ws, &["build", "--release", "--message-format=json-render-diagnostics", "-p", "cargo-fastkernels", "--bin", "cargo-fastkernels"]);
    eprintln!("+ {}", describe(&cmd));
    let out = capture(&mut cmd)?;
    for line in out.lines() {
        let Ok(v) = serde_json::from_str::<serde_json::Value>(line) else { continue };
        if v["reason"] == "compiler-artifact" && v["target"]["name"] == "cargo-fastkernels" {
            if let Some(exe) = v["executable"].as_str() {
                return Ok(PathBuf::from(exe));
            }
        }
    }
    bail!("cargo built no cargo-fastkernels executable")
}

fn copy_tree(src: &Path, dst: &Path) -> Result<()> {
    std::fs::create_dir_all(dst)?;
    for e in std::fs::read_dir(src).with_context(|| format!("read {}", src.display()))? {
        let e = e?;
        let to = dst.join(e.file_name());
        if e.file_type()?.is_dir() {
            copy_tree(&e.path(), &to)?;
        } else {
            std::fs::copy(e.path(), &to)?;
        }
    }
    Ok(())
}

fn dir_size(dir: &Path) -> Result<u64> {
    let mut total = 0;
    for e in std::fs::read_dir(dir)? {
        let e = e?;
        let m = e.metadata()?;
        total += if m.is_dir() { dir_size(&e.path())? } else { m.len() };
    }
    Ok(total)
}
