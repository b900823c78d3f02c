//! A CPU stand-in for a model, to test the engine and the server without a GPU. Its "KV
//! cache" is each sequence's tokens by position, written as chunks run (so a chunk that does
//! not continue its cache, or a block table too short for it, is an error, as it would be
//! garbage on the GPU); its next token is a hash of the whole cached sequence. Greedy
//! outputs therefore depend only on the tokens, never on batching, chunking or preemption —
//! exactly the property the real engine must keep. With temperature > 0 the request's seed
//! and the output index enter the hash, as they do the GPU sampler's RNG.

use super::runner::{RunnerLimits, StepRunner, StepSeqInput};
use crate::kv_blocks::SeqId;
use fk_runtime::{Error, Result};
use std::collections::HashMap;
use std::time::Duration;

pub struct HashRunner {
    limits: RunnerLimits,
    cache: HashMap<SeqId, Vec<u32>>,
    /// Sleep per step, to make timings and streaming observable in tests.
    pub step_delay: Duration,
    /// Largest step seen (sequences, tokens).
    pub max_step_seen: (usize, usize),
}

impl HashRunner {
    pub fn new(limits: RunnerLimits) -> HashRunner {
        HashRunner { limits, cache: HashMap::new(), step_delay: Duration::ZERO, max_step_seen: (0, 0) }
    }

    /// Sequences whose tokens the runner still holds (0 once all have been released).
    pub fn cached_sequences(&self) -> usize {
        self.cache.len()
    }

    /// The next token after `seq` (greedy), as the runner computes it.
    pub fn next_token(seq: &[u32], vocab: usize, sampling: Option<(u64, u64)>) -> u32 {
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for &t in seq {
            h = (h ^ t as u64).wrapping_mul(0x0000_0100_0000_01b3);
        }
        if let Some((seed, index)) = sampling {
            h ^= seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ index.wrapping_mul(0xbf58_476d_1ce4_e5b9);
            h = h.wrapping_mul(0x94d0_49bb_1331_11eb);
        }
        h ^= h >> 29;
        (h % vocab as u64) as u32
    }

    /// Greedy continuation of `prompt` for `n` tokens, stopping after any of `eos` — what
    /// any engine configuration must reproduce.
    pub fn reference(prompt: &[u32], n: usize, vocab: usize, eos: &[u32]) -> Vec<u32> {
        let mut seq = prompt.to_vec();
        let mut out = Vec::new();
        while out.len() < n {
            let t = Self::next_token(&seq, vocab, None);
            seq.push(t);
            out.push(t);
            if eos.contains(&t) {
                break;
            }
        }
        out
    }
}

impl StepRunner for HashRunner {
    fn limits(&self) -> RunnerLimits {
        self.limits
    }

    fn execute(&mut self, seqs: &[StepSeqInput<'_>]) -> Result<Vec<u32>> {
        let tokens: usize = seqs.iter().map(|s| s.tokens.len()).sum();
        if seqs.len() > self.limits.max_num_seqs || tokens > self.limits.max_batched_tokens {
            return Err(Error::bad_input("HashRunner", format!("step of {} sequences / {tokens} tokens exceeds the limits {:?}", seqs.len(), self.limits)));
        }
        self.max_step_seen = (self.max_step_seen.0.max(seqs.len()), self.max_step_seen.1.max(tokens));
        let mut out = Vec::with_capacity(seqs.len());
        for s in seqs {
            let end = s.context_len + s.tokens.len();
            if s.block_table.len() * self.limits.block_size < end {
                return Err(Error::bad_input("HashRunner", format!("sequence {}: {} blocks cannot hold {end} tokens", s.id, s.block_table.len())));
            }
            if s.block_table.iter().any(|&b| b as usize >= self.limits.num_blocks) {
                return Err(Error::bad_input("HashRunner", format!("sequence {}: block table {:?} names a block outside the cache", s.id, s.block_table)));
            }
            let cached = self.cache.entry(s.id).or_default();
            if s.context_len > cached.len() {
                return Err(Error::bad_input("HashRunner", format!("sequence {}: chunk at {} but only {} tokens cached", s.id, s.context_len, cached.len())));
            }
            cached.truncate(s.context_len); // recomputation after preemption rewrites the tail
            cached.extend_from_slice(s.tokens);
            let sampling = (s.sampling.temperature > 0.0).then_some((s.sampling.seed, s.output_index));
            out.push(Self::next_token(cached, self.limits.vocab_size, sampling));
        }
        if !self.step_delay.is_zero() {
            std::thread::sleep(self.step_delay);
        }
        Ok(out)
    }

    fn release(&mut self, id: SeqId) {
        self.cache.remove(&id);
    }

    fn describe(&self) -> String {
        format!("HashRunner (CPU stand-in, vocab {})", self.limits.vocab_size)
    }
}
