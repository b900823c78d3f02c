//! The engine's logic on the CPU stand-in model: outputs independent of batching, chunking
//! and preemption; no leaked blocks; streaming, aborts, backpressure and shutdown of the
//! threaded service.

use super::*;
use crate::sampling::SamplingParams;
use crate::scheduler::{FinishReason, RequestParams};
use fk_runtime::rng::{fresh_seed, Rng};
use std::time::Duration;

const VOCAB: usize = 97;
const EOS: u32 = 3;

fn limits(num_blocks: usize, max_num_seqs: usize, max_batched_tokens: usize) -> RunnerLimits {
    RunnerLimits { num_blocks, block_size: 4, max_model_len: 96, max_num_seqs, max_batched_tokens, vocab_size: VOCAB }
}

fn params(max_new_tokens: usize, ignore_eos: bool) -> RequestParams {
    RequestParams { max_new_tokens, sampling: SamplingParams::greedy(), eos_token_ids: vec![EOS], ignore_eos }
}

fn random_request(rng: &mut Rng) -> (Vec<u32>, RequestParams) {
    let len = rng.range(1, 48) as usize;
    let prompt = (0..len).map(|_| rng.range(0, VOCAB as i64) as u32).collect();
    (prompt, params(rng.range(1, 40) as usize, rng.range(0, 3) == 0))
}

fn expected(prompt: &[u32], p: &RequestParams) -> Vec<u32> {
    let eos: &[u32] = if p.ignore_eos { &[] } else { &p.eos_token_ids };
    HashRunner::reference(prompt, p.max_new_tokens, VOCAB, eos)
}

#[test]
fn ten_thousand_requests_match_one_at_a_time_with_no_leaks() {
    let seed = fresh_seed();
    let mut rng = Rng::new(seed);
    // Tight memory (preemption must happen), small token budget (prompts are chunked).
    let mut engine = Engine::new(HashRunner::new(limits(64, 24, 64))).unwrap();
    let requests: Vec<_> = (0..10_000).map(|_| random_request(&mut rng)).collect();
    let mut outputs: Vec<Vec<u32>> = vec![Vec::new(); requests.len()];
    let mut finished = vec![None; requests.len()];
    let mut next = 0;
    let mut peak_live = 0;
    // Requests arrive while the engine runs, as from clients behind a bounded queue: up to
    // 3 per step while fewer than 32 wait.
    while next < requests.len() || engine.has_unfinished() {
        for _ in 0..3 {
            if next < requests.len() && engine.num_waiting() < 32 {
                let (p, par) = requests[next].clone();
                assert_eq!(engine.add_request(p, par).unwrap(), next as u64);
                next += 1;
            }
        }
        for o in engine.step().unwrap() {
            let i = o.id as usize;
            assert!(finished[i].is_none(), "[seed {seed}] token after the end of request {i}");
            outputs[i].push(o.token);
            if let Some(f) = o.finished {
                let m = o.metrics.expect("a finished request carries its metrics");
                assert_eq!(m.output_tokens, outputs[i].len());
                assert!(m.ttft_s <= m.latency_s);
                finished[i] = Some(f);
            }
        }
        peak_live = peak_live.max(engine.num_running() + engine.num_waiting());
    }
    for (i, (prompt, p)) in requests.iter().enumerate() {
        let want = expected(prompt, p);
        assert_eq!(outputs[i], want, "[seed {seed}] request {i}");
        let reason = if !p.ignore_eos && want.last() == Some(&EOS) { FinishReason::Stop } else { FinishReason::Length };
        assert_eq!(finished[i], Some(reason), "[seed {seed}] request {i}");
    }
    let stats = engine.stats();
    assert!(stats.preemptions > 0, "[seed {seed}] the load should force preemption");
    assert_eq!(stats.finished, 10_000);
    assert_eq!(engine.used_blocks(), 0, "KV blocks leaked");
    assert_eq!(engine.runner().cached_sequences(), 0, "the runner kept state of finished requests");
    assert!(peak_live <= 24 + 32 + 3, "requests pile up: {peak_live} live at once");
    let (seqs, tokens) = engine.runner().max_step_seen;
    assert!(seqs <= 24 && tokens <= 64);
}

