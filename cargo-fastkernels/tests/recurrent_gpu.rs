//! The CLI's engine commands on a recurrent model (Mamba, the golden folders of
//! tests/goldens/mamba), run as a user runs them:
//!
//! - `eval` of a tiny random Mamba on each LLM workload completes, with sane metrics in the
//!   summary JSON (the same fields as for llama), and long_context runs uncut (a tiny random
//!   Mamba-2 on two of them);
//! - `generate` gives transformers' greedy continuation and prompt logits (Mamba and Mamba-2,
//!   the golden folders of tests/goldens/mamba2 too);
//! - `serve` answers /v1/completions with transformers' greedy tokens, and requests sent all
//!   at once (continuous batching) get exactly the tokens each gets alone; SIGTERM stops it.
//!
//! Ignored without a GPU. In a GPU bundle the CLI is the `cargo-fastkernels` next to this
//! binary (or `$FASTKERNELS_CLI`).

use fk_mamba::goldens::{load_all, Golden};
use fk_runtime::gpu_test::{gpu_trial, run};
use fk_runtime::rng::{fresh_seed, Rng};
use fk_runtime::safetensors::Checkpoint;
use serde_json::{json, Value};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

fn cli() -> PathBuf {
    if let Some(p) = std::env::var_os("FASTKERNELS_CLI") {
        return p.into();
    }
    let sibling = std::env::current_exe().ok().and_then(|e| e.parent().map(|d| d.join("cargo-fastkernels")));
    sibling.filter(|p| p.is_file()).unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_cargo-fastkernels")))
}

fn s<E: std::fmt::Display>(e: E) -> String {
    e.to_string()
}

fn temp(tag: &str) -> PathBuf {
    std::env::temp_dir().join(format!("fk-recurrent-gpu-{}-{tag}", std::process::id()))
}

/// Run the CLI; its stdout on success, its stderr in the error otherwise.
fn cli_ok(args: &[&str]) -> Result<String, String> {
    let o = Command::new(cli()).args(args).output().map_err(|e| format!("run {}: {e}", cli().display()))?;
    if !o.status.success() {
        return Err(format!("{args:?} failed ({}):\n{}", o.status, String::from_utf8_lossy(&o.stderr)));
    }
    Ok(String::from_utf8_lossy(&o.stdout).into_owned())
}

fn golden(name: &str) -> Result<Golden, String> {
    load_all().map_err(s)?.into_iter().find(|g| g.name == name).ok_or_else(|| format!("no golden `{name}`"))
}

fn golden_mamba2(name: &str) -> Result<Golden, String> {
    fk_mamba2::goldens::load_all().map_err(s)?.into_iter().find(|g| g.name == name).ok_or_else(|| format!("no mamba2 golden `{name}`"))
}

fn num(v: &Value, path: &str) -> Result<f64, String> {
    let mut cur = v;
    for k in path.split('.') {
        cur = &cur[k];
    }
    cur.as_f64().ok_or_else(|| format!("`{path}` is not a number: {cur}"))
}

/// A finite figure above zero (NaN is not).
fn positive(x: f64) -> bool {
    x.is_finite() && x > 0.0
}

/// `eval` of a tiny random Mamba (the golden folder's config) on `workload`.
fn eval_completes(workload: &'static str) -> Result<(), String> {
    eval_completes_on(&golden("tiny-tied-bf16")?, "mamba", workload)
}

