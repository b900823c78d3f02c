//! The `cargo-fastkernels` binary, run against this workspace. Nothing here builds or runs a
//! CUDA crate: commands that would run cargo are checked with `--dry-run`, or against a fake
//! `cargo` (through `$CARGO`) that writes bench JSON like the real bench binaries do.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};

const BIN: &str = env!("CARGO_BIN_EXE_cargo-fastkernels");
const FAMILIES: [&str; 8] = ["llm", "linear_attn", "vision", "multimodal", "edge", "3d_robotics", "recsys", "world_models"];

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

fn cmd(args: &[&str]) -> Command {
    let mut c = Command::new(BIN);
    c.args(args).current_dir(workspace_root());
    // The tests must not depend on the environment they run in.
    c.env_remove("FASTKERNELS_SLOT_LLAMA");
    c
}

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

fn run(c: &mut Command) -> Run {
    let Output { status, stdout, stderr } = c.output().expect("run cargo-fastkernels");
    let r = Run {
        code: status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&stdout).into(),
        stderr: String::from_utf8_lossy(&stderr).into(),
    };
    assert!(!r.stderr.contains("panicked"), "the CLI panicked:\n{}", r.stderr);
    r
}

fn ok(args: &[&str]) -> Run {
    let r = run(&mut cmd(args));
    assert_eq!(r.code, 0, "{args:?} failed:\n{}\n{}", r.stdout, r.stderr);
    r
}

fn fails(args: &[&str]) -> Run {
    let r = run(&mut cmd(args));
    assert_eq!(r.code, 1, "{args:?} should fail with exit code 1:\n{}\n{}", r.stdout, r.stderr);
    assert!(r.stderr.starts_with("error: "), "{}", r.stderr);
    r
}

/// A fresh empty folder under the system temp dir, removed when dropped.
struct TempDir(PathBuf);

impl std::ops::Deref for TempDir {
    type Target = Path;
    fn deref(&self) -> &Path {
        &self.0
    }
}