#[test]
fn batch_size_and_budget_do_not_change_outputs() {
    let mut rng = Rng::new(fresh_seed());
    let requests: Vec<_> = (0..200).map(|_| random_request(&mut rng)).collect();
    let run = |l: RunnerLimits| {
        let mut e = Engine::new(HashRunner::new(l)).unwrap();
        for (p, par) in &requests {
            e.add_request(p.clone(), par.clone()).unwrap();
        }
        let mut out = vec![Vec::new(); requests.len()];
        e.run_to_completion(|o| out[o.id as usize].push(o.token)).unwrap();
        out
    };
    let one_at_a_time = run(limits(24, 1, 96));
    assert_eq!(run(limits(200, 64, 256)), one_at_a_time);
    assert_eq!(run(limits(30, 8, 8)), one_at_a_time);
}

#[test]
fn sampled_requests_depend_on_their_seed_not_on_the_batch() {
    let prompt: Vec<u32> = (1..20).collect();
    let sampled = |seed: u64, others: usize| {
        let mut e = Engine::new(HashRunner::new(limits(200, 16, 64))).unwrap();
        for i in 0..others {
            e.add_request(vec![5 + i as u32; 7], params(9, true)).unwrap();
        }
        let mut p = params(20, true);
        p.sampling = SamplingParams { temperature: 0.8, top_k: 0, top_p: 1.0, seed };
        let id = e.add_request(prompt.clone(), p).unwrap();
        let mut out = Vec::new();
        e.run_to_completion(|o| {
            if o.id == id {
                out.push(o.token)
            }
        })
        .unwrap();
        out
    };
    assert_eq!(sampled(7, 0), sampled(7, 5));
    assert_ne!(sampled(7, 0), sampled(8, 0));
}

#[test]
fn bad_requests_are_refused_with_the_reason() {
    let mut e = Engine::new(HashRunner::new(limits(64, 4, 32))).unwrap();
    let err = |p: Vec<u32>, par: RequestParams| e.validate(&p, &par).unwrap_err().to_string();
    assert!(err(vec![], params(1, false)).contains("empty"));
    assert!(err(vec![VOCAB as u32], params(1, false)).contains("outside the vocabulary"));
    assert!(err(vec![1; 90], params(7, false)).contains("exceed the context of 96"));
    assert!(err(vec![1], params(0, false)).contains("max_new_tokens"));
    let mut bad = params(1, false);
    bad.sampling.top_p = 0.0;
    assert!(err(vec![1], bad).contains("top_p"));
    assert!(e.add_request(vec![1; 200], params(1, false)).is_err());
    assert!(!e.has_unfinished(), "a refused request must not be queued");
    let small = RunnerLimits { max_batched_tokens: 2, ..limits(64, 4, 32) };
    assert!(Engine::new(HashRunner::new(small)).is_err());
}

#[test]
fn aborting_frees_blocks_at_once() {
    let mut e = Engine::new(HashRunner::new(limits(64, 4, 32))).unwrap();
    let a = e.add_request(vec![1; 30], params(50, true)).unwrap();
    let b = e.add_request(vec![2; 10], params(5, true)).unwrap();
    e.step().unwrap();
    assert!(e.used_blocks() > 0);
    assert!(e.abort(a));
    let mut out = Vec::new();
    e.run_to_completion(|o| out.push(o.id)).unwrap();
    assert!(out.iter().all(|&id| id == b) && out.len() == 5);
    assert_eq!(e.used_blocks(), 0);
    assert_eq!(e.stats().aborted, 1);
}

fn service(step_delay: Duration, max_inflight: usize) -> EngineService {
    EngineService::spawn("hash".into(), vec![EOS], ServiceOptions { max_inflight }, move || {
        let mut r = HashRunner::new(limits(64, 8, 64));
        r.step_delay = step_delay;
        Engine::new(r)
    })
    .unwrap()
}

