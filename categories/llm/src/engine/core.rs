//! The engine: requests in, tokens out. Each [`Engine::step`] asks the scheduler for the next
//! batch (continuous batching with chunked prefill under a token budget, recompute
//! preemption), runs it on the [`StepRunner`], and turns the sampled tokens into per-request
//! outputs with timings. Architecture-generic: any runner (any `CausalLm` on the GPU, or the
//! CPU stand-in) plugs in.

use super::metrics::RequestMetrics;
use super::runner::{RunnerLimits, StepRunner, StepSeqInput};
use crate::kv_blocks::SeqId;
use crate::scheduler::{FinishReason, Request, RequestParams, Scheduler, SchedulerConfig};
use fk_runtime::{Error, Result};
use std::collections::HashMap;
use std::time::Instant;

/// A token for a request, and what ended it (with its timings) if it was the last.
#[derive(Clone, Debug)]
pub struct EngineOutput {
    pub id: SeqId,
    pub token: u32,
    pub finished: Option<FinishReason>,
    pub metrics: Option<RequestMetrics>,
}

/// Counters over the engine's life (subtract two snapshots with [`EngineStats::since`]).
#[derive(Clone, Copy, Debug, Default, serde::Serialize)]
pub struct EngineStats {
    pub steps: u64,
    pub scheduled_tokens: u64,
    /// Wall seconds inside the runner (the step's GPU work and its host preparation).
    pub step_s: f64,
    /// Steps that ran only decode tokens (the graph-replayed ones), their wall seconds, the
    /// sequences they ran and the keys they read (each row's context + its new token): what
    /// a decode-bandwidth roofline needs.
    pub decode_steps: u64,
    pub decode_s: f64,
    pub decode_rows: u64,
    pub decode_kv_tokens: u64,
    /// Device seconds of those decode steps (CUDA events), when the runner measures them:
    /// `decode_s - decode_device_s` is the host's share (plan, uploads, token readback).
    pub decode_device_s: Option<f64>,
    pub preemptions: usize,
    pub finished: u64,
    pub aborted: u64,
}

impl EngineStats {
    /// What happened between `earlier` and `self`.
    pub fn since(&self, earlier: &EngineStats) -> EngineStats {
        EngineStats {
            steps: self.steps - earlier.steps,
            scheduled_tokens: self.scheduled_tokens - earlier.scheduled_tokens,
            step_s: self.step_s - earlier.step_s,
            decode_steps: self.decode_steps - earlier.decode_steps,
            decode_s: self.decode_s - earlier.decode_s,
            decode_rows: self.decode_rows - earlier.decode_rows,
            decode_kv_tokens: self.decode_kv_tokens - earlier.decode_kv_tokens,
            decode_device_s: self.decode_device_s.zip(earlier.decode_device_s).map(|(a, b)| a - b),
            preemptions: self.preemptions - earlier.preemptions,
            finished: self.finished - earlier.finished,
            aborted: self.aborted - earlier.aborted,
        }
    }
}

struct Live {
    prompt_tokens: usize,
    added: Instant,
    first_token: Option<Instant>,
    output_tokens: usize,
    preemptions: usize,
}

pub struct Engine<R: StepRunner> {
    runner: R,
    sched: Scheduler,
    live: HashMap<SeqId, Live>,
    next_id: SeqId,
    stats: EngineStats,
    /// Set when a step failed: the cache no longer matches the scheduler's view, so every
    /// later step refuses to run.
    failed: Option<String>,
}

impl<R: StepRunner> Engine<R> {
    pub fn new(runner: R) -> Result<Engine<R>> {
        let l = runner.limits();
        let cfg = SchedulerConfig {
            max_num_seqs: l.max_num_seqs,
            max_batched_tokens: l.max_batched_tokens,
            num_blocks: l.num_blocks,
            block_size: l.block_size,
            max_model_len: l.max_model_len,
        };
        if l.max_batched_tokens < l.max_num_seqs {
            return Err(Error::config(format!(
                "max_batched_tokens {} < max_num_seqs {}: a step could not hold one decode token per sequence",
                l.max_batched_tokens, l.max_num_seqs
            )));
        }
        let sched = Scheduler::new(cfg).map_err(|e| Error::config(e.to_string()))?;
        Ok(Engine { runner, sched, live: HashMap::new(), next_id: 0, stats: EngineStats::default(), failed: None })
    }