impl AsRef<std::ffi::OsStr> for TempDir {
    fn as_ref(&self) -> &std::ffi::OsStr {
        self.0.as_os_str()
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn temp_dir(tag: &str) -> TempDir {
    static N: AtomicUsize = AtomicUsize::new(0);
    let d = std::env::temp_dir().join(format!("fk-cli-{tag}-{}-{}", std::process::id(), N.fetch_add(1, Ordering::Relaxed)));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    TempDir(d)
}

/// Table rows of `list`: lines that start with a family key (the family summary is indented).
fn list_rows(stdout: &str) -> Vec<&str> {
    stdout.lines().filter(|l| !l.starts_with(' ') && l.split_whitespace().next().is_some_and(|w| FAMILIES.contains(&w))).collect()
}

#[test]
fn list_shows_all_47_and_marks_llama_implemented() {
    let r = ok(&["list"]);
    let rows = list_rows(&r.stdout);
    assert_eq!(rows.len(), 47, "{}", r.stdout);
    let llama = rows.iter().find(|l| l.split_whitespace().nth(1) == Some("llama")).unwrap();
    assert!(llama.contains("fk-llama"), "{llama}");
    let deepseek = rows.iter().find(|l| l.split_whitespace().nth(1) == Some("deepseek")).unwrap();
    assert!(!deepseek.contains("fk-"), "{deepseek}");
    assert!(r.stdout.contains("Families:"));
    assert!(r.stdout.lines().any(|l| l.trim_start().starts_with("total") && l.contains("47")), "{}", r.stdout);
}

#[test]
fn list_as_installed_subcommand() {
    // `cargo fastkernels list` runs `cargo-fastkernels fastkernels list`.
    let r = ok(&["fastkernels", "list", "--family", "world_models"]);
    assert_eq!(list_rows(&r.stdout).len(), 2, "{}", r.stdout);
}

#[test]
fn list_json_parses() {
    let r = ok(&["list", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&r.stdout).expect("list --json is JSON");
    assert_eq!(v["schema"], "fastkernels.list.v1");
    let archs = v["architectures"].as_array().unwrap();
    assert_eq!(archs.len(), 47);
    let llama = archs.iter().find(|a| a["module"] == "llama").unwrap();
    assert_eq!(llama["implemented"], true);
    assert_eq!(llama["crate"], "fk-llama");
    assert_eq!(llama["family_name"], "Dense & MoE LLMs");
    let mixtral = archs.iter().find(|a| a["module"] == "mixtral").unwrap();
    assert_eq!(mixtral["implemented"], true);
    assert_eq!(mixtral["crate"], "fk-mixtral");
    let deepseek = archs.iter().find(|a| a["module"] == "deepseek").unwrap();
    assert_eq!(deepseek["implemented"], false);
    assert_eq!(v["families"].as_array().unwrap().len(), 8);
}

#[test]
fn list_filters() {
    let r = ok(&["list", "--implemented", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert!(v["architectures"].as_array().unwrap().iter().all(|a| a["implemented"] == true));
    assert!(v["architectures"].as_array().unwrap().iter().any(|a| a["module"] == "llama"));
    let r = ok(&["list", "--family", "linear_attn"]);
    assert_eq!(list_rows(&r.stdout).len(), 9);
    let r = fails(&["list", "--family", "nosuch"]);
    assert!(r.stderr.contains("3d_robotics"), "{}", r.stderr);
}

#[test]
fn test_unknown_arch_names_the_known_ones() {
    let r = fails(&["test", "--arch", "nosuch"]);
    assert!(r.stderr.contains("unknown architecture `nosuch`"), "{}", r.stderr);
    let implemented = r.stderr.lines().find(|l| l.starts_with("Implemented architectures: ")).unwrap_or_default();
    assert!(["llama", "mixtral", "siglip2"].iter().all(|a| implemented.contains(a)), "{}", r.stderr);
    assert!(r.stderr.contains("not implemented yet: deepseek"), "{}", r.stderr);
    let r = fails(&["test", "--arch", "lama"]);
    assert!(r.stderr.contains("did you mean `llama`"), "{}", r.stderr);
}

#[test]
fn test_registered_but_unimplemented_arch() {
    let r = fails(&["test", "--arch", "deepseek"]);
    assert!(r.stderr.contains("in the registry but not implemented yet"), "{}", r.stderr);
    assert!(r.stderr.contains("fk-deepseek"), "{}", r.stderr);
    assert!(!r.stderr.contains("unknown"), "{}", r.stderr);
}

#[test]
fn test_builds_the_cargo_command() {
    assert_eq!(ok(&["test", "--arch", "llama", "--dry-run"]).stdout.trim(), "cargo test -p fk-llama");
    assert_eq!(
        ok(&["test", "--arch", "fk-llama,llama", "--dry-run", "--", "--nocapture"]).stdout.trim(),
        "cargo test -p fk-llama -- --nocapture"
    );
    assert_eq!(ok(&["test", "--dry-run", "--release"]).stdout.trim(), "cargo test --workspace --release");
}

#[test]
fn changed_follows_the_slot() {
    // Every other slot that holds a candidate in git (fk-mixtral's fused_moe) is pointed at an
    // empty folder too, so only the llama slot decides what changed.
    let empty = temp_dir("empty-slot");
    let r = run(cmd(&["test", "--changed", "--dry-run"]).env("FASTKERNELS_SLOT_LLAMA", &empty).env("FASTKERNELS_SLOT_MIXTRAL", &empty));
    assert_eq!(r.code, 0);
    assert!(r.stderr.contains("nothing to test"), "{}", r.stderr);
    let r = run(cmd(&["bench", "--changed"]).env("FASTKERNELS_SLOT_LLAMA", &empty).env("FASTKERNELS_SLOT_MIXTRAL", &empty));
    assert_eq!(r.code, 0);
    assert!(r.stderr.contains("nothing to bench"), "{}", r.stderr);

    let slot = temp_dir("slot");
    std::fs::write(slot.join("rms_norm.cu"), "// candidate\n").unwrap();
    let r = run(cmd(&["test", "--changed", "--dry-run"]).env("FASTKERNELS_SLOT_LLAMA", &slot).env("FASTKERNELS_SLOT_MIXTRAL", &empty));
    assert_eq!((r.code, r.stdout.trim()), (0, "cargo test -p fk-llama"));
    let r = run(cmd(&["list", "--implemented"]).env("FASTKERNELS_SLOT_LLAMA", &slot).env("FASTKERNELS_SLOT_MIXTRAL", &empty));
    assert!(r.stdout.contains("1 candidate: rms_norm"), "{}", r.stdout);
    let r = run(cmd(&["candidate", "list"]).env("FASTKERNELS_SLOT_LLAMA", &slot).env("FASTKERNELS_SLOT_MIXTRAL", &empty));
    assert!(r.stdout.lines().any(|l| l.starts_with("fk-llama") && l.contains("rms_norm")), "{}", r.stdout);
}

#[test]
fn candidate_new_rejects_unknown_op_and_arch() {
    let r = fails(&["candidate", "new", "--arch", "llama", "--op", "nosuch"]);
    assert!(r.stderr.contains("not a baseline op"), "{}", r.stderr);
    assert!(r.stderr.contains("rms_norm") && r.stderr.contains("silu_and_mul"), "{}", r.stderr);
    let r = fails(&["candidate", "new", "--arch", "deepseek", "--op", "rms_norm"]);
    assert!(r.stderr.contains("not implemented yet"), "{}", r.stderr);
}

#[test]
fn candidate_new_copies_the_baseline() {
    let tmp = temp_dir("new");
    let slot = tmp.join("kernels");
    let new = || run(cmd(&["candidate", "new", "--arch", "llama", "--op", "silu_and_mul"]).env("FASTKERNELS_SLOT_LLAMA", &slot));
    let r = new();
    assert_eq!(r.code, 0, "{}", r.stderr);
    let baseline = std::fs::read(workspace_root().join("baselines/kernels/silu_and_mul.cu")).unwrap();
    assert_eq!(std::fs::read(slot.join("silu_and_mul.cu")).unwrap(), baseline);
    let r = new();
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("already exists") && r.stderr.contains("--force"), "{}", r.stderr);
    std::fs::write(slot.join("silu_and_mul.cu"), "edited").unwrap();
    let r = run(cmd(&["candidate", "new", "--arch", "llama", "--op", "silu_and_mul", "--force"]).env("FASTKERNELS_SLOT_LLAMA", &slot));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(std::fs::read(slot.join("silu_and_mul.cu")).unwrap(), baseline);
}

#[test]
fn bench_unknown_arch_fails_cleanly() {
    let r = fails(&["bench", "--arch", "nosuch"]);
    assert!(r.stderr.contains("unknown architecture `nosuch`"), "{}", r.stderr);
    let r = fails(&["bench", "--arch", "glm"]);
    assert!(r.stderr.contains("not implemented yet"), "{}", r.stderr);
}

#[test]
fn bench_builds_the_cargo_command() {
    let r = ok(&["bench", "--arch", "llama", "--op", "rms_norm", "--op", "silu_and_mul", "--quick", "--dry-run"]);
    let line = r.stdout.trim();
    assert!(line.starts_with("cargo bench -p fk-llama --bench ops -- --json "), "{line}");
    assert!(line.ends_with("bench-fk-llama.json --op rms_norm --op silu_and_mul --quick"), "{line}");
}

#[test]
fn bad_manifest_path_is_a_clean_error() {
    let r = fails(&["test", "--manifest-path", "/nonexistent/Cargo.toml", "--arch", "llama"]);
    assert!(r.stderr.contains("cannot read the cargo workspace"), "{}", r.stderr);
}

const MEASURED: &str = r#"{"schema":"fastkernels.bench.v1","crate":"fk-llama","skipped":null,"device":{"name":"fake"},
 "copy_bandwidth_gbs":3000.0,"rows":[
 {"op":"rms_norm","level":"L1","shape":"[8192, 4096]","dtype":"bf16","bytes":134217728,"flops":0,"baseline_us":40.0,
  "candidate_us":20.0,"speedup":2.0,"gbs":6000.0,"tflops":null,"pct_roofline":90.0,"correct":true,"replaced":true},
 {"op":"silu_and_mul","level":"L1","shape":"[8192, 28672]","dtype":"bf16","bytes":1,"flops":1,"baseline_us":100.0,
  "candidate_us":200.0,"speedup":0.5,"gbs":1.0,"tflops":null,"pct_roofline":10.0,"correct":false,"replaced":true},
 {"op":"embedding","level":"L1","shape":"[8192]","dtype":"bf16","bytes":1,"flops":0,"baseline_us":5.0,
  "candidate_us":null,"speedup":null,"gbs":1.0,"tflops":null,"pct_roofline":50.0,"correct":true,"replaced":false}],
 "summary":{"geomean_speedup":1.0,"fast_p":{"0":0.5,"1":0.5,"1.2":0.5,"2":0.0},"replaced_ops":["rms_norm","silu_and_mul"]}}"#;

const SKIPPED: &str = r#"{"schema":"fastkernels.bench.v1","crate":"fk-llama","skipped":"no CUDA driver","device":null,
 "copy_bandwidth_gbs":null,"rows":[],"summary":{"geomean_speedup":null,"fast_p":null,"replaced_ops":[]}}"#;

/// Run `bench` with a fake cargo: `cargo bench …` writes `json` (if any) to the `--json` path
/// and exits with `exit`; anything else (`cargo metadata`) goes to the real cargo.
#[cfg(unix)]
fn fake_bench(json: Option<&str>, exit: i32, extra: &[&str]) -> (Run, Option<serde_json::Value>) {
    use std::os::unix::fs::PermissionsExt;
    let dir = temp_dir("fake-cargo");
    let fixture = dir.join("result.json");
    if let Some(j) = json {
        std::fs::write(&fixture, j).unwrap();
    }
    let script = dir.join("cargo");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\nif [ \"$1\" = bench ]; then\n  prev=; out=\n  for a in \"$@\"; do [ \"$prev\" = --json ] && out=$a; prev=$a; done\n  \
             [ -f '{f}' ] && cp '{f}' \"$out\"\n  exit {exit}\nfi\nexec \"$REAL_CARGO\" \"$@\"\n",
            f = fixture.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    let real = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let report = dir.join("out/report.json");
    let mut args = vec!["bench", "--arch", "llama", "--json", report.to_str().unwrap()];
    args.extend(extra);
    let r = run(cmd(&args).env("CARGO", &script).env("REAL_CARGO", real).env("CARGO_TARGET_DIR", dir.join("target")));
    let report = std::fs::read_to_string(&report).ok().map(|t| serde_json::from_str(&t).expect("the report is JSON"));
    (r, report)
}

#[cfg(unix)]
#[test]
fn bench_summarises_results() {
    let (r, report) = fake_bench(Some(MEASURED), 0, &[]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let summary = r.stdout.lines().find(|l| l.starts_with("fk-llama") && l.contains("1.000x")).unwrap_or_else(|| panic!("{}", r.stdout));
    // 3 rows, 2 with a candidate, geomean sqrt(2 * 0.5) = 1, fast_0 = fast_1 = fast_1.2 = 50%, fast_2 = 0%.
    assert_eq!(summary.split_whitespace().collect::<Vec<_>>(), ["fk-llama", "3", "2", "1.000x", "50%", "50%", "50%", "0%"]);
    assert!(r.stdout.contains("NO"), "an incorrect candidate row must be flagged:\n{}", r.stdout);
    let v = report.expect("--json wrote the report");
    assert_eq!(v["schema"], "fastkernels.bench-report.v1");
    assert_eq!(v["crates"][0]["crate"], "fk-llama");
    assert_eq!(v["summary"]["geomean_speedup"], 1.0);
    assert_eq!(v["summary"]["fast_p"]["2"], 0.0);
}

#[cfg(unix)]
#[test]
fn bench_without_gpu_says_skipped_and_succeeds() {
    let (r, report) = fake_bench(Some(SKIPPED), 0, &["--quick"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("fk-llama: SKIPPED, nothing was measured (no CUDA driver)"), "{}", r.stdout);
    assert!(r.stdout.contains("No results"), "{}", r.stdout);
    assert!(!r.stdout.contains("GEOMEAN"), "a skipped bench must not look like a result:\n{}", r.stdout);
    let v = report.expect("--json wrote the report");
    assert_eq!(v["summary"]["geomean_speedup"], serde_json::Value::Null);
    assert_eq!(v["summary"]["skipped_crates"][0]["reason"], "no CUDA driver");
}

#[cfg(unix)]
#[test]
fn bench_failures_fail() {
    let (r, _) = fake_bench(Some(MEASURED), 101, &[]);
    assert_eq!(r.code, 1);
    assert!(r.stdout.contains("fk-llama: FAILED: `cargo bench` exited with code 101"), "{}", r.stdout);
    let (r, _) = fake_bench(None, 0, &[]);
    assert_eq!(r.code, 1);
    assert!(r.stdout.contains("did not write"), "{}", r.stdout);
    let (r, _) = fake_bench(Some("{\"schema\":\"other\",\"crate\":\"fk-llama\"}"), 0, &[]);
    assert_eq!(r.code, 1);
    assert!(r.stdout.contains("not a valid fastkernels.bench.v1 file"), "{}", r.stdout);
}

#[test]
fn report_reads_files() {
    let dir = temp_dir("report");
    let f = dir.join("bench-fk-llama.json");
    std::fs::write(&f, MEASURED).unwrap();
    let r = ok(&["report", f.to_str().unwrap()]);
    assert!(r.stdout.lines().any(|l| l.starts_with("fk-llama") && l.contains("1.000x")), "{}", r.stdout);
    let r = fails(&["report", dir.join("missing.json").to_str().unwrap()]);
    assert!(r.stderr.contains("cannot read bench results"), "{}", r.stderr);
}

#[test]
fn generate_refuses_bad_folders_and_explains_a_missing_gpu() {
    let tmp = temp_dir("generate");
    let r = fails(&["generate", "--model", tmp.to_str().unwrap(), "--prompt-ids", "1,2"]);
    assert!(r.stderr.contains("config.json"), "{}", r.stderr);
    std::fs::write(tmp.join("config.json"), r#"{"model_type": "bert"}"#).unwrap();
    let r = fails(&["generate", "--model", tmp.to_str().unwrap(), "--prompt-ids", "1,2"]);
    assert!(r.stderr.contains("model_type `bert` is not supported"), "{}", r.stderr);
    let golden = workspace_root().join("tests/goldens/llama/tiny-gqa-llama3-f32");
    if !Path::new("/dev/nvidia0").exists() {
        let r = fails(&["generate", "--model", golden.to_str().unwrap(), "--prompt-ids", "1,2,3"]);
        assert!(r.stderr.contains("needs an NVIDIA GPU"), "{}", r.stderr);
    }
    let r = fails(&["generate", "--model", golden.to_str().unwrap(), "--prompt-ids", "1", "--dtype", "f8"]);
    assert!(r.stderr.contains("--dtype f8"), "{}", r.stderr);
}

#[test]
fn generate_mamba_checks_config_and_sampling_before_looking_for_a_gpu() {
    let golden = workspace_root().join("tests/goldens/mamba/tiny-tied-f32");
    let r = fails(&["generate", "--model", golden.to_str().unwrap(), "--prompt-ids", "1,2", "--top-p", "1.5"]);
    assert!(r.stderr.contains("top_p"), "{}", r.stderr);
    let tmp = temp_dir("generate-mamba");
    std::fs::write(tmp.join("config.json"), r#"{"model_type": "mamba", "hidden_size": 64, "num_hidden_layers": 2, "conv_kernel": 7}"#).unwrap();
    let r = fails(&["generate", "--model", tmp.to_str().unwrap(), "--prompt-ids", "1,2"]);
    assert!(r.stderr.contains("conv_kernel"), "{}", r.stderr);
    if !Path::new("/dev/nvidia0").exists() {
        let r = fails(&["generate", "--model", golden.to_str().unwrap(), "--prompt-ids", "1,2,3"]);
        assert!(r.stderr.contains("needs an NVIDIA GPU"), "{}", r.stderr);
    }
    let r = fails(&["generate", "--model", golden.to_str().unwrap(), "--prompt-ids", "1,301"]);
    assert!(r.stderr.contains("outside the vocabulary [0, 301)"), "{}", r.stderr);
    let r = fails(&["generate", "--model", golden.to_str().unwrap(), "--prompt-ids", "1", "--max-new-tokens", "0"]);
    assert!(r.stderr.contains("--max-new-tokens must be > 0"), "{}", r.stderr);
}

#[test]
fn eval_and_serve_run_mamba_and_check_their_arguments_before_looking_for_a_gpu() {
    let golden = workspace_root().join("tests/goldens/mamba/tiny-tied-f32");
    let dir = golden.to_str().unwrap();
    if !Path::new("/dev/nvidia0").exists() {
        for w in ["LLM.mixed", "LLM.long_context", "LLM.single_request", "LLM.fixed_batch_32"] {
            let r = fails(&["eval", "--model", dir, "--workload", w]);
            assert!(r.stderr.contains("eval needs an NVIDIA GPU"), "{w}: {}", r.stderr);
        }
        let r = fails(&["eval", "--arch", "mamba", "--random-weights", "--workload", "LLM.single_request"]);
        assert!(r.stderr.contains("eval needs an NVIDIA GPU"), "{}", r.stderr);
        let r = fails(&["serve", "--model", dir]);
        assert!(r.stderr.contains("serve needs an NVIDIA GPU"), "{}", r.stderr);
    }
    // --candidate applies to Mamba (fk-mamba has a candidate slot): an empty slot is named.
    let r = fails(&["eval", "--model", dir, "--candidate"]);
    assert!(r.stderr.contains("--candidate"), "{}", r.stderr);
    let r = fails(&["eval", "--arch", "mixtral", "--random-weights", "--candidate"]);
    assert!(r.stderr.contains("no candidate slot for `mixtral`"), "{}", r.stderr);
    let r = fails(&["eval", "--model", dir, "--max-model-len", "0"]);
    assert!(r.stderr.contains("--max-model-len must be > 0"), "{}", r.stderr);
    let r = fails(&["serve", "--model", dir, "--max-model-len", "300000"]);
    assert!(r.stderr.contains("the most a recurrent model is sized for"), "{}", r.stderr);
    let r = fails(&["eval", "--arch", "llama", "--model", dir]);
    assert!(r.stderr.contains("is a `mamba` model"), "{}", r.stderr);
    let tmp = temp_dir("mamba-eval");
    std::fs::write(tmp.join("config.json"), r#"{"model_type": "mamba", "hidden_size": 64, "num_hidden_layers": 2, "conv_kernel": 7}"#).unwrap();
    for cmd in ["eval", "serve"] {
        let r = fails(&[cmd, "--model", tmp.to_str().unwrap()]);
        assert!(r.stderr.contains("conv_kernel"), "{cmd}: {}", r.stderr);
    }
    std::fs::write(tmp.join("config.json"), r#"{"model_type": "rwkv"}"#).unwrap();
    for cmd in ["eval", "serve"] {
        let r = fails(&[cmd, "--model", tmp.to_str().unwrap()]);
        assert!(r.stderr.contains("model_type `rwkv` is not supported by this build (supported: llama, mixtral, mamba, mamba2)"), "{cmd}: {}", r.stderr);
    }
}

#[test]
fn generate_mamba2_checks_config_and_sampling_before_looking_for_a_gpu() {
    let golden = workspace_root().join("tests/goldens/mamba2/tiny-g2-chunk4-f32");
    let r = fails(&["generate", "--model", golden.to_str().unwrap(), "--prompt-ids", "1,2", "--top-p", "1.5"]);
    assert!(r.stderr.contains("top_p"), "{}", r.stderr);
    let tmp = temp_dir("generate-mamba2");
    std::fs::write(tmp.join("config.json"), r#"{"model_type": "mamba2", "hidden_size": 64, "num_heads": 8, "head_dim": 8, "num_hidden_layers": 2}"#).unwrap();
    let r = fails(&["generate", "--model", tmp.to_str().unwrap(), "--prompt-ids", "1,2"]);
    assert!(r.stderr.contains("head_dim"), "{}", r.stderr);
    // The shipped Mamba-Codestral config (Python's bare `Infinity` in time_step_limit) is read.
    let codestral = workspace_root().join("architectures/mamba2/configs/Mamba-Codestral-7B-v0.1");
    if !Path::new("/dev/nvidia0").exists() {
        let r = fails(&["generate", "--model", codestral.to_str().unwrap(), "--random-weights", "--prompt-ids", "1,2,3"]);
        assert!(r.stderr.contains("needs an NVIDIA GPU"), "{}", r.stderr);
        // eval and serve run Mamba-2 too (the shipped config, or a folder).
        let r = fails(&["eval", "--arch", "mamba2", "--random-weights", "--workload", "LLM.single_request"]);
        assert!(r.stderr.contains("eval needs an NVIDIA GPU"), "{}", r.stderr);
        let r = fails(&["serve", "--model", golden.to_str().unwrap()]);
        assert!(r.stderr.contains("serve needs an NVIDIA GPU"), "{}", r.stderr);
    }
    for cmd in ["eval", "serve"] {
        let r = fails(&[cmd, "--model", tmp.to_str().unwrap()]);
        assert!(r.stderr.contains("head_dim"), "{cmd}: {}", r.stderr);
    }
}

#[test]
fn eval_checks_its_arguments_before_looking_for_a_gpu() {
    let r = fails(&["eval", "--arch", "llama", "--random-weights", "--workload", "LLM.nope"]);
    assert!(r.stderr.contains("unknown workload `LLM.nope`") && r.stderr.contains("LLM.fixed_batch_32"), "{}", r.stderr);
    let r = fails(&["eval", "--arch", "llama", "--workload", "LLM.mixed"]);
    assert!(r.stderr.contains("needs --random-weights"), "{}", r.stderr);
    let r = fails(&["eval", "--arch", "rwkv7", "--random-weights"]);
    assert!(r.stderr.contains("model_type `rwkv7` is not supported"), "{}", r.stderr);
    let r = fails(&["eval", "--workload", "LLM.mixed"]);
    assert!(r.stderr.contains("--model DIR or --arch"), "{}", r.stderr);
    let golden = workspace_root().join("tests/goldens/llama/tiny-gqa-llama3-f32");
    let r = fails(&["eval", "--arch", "bert", "--model", golden.to_str().unwrap()]);
    assert!(r.stderr.contains("is a `llama` model"), "{}", r.stderr);
    if !Path::new("/dev/nvidia0").exists() {
        let r = fails(&["eval", "--arch", "llama", "--random-weights", "--workload", "LLM.single_request"]);
        assert!(r.stderr.contains("eval needs an NVIDIA GPU"), "{}", r.stderr);
    }
}

#[test]
fn encoder_eval_checks_its_arguments_before_looking_for_a_gpu() {
    let r = fails(&["eval", "--arch", "colbertv2", "--workload", "Embed.nope"]);
    assert!(r.stderr.contains("unknown workload `Embed.nope`") && r.stderr.contains("Embed.batch1, Embed.throughput"), "{}", r.stderr);
    let r = fails(&["eval", "--arch", "bge-m3"]);
    assert!(r.stderr.contains("needs --random-weights"), "{}", r.stderr);
    let r = fails(&["eval", "--arch", "dinov3", "--random-weights", "--max-num-seqs", "0"]);
    assert!(r.stderr.contains("--max-num-seqs must be positive"), "{}", r.stderr);
    let golden = |a: &str, c: &str| workspace_root().join("tests/goldens").join(a).join(c);
    let dino = golden("dinov3", "hd64-gated-f32");
    let r = fails(&["eval", "--arch", "colbertv2", "--model", dino.to_str().unwrap()]);
    assert!(r.stderr.contains("is a `dinov3_vit` model"), "{}", r.stderr);
    let r = fails(&["eval", "--model", dino.to_str().unwrap(), "--candidate"]);
    assert!(r.stderr.contains("--candidate"), "{}", r.stderr);
    if !Path::new("/dev/nvidia0").exists() {
        for (a, c) in [("colbertv2", "hd64-padded-f32"), ("bge_m3", "hd64-padded-f32"), ("siglip2", "hd64-naflex-f32"), ("dinov3", "hd64-gated-f32")] {
            let r = fails(&["eval", "--model", golden(a, c).to_str().unwrap(), "--workload", "Embed.batch1"]);
            assert!(r.stderr.contains("eval needs an NVIDIA GPU"), "{a}: {}", r.stderr);
            let r = fails(&["eval", "--arch", a, "--random-weights", "--workload", "Embed.throughput"]);
            assert!(r.stderr.contains("eval needs an NVIDIA GPU"), "{a}: {}", r.stderr);
        }
    }
}

#[test]
fn embed_names_bad_input_and_a_missing_gpu_without_panicking() {
    let golden = |a: &str, c: &str| workspace_root().join("tests/goldens").join(a).join(c).to_str().unwrap().to_string();
    let (colbert, bge, dino) = (golden("colbertv2", "hd64-padded-f32"), golden("bge_m3", "hd64-padded-f32"), golden("dinov3", "hd64-gated-f32"));
    let tmp = temp_dir("embed");
    let out = tmp.join("out.safetensors");
    let out = out.to_str().unwrap();
    let r = fails(&["embed", "--model", &colbert, "--out", out]);
    assert!(r.stderr.contains("give exactly one input"), "{}", r.stderr);
    // The golden ColBERT has max_position_embeddings 40 and vocab_size 131.
    let long = vec!["5"; 41].join(",");
    let r = fails(&["embed", "--model", &colbert, "--input-ids", &long, "--out", out]);
    assert!(r.stderr.contains("sequence length 41 exceeds"), "{}", r.stderr);
    let r = fails(&["embed", "--model", &colbert, "--input-ids", "5,131", "--out", out]);
    assert!(r.stderr.contains("has id 131, vocab_size is 131"), "{}", r.stderr);
    let r = fails(&["embed", "--model", &colbert, "--input-ids", "5,x", "--out", out]);
    assert!(r.stderr.contains("`x` is not a non-negative integer"), "{}", r.stderr);
    let r = fails(&["embed", "--model", &colbert, "--input-ids", "5,6", "--attention-mask", "1", "--out", out]);
    assert!(r.stderr.contains("--attention-mask 1: must be 2 zeros/ones"), "{}", r.stderr);
    let r = fails(&["embed", "--model", &bge, "--text", "hello", "--out", out]);
    assert!(r.stderr.contains("tokenizer.json"), "{}", r.stderr);
    let r = fails(&["embed", "--model", &dino, "--input-ids", "5,6", "--out", out]);
    assert!(r.stderr.contains("vision: give --pixel-values"), "{}", r.stderr);
    // Images whose size is not a multiple of the patch (4 in the golden DINOv3).
    let px = tmp.join("px.safetensors");
    let pixels: Vec<u8> = (0..3 * 6 * 8).flat_map(|_| 0.5f32.to_le_bytes()).collect();
    write_pixels(&px, &[1, 3, 6, 8], &pixels);
    let r = fails(&["embed", "--model", &dino, "--pixel-values", px.to_str().unwrap(), "--out", out]);
    assert!(r.stderr.contains("6×8 is not a positive multiple of patch_size 4"), "{}", r.stderr);
    let r = fails(&["embed", "--model", &colbert, "--pixel-values", px.to_str().unwrap(), "--out", out]);
    assert!(r.stderr.contains("text: give --input-ids or --text"), "{}", r.stderr);
    if !Path::new("/dev/nvidia0").exists() {
        let r = fails(&["embed", "--model", &colbert, "--input-ids", "5,6,7", "--input-ids", "8", "--out", out]);
        assert!(r.stderr.contains("embed needs an NVIDIA GPU"), "{}", r.stderr);
        let good: Vec<u8> = (0..3 * 8 * 8).flat_map(|_| 0.5f32.to_le_bytes()).collect();
        write_pixels(&px, &[1, 3, 8, 8], &good);
        let r = fails(&["embed", "--model", &dino, "--pixel-values", px.to_str().unwrap(), "--out", out]);
        assert!(r.stderr.contains("embed needs an NVIDIA GPU"), "{}", r.stderr);
    }
}

/// A safetensors file with one f32 tensor `pixel_values`.
fn write_pixels(path: &Path, shape: &[usize], bytes: &[u8]) {
    fk_runtime::safetensors::write_safetensors(path, &[("pixel_values", fk_runtime::DType::F32, shape, bytes)]).unwrap();
}