/// `eval` of a tiny random model of `arch` (the golden folder `g`'s config, bf16) on `workload`.
fn eval_completes_on(g: &Golden, arch: &str, workload: &'static str) -> Result<(), String> {
    let out = temp(&format!("eval-{arch}-{workload}.json"));
    let dir = g.dir.to_str().ok_or("golden path is not UTF-8")?;
    cli_ok(&["eval", "--model", dir, "--random-weights", "--workload", workload, "--json", out.to_str().unwrap()])?;
    let text = std::fs::read_to_string(&out).map_err(|e| format!("read {}: {e}", out.display()))?;
    let _ = std::fs::remove_file(&out);
    let v: Value = serde_json::from_str(&text).map_err(s)?;
    if v["schema"] != "fastkernels.eval.v1" || v["arch"] != arch || v["cache"]["kind"] != "recurrent" || v["dtype"] != "bf16" {
        return Err(format!("header: {}", json!({"schema": v["schema"], "arch": v["arch"], "cache": v["cache"], "dtype": v["dtype"]})));
    }
    if num(&v, "cache.bytes_per_sequence")? <= 0.0 || num(&v, "streamed_weight_bytes")? <= 0.0 {
        return Err(format!("state/weight bytes: {}", v["cache"]));
    }
    let runs = v["runs"].as_array().ok_or("no runs")?;
    if runs.len() != 1 || runs[0]["workload"] != workload || runs[0]["kernels"] != "baseline" {
        return Err(format!("runs: {}", v["runs"]));
    }
    let r = &runs[0];
    let sum = &r["report"]["summary"];
    let want_requests = match workload {
        "LLM.mixed" => 1000.0,
        "LLM.long_context" => 64.0,
        "LLM.single_request" => 5.0, // 5 timed iterations of 1
        _ => 160.0,                  // 5 timed iterations of 32
    };
    if num(sum, "requests")? != want_requests {
        return Err(format!("{} requests reported, expected {want_requests}: {sum}", sum["requests"]));
    }
    for k in ["output_tok_per_s", "total_tok_per_s", "ttft_s.p50", "ttft_s.p99", "tpot_s.p50", "tpot_s.p99"] {
        let x = num(sum, k)?;
        if !positive(x) {
            return Err(format!("summary.{k} = {x}"));
        }
    }
    if num(sum, "ttft_s.p50")? > num(sum, "ttft_s.p99")? || num(sum, "tpot_s.p50")? > num(sum, "tpot_s.p99")? {
        return Err(format!("percentiles out of order: {sum}"));
    }
    if !positive(num(r, "decode_gbs")?) || num(&r["report"]["engine"], "decode_steps")? < 1.0 {
        return Err(format!("decode figures: {} {}", r["decode_gbs"], r["report"]["engine"]));
    }
    let latency = workload.starts_with("LLM.single") || workload.starts_with("LLM.fixed");
    if latency && !positive(num(&r["report"]["latency"], "ms_per_token")?) {
        return Err(format!("latency: {}", r["report"]["latency"]));
    }
    let notes = r["report"]["notes"].to_string();
    if !notes.contains("recurrent") || notes.contains("cut") || notes.contains("dropped") {
        return Err(format!("a recurrent model runs every workload uncut and says what cap it used: {notes}"));
    }
    if num(&r["config"], "max_model_len")? > num(&v, "max_model_len")? {
        return Err(format!("the runner was sized above the cap: {} > {}", r["config"], v["max_model_len"]));
    }
    Ok(())
}

/// `eval --model DIR` with the folder's weights.
fn eval_with_weights() -> Result<(), String> {
    let g = golden("tiny-tied-f32")?;
    let stdout = cli_ok(&["eval", "--model", g.dir.to_str().unwrap(), "--workload", "LLM.single_request"])?;
    if !stdout.contains("LLM.single_request") || !stdout.contains("baseline") {
        return Err(format!("no summary row:\n{stdout}"));
    }
    Ok(())
}

fn rel_l2(a: &[f32], b: &[f32]) -> f64 {
    let num: f64 = a.iter().zip(b).map(|(&x, &y)| (x as f64 - y as f64).powi(2)).sum();
    let den: f64 = b.iter().map(|&y| (y as f64).powi(2)).sum();
    (num / den.max(1e-30)).sqrt()
}