    pub fn limits(&self) -> RunnerLimits {
        self.runner.limits()
    }

    pub fn runner(&self) -> &R {
        &self.runner
    }

    pub fn stats(&self) -> EngineStats {
        EngineStats { preemptions: self.sched.preemptions(), decode_device_s: self.runner.decode_device_seconds(), ..self.stats }
    }

    pub fn num_waiting(&self) -> usize {
        self.sched.num_waiting()
    }

    pub fn num_running(&self) -> usize {
        self.sched.num_running()
    }

    pub fn has_unfinished(&self) -> bool {
        self.sched.has_work()
    }

    /// KV blocks in use (0 once every request has finished or been aborted).
    pub fn used_blocks(&self) -> usize {
        self.sched.blocks().used_blocks()
    }

    /// Check a request without queueing it.
    pub fn validate(&self, prompt: &[u32], params: &RequestParams) -> Result<()> {
        validate_request(&self.runner.limits(), prompt, params)
    }

    /// Queue a request; its timings start now.
    pub fn add_request(&mut self, prompt: Vec<u32>, params: RequestParams) -> Result<SeqId> {
        self.validate(&prompt, &params)?;
        let id = self.next_id;
        let prompt_tokens = prompt.len();
        self.sched.add(Request { id, prompt, params }).map_err(|e| Error::bad_input("request", e.to_string()))?;
        self.next_id += 1;
        self.live.insert(id, Live { prompt_tokens, added: Instant::now(), first_token: None, output_tokens: 0, preemptions: 0 });
        Ok(id)
    }

    /// Drop a request (e.g. its client went away); frees its KV blocks.
    pub fn abort(&mut self, id: SeqId) -> bool {
        let found = self.sched.abort(id);
        self.runner.release(id);
        if self.live.remove(&id).is_some() {
            self.stats.aborted += 1;
        }
        found
    }

    /// Run one step. Returns the tokens it produced (empty when there is nothing to run).
    pub fn step(&mut self) -> Result<Vec<EngineOutput>> {
        if let Some(why) = &self.failed {
            return Err(Error::config(format!("the engine stopped after a failed step: {why}")));
        }
        let schedule = self.sched.schedule();
        for id in &schedule.preempted {
            // It will be recomputed from its first token: drop what the runner keeps for it
            // (a recurrent model's state slot; nothing for the KV-cache runner).
            self.runner.release(*id);
            if let Some(l) = self.live.get_mut(id) {
                l.preemptions += 1;
            }
        }
        if schedule.is_empty() {
            return Ok(Vec::new());
        }
        let mut inputs = Vec::with_capacity(schedule.seqs.len());
        for s in &schedule.seqs {
            let (Some(table), Some(params), Some(out)) = (self.sched.block_table(s.id), self.sched.params(s.id), self.sched.output(s.id)) else {
                return Err(self.fail(format!("scheduled request {} is not running", s.id)));
            };
            inputs.push(StepSeqInput {
                id: s.id,
                tokens: &s.tokens,
                context_len: s.context_len,
                block_table: table,
                sample: s.sample,
                sampling: params.sampling,
                output_index: out.len() as u64,
            });
        }
        let t0 = Instant::now();
        let tokens = match self.runner.execute(&inputs) {
            Ok(t) if t.len() == inputs.len() => t,
            Ok(t) => return Err(self.fail(format!("the runner returned {} tokens for {} sequences", t.len(), inputs.len()))),
            Err(e) => return Err(self.fail(e.to_string())),
        };
        let now = Instant::now();
        let took = now.duration_since(t0).as_secs_f64();
        self.stats.steps += 1;
        self.stats.step_s += took;
        self.stats.scheduled_tokens += schedule.num_tokens() as u64;
        if schedule.seqs.iter().all(|s| s.tokens.len() == 1 && s.context_len > 0) {
            self.stats.decode_steps += 1;
            self.stats.decode_s += took;
            self.stats.decode_rows += schedule.seqs.len() as u64;
            self.stats.decode_kv_tokens += schedule.seqs.iter().map(|s| s.context_len as u64 + 1).sum::<u64>();
        }
        let sampled: Vec<u32> = schedule.seqs.iter().zip(&tokens).filter(|(s, _)| s.sample).map(|(_, &t)| t).collect();
        let events = self.sched.update(&schedule, &sampled);
        let mut outputs = Vec::with_capacity(events.len());
        for ev in events {
            let mut metrics = None;
            if let Some(l) = self.live.get_mut(&ev.id) {
                l.first_token.get_or_insert(now);
                l.output_tokens += 1;
                if let Some(reason) = ev.finished {
                    self.runner.release(ev.id);
                    let l = self.live.remove(&ev.id).expect("present");
                    self.stats.finished += 1;
                    metrics = Some(finish_metrics(ev.id, &l, now, reason));
                }
            }
            outputs.push(EngineOutput { id: ev.id, token: ev.token, finished: ev.finished, metrics });
        }
        Ok(outputs)
    }

