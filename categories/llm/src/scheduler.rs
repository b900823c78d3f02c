//! Continuous batching (host side): which tokens of which requests run in the next step.
//!
//! Every sequence is `prompt + output` tokens, of which the first `computed` have their keys
//! and values in the paged cache (vLLM v1's "num_computed_tokens" view). A step gives each
//! scheduled sequence the next chunk of its uncomputed tokens: a whole or partial prompt
//! (chunked prefill), or the one token generated last step (decode). When a chunk reaches the
//! end of the sequence, the step's logits at its last token produce the next token.
//!
//! Policy, per step, under `max_batched_tokens` and `max_num_seqs`:
//! 1. running sequences, oldest first: decodes (one token) and unfinished prefills (as much
//!    of the prompt as the budget allows). A sequence that needs a KV block when none is free
//!    preempts the newest running sequence (its blocks are freed and it goes back to the
//!    front of the queue to be recomputed from scratch: vLLM's recompute preemption), or
//!    itself if it is the newest.
//! 2. waiting sequences, in arrival order, while budget, sequence slots and blocks last.
//!
//! Nothing here touches the GPU: the engine turns a [`Schedule`] into a `StepPlan`, runs the
//! model, samples, and reports the sampled tokens back with [`Scheduler::update`].

use crate::kv_blocks::{KvBlockManager, SeqId};
use crate::sampling::SamplingParams;
use std::collections::VecDeque;

/// How a request ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub enum FinishReason {
    /// `max_new_tokens` generated.
    Length,
    /// An EOS id was generated (and `ignore_eos` is off).
    Stop,
}

#[derive(Clone, Debug)]
pub struct RequestParams {
    pub max_new_tokens: usize,
    pub sampling: SamplingParams,
    pub eos_token_ids: Vec<u32>,
    pub ignore_eos: bool,
}

#[derive(Clone, Debug)]
pub struct Request {
    pub id: SeqId,
    pub prompt: Vec<u32>,
    pub params: RequestParams,
}

#[derive(Clone, Copy, Debug)]
pub struct SchedulerConfig {
    pub max_num_seqs: usize,
    pub max_batched_tokens: usize,
    pub num_blocks: usize,
    pub block_size: usize,
    /// Most tokens (prompt + output) of one sequence.
    pub max_model_len: usize,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScheduleError {
    #[error("request {id}: {why}")]
    Rejected { id: SeqId, why: String },
    #[error("request {0} is already known")]
    Duplicate(SeqId),
    #[error("bad scheduler config: {0}")]
    Config(String),
}

#[derive(Debug)]
struct Seq {
    req: Request,
    output: Vec<u32>,
    /// Tokens (of prompt + output) whose K/V are in the cache.
    computed: usize,
    /// Times this sequence was preempted (its K/V dropped and recomputed).
    preemptions: usize,
}

impl Seq {
    fn len(&self) -> usize {
        self.req.prompt.len() + self.output.len()
    }
    fn token(&self, i: usize) -> u32 {
        let p = self.req.prompt.len();
        if i < p {
            self.req.prompt[i]
        } else {
            self.output[i - p]
        }
    }
}

/// One sequence's part of a step.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScheduledSeq {
    pub id: SeqId,
    /// The tokens to run (their positions start at `context_len`).
    pub tokens: Vec<u32>,
    pub context_len: usize,
    /// The chunk ends the sequence: sample the next token from its last row.
    pub sample: bool,
}

#[derive(Clone, Debug, Default)]
pub struct Schedule {
    pub seqs: Vec<ScheduledSeq>,
    /// Sequences preempted while building this step (they will be recomputed).
    pub preempted: Vec<SeqId>,
}

impl Schedule {
    pub fn num_tokens(&self) -> usize {
        self.seqs.iter().map(|s| s.tokens.len()).sum()
    }
    pub fn is_empty(&self) -> bool {
        self.seqs.is_empty()
    }
}

