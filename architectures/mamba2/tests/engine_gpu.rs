//! fk-mamba2 under the family's engine (`Mamba2Runner`, the family's `RecurrentRunner`): a
//! request alone decodes transformers' greedy continuation; requests arriving while others run,
//! with chunked prefill (chunks that end inside an SSD chunk) and a queue, give exactly the
//! tokens each gives alone (greedy and seeded sampling); every state slot is returned at the
//! end; decode steps replayed from CUDA graphs (the runner's default) give the tokens of eager
//! decode. GPU trials are ignored without a GPU.

use fk_baselines::Context;
use fk_llm::engine::Engine;
use fk_llm::{RequestParams, SamplingParams};
use fk_mamba2::goldens::{load_all, Golden};
use fk_mamba2::kernels::baseline_table;
use fk_mamba2::{Mamba2ForCausalLM, Mamba2Runner, Mamba2RunnerConfig};
use fk_runtime::gpu_test::{gpu_trial, run};
use fk_runtime::rng::{fresh_seed, Rng};
use fk_runtime::Device;
use std::sync::Arc;

fn s<E: std::fmt::Display>(e: E) -> String {
    e.to_string()
}

const MAX_LEN: usize = 96;

/// Four sequences, 23 tokens a step: prompts are split into chunks of odd lengths.
const TIGHT: Mamba2RunnerConfig = Mamba2RunnerConfig { max_num_seqs: 4, max_model_len: MAX_LEN, max_batched_tokens: 23 };
const ALONE: Mamba2RunnerConfig = Mamba2RunnerConfig { max_num_seqs: 1, max_model_len: MAX_LEN, max_batched_tokens: 256 };

/// Runs `reqs` (three new arrivals per step) and returns each request's tokens.
fn run_engine(model: &Mamba2ForCausalLM, ctx: &Context, cfg: Mamba2RunnerConfig, reqs: &[(Vec<u32>, RequestParams)]) -> Result<Vec<Vec<u32>>, String> {
    run_engine_graphs(model, ctx, cfg, reqs, true)
}

fn run_engine_graphs(model: &Mamba2ForCausalLM, ctx: &Context, cfg: Mamba2RunnerConfig, reqs: &[(Vec<u32>, RequestParams)], graphs: bool) -> Result<Vec<Vec<u32>>, String> {
    let mut runner = Mamba2Runner::new(model, ctx, cfg).map_err(s)?;
    runner.set_cuda_graphs(graphs);
    let mut engine = Engine::new(runner).map_err(s)?;
    let mut out = vec![Vec::new(); reqs.len()];
    let mut next = 0;
    while next < reqs.len() || engine.has_unfinished() {
        for _ in 0..3 {
            if next < reqs.len() {
                let id = engine.add_request(reqs[next].0.clone(), reqs[next].1.clone()).map_err(s)?;
                if id as usize != next {
                    return Err(format!("request {next} got id {id}"));
                }
                next += 1;
            }
        }
        for o in engine.step().map_err(s)? {
            out[o.id as usize].push(o.token);
        }
    }
    if graphs != (engine.runner().graphs_captured() > 0) {
        return Err(format!("graphs {graphs} but {} decode graphs captured", engine.runner().graphs_captured()));
    }
    if engine.runner().live_sequences() != 0 {
        return Err(format!("{} state slots still held after every request finished", engine.runner().live_sequences()));
    }
    Ok(out)
}

fn setup(dev: &Device, g: &Golden) -> Result<(Mamba2ForCausalLM, Context), String> {
    Ok((Mamba2ForCausalLM::from_pretrained(dev, &g.dir, None).map_err(s)?, Context::new(dev, baseline_table()).map_err(s)?))
}

fn greedy_matches_transformers(dev: &Device, g: &Golden) -> Result<(), String> {
    let (model, ctx) = setup(dev, g)?;
    let params = RequestParams { max_new_tokens: g.greedy.len(), sampling: SamplingParams::greedy(), eos_token_ids: vec![], ignore_eos: true };
    let got = run_engine(&model, &ctx, ALONE, &[(g.input_ids.clone(), params)])?.remove(0);
    if got != g.greedy {
        return Err(format!("{}: engine greedy differs from transformers:\n ours {got:?}\n  hf  {:?}", g.name, g.greedy));
    }
    Ok(())
}