#[test]
fn the_service_streams_every_request_from_many_threads() {
    let svc = std::sync::Arc::new(service(Duration::ZERO, 1000));
    let handles: Vec<_> = (0..8)
        .map(|t| {
            let svc = svc.clone();
            std::thread::spawn(move || {
                let mut rng = Rng::new(fresh_seed() ^ t);
                for _ in 0..50 {
                    let (p, par) = random_request(&mut rng);
                    let want = expected(&p, &par);
                    let (got, m) = svc.submit(p, par).unwrap().collect().unwrap();
                    assert_eq!(got, want);
                    assert_eq!(m.output_tokens, want.len());
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    assert_eq!(svc.inflight(), 0);
}

#[test]
fn the_service_applies_backpressure_aborts_dropped_streams_and_shuts_down() {
    let svc = service(Duration::from_millis(2), 3);
    let keep: Vec<_> = (0..3).map(|i| svc.submit(vec![1 + i; 4], params(40, true)).unwrap()).collect();
    assert_eq!(svc.submit(vec![1], params(1, true)).err(), Some(SubmitError::Busy(3)));
    assert!(matches!(svc.submit(vec![], params(1, true)), Err(SubmitError::Invalid(_))));
    // Dropping a stream aborts its request and frees its slot.
    let mut it = keep.into_iter();
    let mut first = it.next().unwrap();
    assert!(matches!(first.recv_timeout(Duration::from_secs(5)), Ok(Some(StreamEvent::Token { .. }))));
    drop(first);
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while svc.inflight() > 2 {
        assert!(std::time::Instant::now() < deadline, "the aborted request was never released");
        std::thread::sleep(Duration::from_millis(1));
    }
    let mut rest: Vec<_> = it.collect();
    svc.shutdown(false);
    for s in &mut rest {
        let mut last = None;
        while let Some(ev) = s.recv() {
            last = Some(ev);
        }
        assert!(matches!(last, Some(StreamEvent::Error(ref e)) if e.contains("shutting down")), "{last:?}");
    }
    assert_eq!(svc.submit(vec![1], params(1, true)).err(), Some(SubmitError::ShutDown));
}

#[test]
fn a_draining_shutdown_finishes_accepted_requests() {
    let svc = service(Duration::from_millis(1), 10);
    let s = svc.submit(vec![4, 5, 6], params(12, true)).unwrap();
    svc.shutdown(true);
    let (tokens, _) = s.collect().unwrap();
    assert_eq!(tokens, expected(&[4, 5, 6], &params(12, true)));
}

#[test]
fn workloads_run_through_the_engine_and_report_their_tokens() {
    use crate::workloads;
    let mut e = Engine::new(HashRunner::new(RunnerLimits { num_blocks: 4096, block_size: 16, max_model_len: 8192, max_num_seqs: 64, max_batched_tokens: 16384, vocab_size: VOCAB })).unwrap();
    let w = workloads::build("LLM.fixed_batch_32", VOCAB, 8192).unwrap();
    let mut seen = 0;
    let r = run_workload(&mut e, &w, &mut |done, total| {
        assert!(done <= total && total == 32 * 8);
        seen = done;
    })
    .unwrap();
    assert_eq!(seen, 32 * 8, "3 warm-up + 5 timed iterations of 32 requests");
    let lat = r.latency.as_ref().unwrap();
    assert_eq!(lat.iterations_s.len(), 5);
    assert_eq!(r.summary.requests, 32 * 5);
    assert_eq!(r.summary.output_tokens, 32 * 5 * 128);
    assert_eq!(r.engine.finished, 32 * 5);
    // The batch is prefilled in one step (it fits the budget), then every sequence decodes
    // its 127 other tokens in decode-only steps.
    assert_eq!(r.engine.decode_rows, 32 * 5 * 127);
    assert!(r.engine.decode_kv_tokens > r.engine.decode_rows * 128);
    let mixed = workloads::build("LLM.mixed", VOCAB, 8192).unwrap();
    let r = run_workload(&mut e, &mixed, &mut |_, _| {}).unwrap();
    assert_eq!(r.summary.requests, 1000);
    assert_eq!(r.summary.output_tokens, mixed.output_tokens());
    assert!(r.summary.ttft_s.p99 <= r.summary.latency_s.max);
    assert_eq!(e.used_blocks(), 0);
}

#[test]
fn a_boxed_runner_runs_like_the_runner_it_holds() {
    let boxed: Box<dyn StepRunner> = Box::new(HashRunner::new(limits(64, 8, 32)));
    let mut engine = Engine::new(boxed).unwrap();
    assert_eq!(engine.limits(), limits(64, 8, 32));
    let (prompt, p) = (vec![5, 6, 7, 8, 9], params(12, true));
    engine.add_request(prompt.clone(), p.clone()).unwrap();
    let mut got = Vec::new();
    engine.run_to_completion(|o| got.push(o.token)).unwrap();
    assert_eq!(got, expected(&prompt, &p));
    assert_eq!(engine.used_blocks(), 0);
}