/// A token produced for a request, and whether the request ended with it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TokenEvent {
    pub id: SeqId,
    pub token: u32,
    pub finished: Option<FinishReason>,
}

pub struct Scheduler {
    cfg: SchedulerConfig,
    blocks: KvBlockManager,
    waiting: VecDeque<Seq>,
    /// Admission order: oldest first.
    running: Vec<Seq>,
    preemptions: usize,
}

impl Scheduler {
    pub fn new(cfg: SchedulerConfig) -> Result<Scheduler, ScheduleError> {
        if cfg.max_num_seqs == 0 || cfg.max_batched_tokens == 0 || cfg.num_blocks == 0 || cfg.block_size == 0 || cfg.max_model_len == 0 {
            return Err(ScheduleError::Config(format!("every size must be > 0: {cfg:?}")));
        }
        if cfg.max_model_len.div_ceil(cfg.block_size) > cfg.num_blocks {
            return Err(ScheduleError::Config(format!(
                "{} blocks of {} tokens cannot hold one sequence of max_model_len {}",
                cfg.num_blocks, cfg.block_size, cfg.max_model_len
            )));
        }
        Ok(Scheduler { cfg, blocks: KvBlockManager::new(cfg.num_blocks, cfg.block_size), waiting: VecDeque::new(), running: Vec::new(), preemptions: 0 })
    }

    pub fn config(&self) -> &SchedulerConfig {
        &self.cfg
    }

    /// Queue a request after checking it can ever run.
    pub fn add(&mut self, req: Request) -> Result<(), ScheduleError> {
        let reject = |why: String| Err(ScheduleError::Rejected { id: req.id, why });
        if req.prompt.is_empty() {
            return reject("empty prompt".into());
        }
        if req.params.max_new_tokens == 0 {
            return reject("max_new_tokens must be >= 1".into());
        }
        if req.prompt.len() + req.params.max_new_tokens > self.cfg.max_model_len {
            return reject(format!(
                "{} prompt tokens + {} new tokens exceed the context of {} tokens",
                req.prompt.len(),
                req.params.max_new_tokens,
                self.cfg.max_model_len
            ));
        }
        if self.contains(req.id) {
            return Err(ScheduleError::Duplicate(req.id));
        }
        self.waiting.push_back(Seq { req, output: Vec::new(), computed: 0, preemptions: 0 });
        Ok(())
    }

    pub fn contains(&self, id: SeqId) -> bool {
        self.waiting.iter().chain(&self.running).any(|s| s.req.id == id)
    }

    pub fn num_waiting(&self) -> usize {
        self.waiting.len()
    }
    pub fn num_running(&self) -> usize {
        self.running.len()
    }
    pub fn has_work(&self) -> bool {
        !self.waiting.is_empty() || !self.running.is_empty()
    }
    /// Total preemptions so far.
    pub fn preemptions(&self) -> usize {
        self.preemptions
    }
    pub fn blocks(&self) -> &KvBlockManager {
        &self.blocks
    }

    /// A running sequence's KV block table.
    pub fn block_table(&self, id: SeqId) -> Option<&[u32]> {
        self.blocks.block_table(id).ok()
    }

    /// Drop the newest running sequence's cache and queue it for recomputation.
    fn preempt_newest(&mut self, out: &mut Schedule) {
        if let Some(mut s) = self.running.pop() {
            let _ = self.blocks.free(s.req.id);
            s.computed = 0;
            s.preemptions += 1;
            self.preemptions += 1;
            out.seqs.retain(|x| x.id != s.req.id);
            out.preempted.push(s.req.id);
            self.waiting.push_front(s);
        }
    }