/// `generate --json --logits-out` on a golden of `model_type`: transformers' prompt logits and,
/// in fp32, its greedy tokens.
fn generate_matches_transformers(g: &Golden, model_type: &str) -> Result<(), String> {
    let logits_file = temp(&format!("logits-{}.safetensors", g.name));
    let ids = g.input_ids.iter().map(|t| t.to_string()).collect::<Vec<_>>().join(",");
    let n = g.greedy.len().to_string();
    let out = cli_ok(&[
        "generate",
        "--model",
        g.dir.to_str().unwrap(),
        "--prompt-ids",
        &ids,
        "--max-new-tokens",
        &n,
        "--ignore-eos",
        "--logits-out",
        logits_file.to_str().unwrap(),
        "--json",
    ])?;
    let v: Value = serde_json::from_str(&out).map_err(|e| format!("{e}: {out}"))?;
    let ours = Checkpoint::open(&logits_file).map_err(s)?.host_f32("logits").map_err(s)?;
    let _ = std::fs::remove_file(&logits_file);
    let want = g.outputs.host_f32("logits").map_err(s)?;
    let bar = g.tolerance().max_rel_l2;
    let rel = rel_l2(&ours, &want);
    if ours.len() != want.len() || rel > bar {
        return Err(format!("{}: prompt logits rel. L2 {rel:.2e} (bar {bar:e}), {} vs {} values", g.name, ours.len(), want.len()));
    }
    let got: Vec<u32> = v["output_ids"].as_array().ok_or("no output_ids")?.iter().filter_map(|t| t.as_u64().map(|t| t as u32)).collect();
    if !g.is_bf16() && got != g.greedy {
        return Err(format!("{}: greedy differs from transformers:\n ours {got:?}\n  hf  {:?}", g.name, g.greedy));
    }
    if v["model_type"] != model_type || v["cuda_graphs"] != false || !positive(num(&v, "timing.ttft_s")?) || !positive(num(&v, "timing.decode_tok_per_s")?) {
        return Err(format!("fields: {v}"));
    }
    Ok(())
}

/// A `serve` process, stopped with SIGTERM when dropped (killed if it does not stop).
struct Server {
    child: Child,
    addr: String,
    agent: ureq::Agent,
}