    fn fail(&mut self, why: String) -> Error {
        self.failed = Some(why.clone());
        Error::config(format!("engine step failed: {why}"))
    }

    /// Step until every queued request has finished; `on_output` sees each token as it comes.
    /// Returns the finished requests' metrics in completion order.
    pub fn run_to_completion(&mut self, mut on_output: impl FnMut(&EngineOutput)) -> Result<Vec<RequestMetrics>> {
        let mut done = Vec::new();
        while self.has_unfinished() {
            let outs = self.step()?;
            if outs.is_empty() && self.sched.num_running() == 0 && self.sched.num_waiting() > 0 {
                return Err(Error::config("the scheduler made no progress with requests waiting (the cache cannot hold the next request)"));
            }
            for o in outs {
                on_output(&o);
                if let Some(m) = o.metrics {
                    done.push(m);
                }
            }
        }
        Ok(done)
    }
}

/// Whether a request can ever run on an engine with these limits (the server checks this
/// before queueing, to answer 400 at once).
pub fn validate_request(l: &RunnerLimits, prompt: &[u32], params: &RequestParams) -> Result<()> {
    if prompt.is_empty() {
        return Err(Error::bad_input("request", "the prompt is empty"));
    }
    if let Some((pos, &t)) = prompt.iter().enumerate().find(|(_, &t)| t as usize >= l.vocab_size) {
        return Err(Error::bad_input("request", format!("prompt token {pos} is {t}, outside the vocabulary [0, {})", l.vocab_size)));
    }
    if params.max_new_tokens == 0 {
        return Err(Error::bad_input("request", "max_new_tokens must be >= 1"));
    }
    if prompt.len() + params.max_new_tokens > l.max_model_len {
        return Err(Error::bad_input(
            "request",
            format!("{} prompt tokens + {} new tokens exceed the context of {} tokens", prompt.len(), params.max_new_tokens, l.max_model_len),
        ));
    }
    params.sampling.validate()
}

fn finish_metrics(id: SeqId, l: &Live, now: Instant, finish: FinishReason) -> RequestMetrics {
    let first = l.first_token.unwrap_or(now);
    let ttft = first.duration_since(l.added).as_secs_f64();
    let latency = now.duration_since(l.added).as_secs_f64();
    RequestMetrics {
        id,
        prompt_tokens: l.prompt_tokens,
        output_tokens: l.output_tokens,
        ttft_s: ttft,
        tpot_s: (l.output_tokens > 1).then(|| (latency - ttft) / (l.output_tokens - 1) as f64),
        latency_s: latency,
        preemptions: l.preemptions,
        finish,
    }
}