    /// The next step. Empty when there is nothing to run.
    pub fn schedule(&mut self) -> Schedule {
        let mut out = Schedule::default();
        let mut budget = self.cfg.max_batched_tokens;
        // 1. Running sequences, oldest first.
        let mut i = 0;
        while i < self.running.len() && budget > 0 {
            let (id, want, computed) = {
                let s = &self.running[i];
                (s.req.id, (s.len() - s.computed).min(budget), s.computed)
            };
            if want == 0 {
                i += 1;
                continue;
            }
            loop {
                match self.blocks.append(id, want) {
                    Ok(_) => break,
                    Err(_) if i + 1 < self.running.len() => self.preempt_newest(&mut out),
                    Err(_) => {
                        // This is the newest: preempt it and stop scheduling running ones.
                        self.preempt_newest(&mut out);
                        break;
                    }
                }
            }
            if i >= self.running.len() || self.running[i].req.id != id {
                break; // it preempted itself
            }
            let s = &self.running[i];
            let tokens: Vec<u32> = (computed..computed + want).map(|j| s.token(j)).collect();
            out.seqs.push(ScheduledSeq { id, tokens, context_len: computed, sample: computed + want == s.len() });
            budget -= want;
            i += 1;
        }
        // 2. Admit waiting sequences in order (not past one that does not fit: keeps FIFO).
        while budget > 0 && self.running.len() < self.cfg.max_num_seqs && out.preempted.is_empty() {
            let Some(s) = self.waiting.front() else { break };
            let want = (s.len() - s.computed).min(budget);
            let id = s.req.id;
            if self.blocks.add_sequence(id).is_err() {
                break;
            }
            if self.blocks.append(id, want).is_err() {
                let _ = self.blocks.free(id);
                break;
            }
            let s = self.waiting.pop_front().expect("front exists");
            let tokens: Vec<u32> = (0..want).map(|j| s.token(j)).collect();
            out.seqs.push(ScheduledSeq { id, tokens, context_len: 0, sample: want == s.len() });
            budget -= want;
            self.running.push(s);
        }
        // Chunks were scheduled as computed: record it now (the engine runs every step it
        // is given, or the whole engine fails).
        for item in &out.seqs {
            if let Some(s) = self.running.iter_mut().find(|s| s.req.id == item.id) {
                s.computed = item.context_len + item.tokens.len();
            }
        }
        out
    }

    /// Report the tokens sampled for `schedule`'s sampling sequences (in its order, one per
    /// `sample == true` entry). Returns the new tokens and finishes; finished sequences free
    /// their blocks.
    pub fn update(&mut self, schedule: &Schedule, sampled: &[u32]) -> Vec<TokenEvent> {
        let sampling: Vec<&ScheduledSeq> = schedule.seqs.iter().filter(|s| s.sample).collect();
        assert_eq!(sampling.len(), sampled.len(), "one sampled token per sampling sequence");
        let mut events = Vec::with_capacity(sampled.len());
        for (item, &token) in sampling.iter().zip(sampled) {
            let Some(pos) = self.running.iter().position(|s| s.req.id == item.id) else { continue };
            let s = &mut self.running[pos];
            s.output.push(token);
            let finished = if !s.req.params.ignore_eos && s.req.params.eos_token_ids.contains(&token) {
                Some(FinishReason::Stop)
            } else if s.output.len() >= s.req.params.max_new_tokens {
                Some(FinishReason::Length)
            } else {
                None
            };
            events.push(TokenEvent { id: item.id, token, finished });
            if finished.is_some() {
                let s = self.running.remove(pos);
                let _ = self.blocks.free(s.req.id);
            }
        }
        events
    }

    /// Remove a request (client went away): frees its blocks.
    pub fn abort(&mut self, id: SeqId) -> bool {
        if let Some(pos) = self.running.iter().position(|s| s.req.id == id) {
            self.running.remove(pos);
            let _ = self.blocks.free(id);
            return true;
        }
        if let Some(pos) = self.waiting.iter().position(|s| s.req.id == id) {
            self.waiting.remove(pos);
            return true;
        }
        false
    }

