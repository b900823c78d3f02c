//! End to end (L4): Llama-3.1-8B-shaped random bf16 weights, one request of a 128-token
//! prompt and 128 generated tokens (EOS ignored), and a fixed batch of 32 such requests.
//! Reports TTFT, decode tok/s, the bandwidth roofline of a decode step (weights + KV read
//! once at the measured copy bandwidth) and, with `--peer`, the ratio to HF transformers
//! `generate` measured on the same GPU by scripts/peer_hf_generate.py.
//! `cargo bench -p fk-llama --bench generate -- [--json FILE] [--peer FILE]`

use fk_baselines::harness::bench::copy_bandwidth_gbs;
use fk_baselines::{Context, OpTable};
use fk_llama::{LlamaConfig, LlamaForCausalLM};
use fk_llm::{GenerationConfig, Generator, GeneratorOptions, PagedKvCache, SamplingParams};
use fk_runtime::{DType, Device};
use std::path::PathBuf;

const PROMPT: usize = 128;
const NEW: usize = 128;

#[derive(serde::Serialize, Default)]
struct Run {
    batch: usize,
    ttft_ms: f64,
    decode_tok_per_s_per_seq: f64,
    output_tok_per_s: f64,
    /// Decode-step floor: the streamed weights (all but the embedding table) + the mean KV
    /// context, read once at the measured copy rate.
    roofline_tok_per_s_per_seq: f64,
    pct_roofline: f64,
    hf_tok_per_s_per_seq: Option<f64>,
    hf_ttft_ms: Option<f64>,
    speedup_vs_hf: Option<f64>,
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

fn main() {
    let argv: Vec<String> = std::env::args().collect();
    let flag = |name: &str| argv.iter().position(|a| a == name).and_then(|i| argv.get(i + 1)).map(PathBuf::from);
    let smoke = !argv.iter().any(|a| a == "--bench");
    let dev = match Device::new(0) {
        Ok(d) => d,
        Err(e) => {
            println!("fk-llama generate: SKIPPED: {e}");
            return;
        }
    };
    if let Err(e) = run(&dev, smoke, flag("--json"), flag("--peer")) {
        eprintln!("generate bench failed: {e}");
        std::process::exit(1);
    }
}

fn run(dev: &Device, smoke: bool, json: Option<PathBuf>, peer: Option<PathBuf>) -> fk_runtime::Result<()> {
    let cfg = LlamaConfig::llama_3_1_8b();
    let copy = copy_bandwidth_gbs(dev)?;
    let model = LlamaForCausalLM::random(dev, &cfg, DType::BF16, 1)?;
    let ctx = Context::new(dev, OpTable::baseline())?;
    let opts = GeneratorOptions { max_batch: 32, max_model_len: PROMPT + NEW, max_prefill_tokens: 32 * PROMPT, block_size: 16, cuda_graphs: true };
    let mut gen = Generator::new(&model, &ctx, opts)?;
    let peer: Option<serde_json::Value> = peer.and_then(|p| std::fs::read_to_string(p).ok()).and_then(|s| serde_json::from_str(&s).ok());
    let gcfg = GenerationConfig { max_new_tokens: NEW, sampling: SamplingParams::greedy(), eos_token_ids: cfg.eos_token_ids.clone(), ignore_eos: true };
    // A decode step streams every weight except the embedding table (one row per token).
    let weights = model.streamed_weight_bytes() as f64;
    let kv_token = PagedKvCache::bytes_per_token(cfg.num_hidden_layers, cfg.num_key_value_heads, cfg.head_dim, DType::BF16) as f64;
    println!(
        "fk-llama generate on {}: Llama-3.1-8B shapes, bf16 random weights ({:.2} GB, {:.2} GB streamed per step), copy bandwidth {copy:.0} GB/s, prompt {PROMPT}, {NEW} new tokens",
        dev.info().name,
        model.weight_bytes() as f64 / 1e9,
        weights / 1e9
    );
    let mut runs = Vec::new();
    for batch in [1usize, 32] {
        let prompts: Vec<Vec<u32>> = (0..batch).map(|b| (0..PROMPT).map(|j| ((b * 7919 + j * 104_729 + 1) % cfg.vocab_size) as u32).collect()).collect();
        gen.generate(&prompts, &gcfg)?; // warm-up: loads kernels, plans, captures the graphs
        let reps = if smoke { 1 } else { 3 };
        let mut ttft = Vec::new();
        let mut tps = Vec::new();
        let mut total = Vec::new();
        for _ in 0..reps {
            let g = gen.generate(&prompts, &gcfg)?;
            if g.tokens.iter().any(|t| t.len() != NEW) {
                return Err(fk_runtime::Error::bad_input("generate bench", "a sequence stopped early with ignore_eos"));
            }
            ttft.push(g.timing.ttft_s * 1e3);
            tps.push(g.timing.decode_tok_per_s);
            total.push((batch * NEW) as f64 / g.timing.total_s);
        }
        let step_bytes = weights + batch as f64 * kv_token * (PROMPT as f64 + NEW as f64 / 2.0);
        let roof = copy * 1e9 / step_bytes;
        let mut r = Run {
            batch,
            ttft_ms: median(ttft),
            decode_tok_per_s_per_seq: median(tps),
            output_tok_per_s: median(total),
            roofline_tok_per_s_per_seq: roof,
            ..Run::default()
        };
        r.pct_roofline = 100.0 * r.decode_tok_per_s_per_seq / roof;
        if let Some(hf) = peer.as_ref().and_then(|p| p["runs"].as_array()).and_then(|a| a.iter().find(|x| x["batch"].as_u64() == Some(batch as u64))) {
            r.hf_tok_per_s_per_seq = hf["decode_tok_per_s_per_seq"].as_f64();
            r.hf_ttft_ms = hf["ttft_ms"].as_f64();
            r.speedup_vs_hf = r.hf_tok_per_s_per_seq.map(|h| r.decode_tok_per_s_per_seq / h);
        }
        println!(
            "batch {:>2}: TTFT {:>7.2} ms, decode {:>6.1} tok/s/seq ({:>5.1}% of the {:.1} tok/s roofline), output {:>7.1} tok/s{}",
            batch,
            r.ttft_ms,
            r.decode_tok_per_s_per_seq,
            r.pct_roofline,
            roof,
            r.output_tok_per_s,
            match (r.hf_tok_per_s_per_seq, r.speedup_vs_hf) {
                (Some(h), Some(s)) => format!("; HF transformers {h:.1} tok/s/seq → {s:.2}x"),
                _ => String::new(),
            }
        );
        runs.push(r);
    }
    if let Some(path) = json {
        let v = serde_json::json!({
            "schema": "fastkernels.generate.v1", "device": dev.info(), "git": option_env!("FASTKERNELS_GIT_SHA").map(String::from).or_else(|| std::env::var("FASTKERNELS_GIT_SHA").ok()),
            "model": "Llama-3.1-8B-Instruct config, random bf16 weights", "weight_bytes": model.weight_bytes(), "streamed_weight_bytes_per_step": weights, "copy_bandwidth_gbs": copy,
            "prompt_tokens": PROMPT, "new_tokens": NEW, "cuda_graphs": true, "runs": runs,
        });
        std::fs::write(&path, serde_json::to_string_pretty(&v).unwrap_or_default()).map_err(|e| fk_runtime::Error::io(format!("write {}", path.display()), e))?;
    }
    Ok(())
}