fn batched_equals_alone(dev: &Device, g: &Golden, sampled: bool) -> Result<(), String> {
    let (model, ctx) = setup(dev, g)?;
    let seed = fresh_seed();
    let mut rng = Rng::new(seed);
    let v = model.config.vocab_size as i64;
    let reqs: Vec<(Vec<u32>, RequestParams)> = (0..24)
        .map(|i| {
            let (new, len) = (rng.range(1, 25) as usize, rng.range(1, 60) as usize);
            let mut sp = if sampled { SamplingParams { temperature: 0.8, top_k: 20, top_p: 0.9, seed: 0 } } else { SamplingParams::greedy() };
            sp.seed = seed.wrapping_add(i * 7919);
            let p = RequestParams { max_new_tokens: new, sampling: sp, eos_token_ids: model.config.eos_token_ids.clone(), ignore_eos: rng.range(0, 2) == 0 };
            ((0..len).map(|_| rng.range(0, v) as u32).collect(), p)
        })
        .collect();
    let batched = run_engine(&model, &ctx, TIGHT, &reqs)?;
    let single = run_engine(&model, &ctx, ALONE, &reqs)?;
    let differ: Vec<String> = batched
        .iter()
        .zip(&single)
        .enumerate()
        .filter(|(_, (b, a))| b != a)
        .map(|(i, (b, a))| format!("request {i} (prompt {}): batched {b:?} alone {a:?}", reqs[i].0.len()))
        .collect();
    eprintln!("{}{}: {} of {} requests identical batched vs alone [seed {seed}]", g.name, if sampled { " (sampled)" } else { "" }, reqs.len() - differ.len(), reqs.len());
    if !differ.is_empty() {
        return Err(format!("[seed {seed}] {}", differ.join("\n")));
    }
    Ok(())
}

/// The same requests under continuous batching with decode graphs and eagerly: same tokens.
fn graphs_equal_eager(dev: &Device, g: &Golden) -> Result<(), String> {
    let (model, ctx) = setup(dev, g)?;
    let mut rng = Rng::new(fresh_seed());
    let v = model.config.vocab_size as i64;
    let reqs: Vec<(Vec<u32>, RequestParams)> = (0..12)
        .map(|_| {
            let p = RequestParams { max_new_tokens: rng.range(2, 30) as usize, sampling: SamplingParams::greedy(), eos_token_ids: vec![], ignore_eos: true };
            ((0..rng.range(1, 40)).map(|_| rng.range(0, v) as u32).collect(), p)
        })
        .collect();
    let graphed = run_engine_graphs(&model, &ctx, TIGHT, &reqs, true)?;
    let eager = run_engine_graphs(&model, &ctx, TIGHT, &reqs, false)?;
    match graphed.iter().zip(&eager).position(|(a, b)| a != b) {
        Some(i) => Err(format!("request {i}: graphs {:?} eager {:?}", graphed[i], eager[i])),
        None => Ok(()),
    }
}

fn main() {
    let mut trials = Vec::new();
    for g in load_all().expect("tests/goldens/mamba2 loads").into_iter().filter(|g| !g.is_bf16()) {
        let g = Arc::new(g);
        let (a, b, c, d) = (g.clone(), g.clone(), g.clone(), g.clone());
        trials.push(gpu_trial(format!("engine/{}/greedy == transformers", g.name), move |dev| greedy_matches_transformers(dev, &a)));
        trials.push(gpu_trial(format!("engine/{}/continuous batching == alone (greedy)", g.name), move |dev| batched_equals_alone(dev, &b, false)));
        trials.push(gpu_trial(format!("engine/{}/continuous batching == alone (sampled)", g.name), move |dev| batched_equals_alone(dev, &c, true)));
        trials.push(gpu_trial(format!("engine/{}/decode from CUDA graphs == eager (greedy)", g.name), move |dev| graphs_equal_eager(dev, &d)));
    }
    run(trials)
}