    /// The sampling parameters of a running request.
    pub fn params(&self, id: SeqId) -> Option<&RequestParams> {
        self.running.iter().find(|s| s.req.id == id).map(|s| &s.req.params)
    }

    /// Output tokens generated so far by a running request.
    pub fn output(&self, id: SeqId) -> Option<&[u32]> {
        self.running.iter().find(|s| s.req.id == id).map(|s| s.output.as_slice())
    }

    /// Times request `id` was preempted (None if it is not queued or running).
    pub fn preemptions_of(&self, id: SeqId) -> Option<usize> {
        self.waiting.iter().chain(&self.running).find(|s| s.req.id == id).map(|s| s.preemptions)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use fk_runtime::rng::{fresh_seed, Rng};
    use std::collections::HashMap;

    const VOCAB: u32 = 50;
    const EOS: u32 = 0;

    /// The fake model: the next token depends only on the request and the position, so any
    /// batching, chunking or preemption must give exactly the same outputs.
    fn next_token(id: SeqId, pos: usize) -> u32 {
        let mut h = id.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ (pos as u64).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        h ^= h >> 31;
        (h % VOCAB as u64) as u32
    }

    fn expected(req: &Request) -> Vec<u32> {
        let mut out = Vec::new();
        while out.len() < req.params.max_new_tokens {
            let t = next_token(req.id, req.prompt.len() + out.len());
            out.push(t);
            if !req.params.ignore_eos && req.params.eos_token_ids.contains(&t) {
                break;
            }
        }
        out
    }

    fn request(id: SeqId, rng: &mut Rng, max_prompt: i64, max_new: i64) -> Request {
        Request {
            id,
            prompt: (0..rng.range(1, max_prompt + 1)).map(|_| rng.range(1, VOCAB as i64) as u32).collect(),
            params: RequestParams {
                max_new_tokens: rng.range(1, max_new + 1) as usize,
                sampling: SamplingParams::greedy(),
                eos_token_ids: vec![EOS],
                ignore_eos: rng.range(0, 4) == 0,
            },
        }
    }

    /// Run the scheduler to completion against the fake model, checking every step.
    fn drive(cfg: SchedulerConfig, requests: Vec<Request>, arrivals_per_step: usize) -> (HashMap<SeqId, Vec<u32>>, usize) {
        let mut s = Scheduler::new(cfg).unwrap();
        let prompts: HashMap<SeqId, Vec<u32>> = requests.iter().map(|r| (r.id, r.prompt.clone())).collect();
        let mut pending: VecDeque<Request> = requests.into();
        let mut outputs: HashMap<SeqId, Vec<u32>> = HashMap::new();
        let mut computed: HashMap<SeqId, usize> = HashMap::new();
        let mut steps = 0;
        while !pending.is_empty() || s.has_work() {
            for _ in 0..arrivals_per_step {
                if let Some(r) = pending.pop_front() {
                    s.add(r).unwrap();
                }
            }
            let step = s.schedule();
            steps += 1;
            assert!(steps < 1_000_000, "no progress");
            assert!(step.num_tokens() <= cfg.max_batched_tokens, "token budget exceeded");
            assert!(s.num_running() <= cfg.max_num_seqs);
            for id in &step.preempted {
                computed.insert(*id, 0);
            }
            let mut sampled = Vec::new();
            for item in &step.seqs {
                let c = computed.entry(item.id).or_insert(0);
                assert_eq!(item.context_len, *c, "request {}: chunk does not continue its cache", item.id);
                *c += item.tokens.len();
                // The chunk's tokens are the sequence's tokens (prompt, then output) at those positions.
                let out = outputs.get(&item.id).cloned().unwrap_or_default();
                let seq: Vec<u32> = prompts[&item.id].iter().chain(&out).copied().collect();
                assert_eq!(item.tokens[..], seq[item.context_len..*c], "request {}: wrong tokens scheduled", item.id);
                let table = s.block_table(item.id).expect("scheduled sequences hold blocks");
                assert!(table.len() * cfg.block_size >= *c, "blocks do not cover the computed tokens");
                if item.sample {
                    assert_eq!(*c, item.context_len + item.tokens.len());
                    sampled.push(next_token(item.id, *c));
                }
            }
            for ev in s.update(&step, &sampled) {
                outputs.entry(ev.id).or_default().push(ev.token);
                if ev.finished.is_some() {
                    computed.remove(&ev.id);
                }
            }
        }
        assert_eq!(s.blocks().used_blocks(), 0, "KV blocks leaked");
        assert_eq!(s.blocks().num_sequences(), 0);
        (outputs, s.preemptions())
    }

    #[test]
    fn ten_thousand_requests_match_one_at_a_time_and_leak_nothing() {
        let seed = fresh_seed();
        let mut rng = Rng::new(seed);
        let reqs: Vec<Request> = (0..10_000).map(|i| request(i, &mut rng, 40, 24)).collect();
        // Few blocks for the load: preemption must happen and must not change any output.
        let cfg = SchedulerConfig { max_num_seqs: 32, max_batched_tokens: 96, num_blocks: 40, block_size: 4, max_model_len: 64 };
        let (outputs, preemptions) = drive(cfg, reqs.clone(), 8);
        assert!(preemptions > 0, "[seed {seed}] the test should exercise preemption");
        for r in &reqs {
            assert_eq!(outputs.get(&r.id), Some(&expected(r)), "[seed {seed}] request {} (prompt {:?})", r.id, r.prompt);
        }
    }

    #[test]
    fn a_single_long_prompt_is_chunked_and_everything_fits_one_sequence() {
        let mut rng = Rng::new(fresh_seed());
        let mut r = request(1, &mut rng, 2, 5);
        r.prompt = (0..60).map(|i| 1 + i % 40).collect();
        r.params.max_new_tokens = 4; // 60 + 4 fills the 64-token context exactly
        let cfg = SchedulerConfig { max_num_seqs: 4, max_batched_tokens: 16, num_blocks: 16, block_size: 4, max_model_len: 64 };
        let mut s = Scheduler::new(cfg).unwrap();
        s.add(r.clone()).unwrap();
        let chunks: Vec<usize> = (0..4).map(|_| {
            let step = s.schedule();
            let n = step.num_tokens();
            assert!(!step.seqs[0].sample || step.seqs[0].context_len + n == 60);
            let sampled: Vec<u32> = step.seqs.iter().filter(|x| x.sample).map(|_| 7).collect();
            s.update(&step, &sampled);
            n
        }).collect();
        assert_eq!(chunks, vec![16, 16, 16, 12]);
    }

    #[test]
    fn impossible_requests_and_configs_are_refused() {
        let cfg = SchedulerConfig { max_num_seqs: 4, max_batched_tokens: 16, num_blocks: 16, block_size: 4, max_model_len: 64 };
        let mut s = Scheduler::new(cfg).unwrap();
        let mut rng = Rng::new(1);
        let mut r = request(1, &mut rng, 4, 4);
        r.params.max_new_tokens = 64;
        assert!(matches!(s.add(r.clone()), Err(ScheduleError::Rejected { id: 1, .. })));
        r.params.max_new_tokens = 0;
        assert!(s.add(r.clone()).unwrap_err().to_string().contains("max_new_tokens"));
        r.params.max_new_tokens = 2;
        r.prompt.clear();
        assert!(s.add(r.clone()).unwrap_err().to_string().contains("empty"));
        r.prompt = vec![3];
        s.add(r.clone()).unwrap();
        assert_eq!(s.add(r), Err(ScheduleError::Duplicate(1)));
        assert!(s.abort(1) && !s.abort(1));
        let small = SchedulerConfig { num_blocks: 15, ..cfg };
        assert!(matches!(Scheduler::new(small), Err(ScheduleError::Config(_))));
    }
}