impl Server {
    fn start(dir: &Path) -> Result<Server, String> {
        let mut child = Command::new(cli())
            .args(["serve", "--model", dir.to_str().unwrap(), "--port", "0", "--max-num-seqs", "8", "--max-batched-tokens", "64", "--max-model-len", "256"])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("run {}: {e}", cli().display()))?;
        let stderr = child.stderr.take().ok_or("no stderr")?;
        let (tx, rx) = mpsc::channel::<String>();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                eprintln!("  serve: {line}");
                let _ = tx.send(line);
            }
        });
        let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).timeout_global(Some(Duration::from_secs(120))).build().into();
        let mut server = Server { child, addr: String::new(), agent };
        loop {
            let line = rx.recv_timeout(Duration::from_secs(300)).map_err(|_| "serve never said where it listens".to_string())?;
            if let Some(rest) = line.split("on http://").nth(1) {
                server.addr = rest.split_whitespace().next().unwrap_or_default().to_string();
                return Ok(server);
            }
        }
    }

    fn get(&self, path: &str) -> Result<(u16, Value), String> {
        let mut r = self.agent.get(format!("http://{}{path}", self.addr)).call().map_err(s)?;
        let text = r.body_mut().read_to_string().map_err(s)?;
        Ok((r.status().as_u16(), serde_json::from_str(&text).map_err(|e| format!("{e}: {text}"))?))
    }

    /// Greedy token ids of a completion of `prompt`.
    fn complete(&self, prompt: &[u32], max_tokens: usize) -> Result<Vec<u32>, String> {
        let body = json!({"prompt": prompt, "max_tokens": max_tokens, "temperature": 0, "ignore_eos": true});
        let mut r = self.agent.post(format!("http://{}/v1/completions", self.addr)).header("content-type", "application/json").send(body.to_string()).map_err(s)?;
        let text = r.body_mut().read_to_string().map_err(s)?;
        if r.status().as_u16() != 200 {
            return Err(format!("completion: {} {text}", r.status()));
        }
        let v: Value = serde_json::from_str(&text).map_err(|e| format!("{e}: {text}"))?;
        let ids = v["choices"][0]["token_ids"].as_array().ok_or_else(|| format!("no token_ids: {v}"))?;
        Ok(ids.iter().filter_map(|t| t.as_u64().map(|t| t as u32)).collect())
    }

    /// SIGTERM, then the exit status (after a grace of 60 s, killed).
    fn stop(mut self) -> Result<(), String> {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        for _ in 0..600 {
            if let Some(st) = self.child.try_wait().map_err(s)? {
                return if st.success() { Ok(()) } else { Err(format!("serve exited with {st} on SIGTERM")) };
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Err("serve did not stop within 60 s of SIGTERM".into())
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `serve` on the fp32 golden: transformers' greedy tokens over HTTP, then 24 random requests
/// sent at once (continuous batching, chunked prefill: the step budget is 64 tokens and 8
/// sequences) must each get exactly the tokens it gets alone.
fn serve_answers_and_batches_like_alone() -> Result<(), String> {
    let g = golden("tiny-tied-f32")?;
    let server = Server::start(&g.dir)?;
    let (status, models) = server.get("/v1/models")?;
    if status != 200 || models["data"][0]["id"].as_str().is_none() {
        return Err(format!("/v1/models: {status} {models}"));
    }
    let got = server.complete(&g.input_ids, g.greedy.len())?;
    if got != g.greedy {
        return Err(format!("served greedy differs from transformers:\n ours {got:?}\n  hf  {:?}", g.greedy));
    }
    let seed = fresh_seed();
    let mut rng = Rng::new(seed);
    let vocab = fk_mamba::MambaConfig::from_file(&g.dir).map_err(s)?.vocab_size as i64;
    let reqs: Vec<(Vec<u32>, usize)> =
        (0..24).map(|_| ((0..rng.range(1, 150)).map(|_| rng.range(0, vocab) as u32).collect(), rng.range(1, 60) as usize)).collect();
    let alone: Vec<Vec<u32>> = reqs.iter().map(|(p, n)| server.complete(p, *n)).collect::<Result<_, _>>()?;
    let together: Vec<Result<Vec<u32>, String>> = std::thread::scope(|sc| {
        let handles: Vec<_> = reqs.iter().map(|(p, n)| sc.spawn(|| server.complete(p, *n))).collect();
        handles.into_iter().map(|h| h.join().unwrap_or_else(|_| Err("a client thread panicked".into()))).collect()
    });
    for (i, (a, t)) in alone.iter().zip(together).enumerate() {
        let t = t?;
        if *a != t {
            return Err(format!("seed {seed}: request {i} (prompt {} tokens) batched differs from alone:\n batched {t:?}\n   alone {a:?}", reqs[i].0.len()));
        }
    }
    server.stop()
}

fn main() {
    let mut trials = Vec::new();
    for w in ["LLM.single_request", "LLM.fixed_batch_32", "LLM.mixed", "LLM.long_context"] {
        trials.push(gpu_trial(format!("eval_random_mamba::{w}"), move |_| eval_completes(w)));
    }
    trials.push(gpu_trial("eval_mamba_folder_weights", |_| eval_with_weights()));
    for w in ["LLM.single_request", "LLM.fixed_batch_32"] {
        trials.push(gpu_trial(format!("eval_random_mamba2::{w}"), move |_| eval_completes_on(&golden_mamba2("tiny-g2-chunk4-bf16")?, "mamba2", w)));
    }
    for name in ["tiny-tied-f32", "tiny-untied-bias-f32", "tiny-tied-bf16"] {
        trials.push(gpu_trial(format!("generate_matches_transformers::{name}"), move |_| generate_matches_transformers(&golden(name)?, "mamba")));
    }
    for name in ["tiny-g2-chunk4-f32", "tiny-g1-tied-bias-f32", "tiny-g2-chunk4-bf16"] {
        trials.push(gpu_trial(format!("generate_matches_transformers::mamba2::{name}"), move |_| generate_matches_transformers(&golden_mamba2(name)?, "mamba2")));
    }
    trials.push(gpu_trial("serve_answers_and_batches_like_alone", |_| serve_answers_and_batches_like_alone()));
    run(trials)
}
