//! `cargo fastkernels embed` on the golden encoder folders (`hd64-*`, fp32 and bf16) against
//! the transformers goldens: the CLI is run as a user runs it (token ids and masks on the
//! command line; the golden file itself as `--pixel-values`), and its `last_hidden_state`
//! (real rows), `pooler_output` and the architecture's embedding must match at the model
//! tolerances. Ignored without a GPU. In a GPU bundle the CLI is the `cargo-fastkernels`
//! next to this binary (or `$FASTKERNELS_CLI`).

use fk_baselines::fixtures::{arch_cases, model_tolerance, GoldenCase};
use fk_runtime::compare::compare;
use fk_runtime::gpu_test::{gpu_trial, run};
use fk_runtime::safetensors::Checkpoint;
use std::path::PathBuf;
use std::process::Command;

fn cli() -> PathBuf {
    if let Some(p) = std::env::var_os("FASTKERNELS_CLI") {
        return p.into();
    }
    let sibling = std::env::current_exe().ok().and_then(|e| e.parent().map(|d| d.join("cargo-fastkernels")));
    sibling.filter(|p| p.is_file()).unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_cargo-fastkernels")))
}

/// Rows `[b·seq]` of the batch flagged by `mask`.
fn real_rows(x: &[f32], mask: &[bool], width: usize) -> Vec<f32> {
    mask.iter().enumerate().filter(|(_, &m)| m).flat_map(|(r, _)| x[r * width..(r + 1) * width].iter().copied()).collect()
}

/// `--input-ids`/`--attention-mask`/`--token-type-ids` arguments from the golden's tensors.
fn text_args(g: &GoldenCase) -> Result<(Vec<String>, Vec<bool>), String> {
    let [b, seq] = g.shape("input_ids").map_err(|e| e.to_string())?[..] else { return Err("input_ids is not 2-D".into()) };
    let ids = g.ints("input_ids").map_err(|e| e.to_string())?;
    let mask = g.ints("attention_mask").map_err(|e| e.to_string())?;
    let types = g.ints("token_type_ids").ok();
    let join = |v: &[i64]| v.iter().map(i64::to_string).collect::<Vec<_>>().join(",");
    let mut args = Vec::new();
    for r in 0..b {
        let row = r * seq..(r + 1) * seq;
        args.extend(["--input-ids".to_string(), join(&ids[row.clone()]), "--attention-mask".into(), join(&mask[row.clone()])]);
        if let Some(t) = &types {
            args.extend(["--token-type-ids".to_string(), join(&t[row])]);
        }
    }
    Ok((args, mask.iter().map(|&m| m == 1).collect()))
}

fn check(g: &GoldenCase, arch: &str) -> Result<String, String> {
    let out = std::env::temp_dir().join(format!("fk-embed-gpu-{}-{arch}-{}.safetensors", std::process::id(), g.name));
    let mut c = Command::new(cli());
    c.args(["embed", "--model"]).arg(&g.dir).arg("--out").arg(&out);
    let (width_key, mask): (&str, Option<Vec<bool>>) = match arch {
        "colbertv2" | "bge_m3" => {
            let (args, mask) = text_args(g)?;
            c.args(args);
            ("last_hidden_state", Some(mask))
        }
        "siglip2" => {
            c.arg("--pixel-values").arg(g.dir.join("golden.safetensors"));
            ("last_hidden_state", Some(g.ints("pixel_attention_mask").map_err(|e| e.to_string())?.iter().map(|&m| m == 1).collect()))
        }
        _ => {
            c.arg("--pixel-values").arg(g.dir.join("golden.safetensors"));
            ("last_hidden_state", None)
        }
    };
    let o = c.output().map_err(|e| format!("run {}: {e}", cli().display()))?;
    if !o.status.success() {
        return Err(format!("{}: embed failed: {}", g.name, String::from_utf8_lossy(&o.stderr)));
    }
    let ours = Checkpoint::open(&out).map_err(|e| e.to_string())?;
    let tol = model_tolerance(g.is_bf16());
    let mut keys = vec![width_key, "pooler_output"];
    keys.extend(match arch {
        "colbertv2" => Some("token_embeddings"),
        "bge_m3" => Some("dense_embedding"),
        _ => None,
    });
    let mut report = Vec::new();
    for key in keys {
        let got = ours.host_f32(key).map_err(|e| format!("{}: {e}", g.name))?;
        let want = g.expected(key).map_err(|e| e.to_string())?;
        let (got, want) = match (&mask, key) {
            (Some(m), "last_hidden_state") => {
                let w = got.len() / m.len();
                let want32: Vec<f32> = want.iter().map(|&x| x as f32).collect();
                (real_rows(&got, m, w), real_rows(&want32, m, w).into_iter().map(f64::from).collect())
            }
            _ => (got, want),
        };
        if got.len() != want.len() {
            return Err(format!("{} {key}: {} values, the golden has {}", g.name, got.len(), want.len()));
        }
        let r = compare(&got, &want, tol);
        r.check(&format!("{} {key}", g.name))?;
        report.push(format!("{key} {:.1e}", r.rel_l2));
    }
    let _ = std::fs::remove_file(&out);
    Ok(report.join(", "))
}

fn main() {
    let mut trials = Vec::new();
    for arch in ["colbertv2", "bge_m3", "siglip2", "dinov3"] {
        let cases = arch_cases(arch, concat!(env!("CARGO_MANIFEST_DIR"), "/../architectures/colbertv2"), 4).expect("golden cases load");
        for g in cases.into_iter().filter(|g| g.name.starts_with("hd64")) {
            trials.push(gpu_trial(format!("embed/{arch}/{}/matches transformers", g.name), move |_dev| {
                let r = check(&g, arch)?;
                eprintln!("{arch} {}: {r}", g.name);
                Ok(())
            }));
        }
    }
    run(trials)
}
