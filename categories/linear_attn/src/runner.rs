//! `RecurrentRunner`: the LLM engine's [`StepRunner`] for any [`RecurrentLm`] (Mamba, Mamba-2),
//! so the family's scheduler (continuous batching, chunked prefill, stop conditions, streaming)
//! drives a recurrent model. Each running sequence owns one slot of the recurrent-state cache
//! instead of KV blocks: the slot is taken and zeroed when the sequence's first chunk runs
//! (`context_len == 0`, which is also how a preempted sequence restarts), continued by later
//! chunks and decode steps, and returned on `release` (finish, abort, preemption). The
//! scheduler still counts KV blocks; the runner reports enough of them that they never bind
//! (they back no memory here). Tokens are drawn by the family's GPU sampler from the request's
//! seed and output index, as `GpuRunner` draws them. Decode-only batches replay a CUDA graph
//! per batch-size bucket ([`crate::decode`]: states read by slot, so one graph serves any
//! slots; a batch is padded up to its bucket); prefill chunks run eagerly.

use crate::decode::{DecodeBuffers, SlotMixer};
use crate::step::{LogitsRows, RecurrentLm, Step};
use crate::RecurrentStateCache;
use fk_baselines::Context;
use fk_llm::engine::{RunnerLimits, StepRunner, StepSeqInput};
use fk_llm::graphs::DecodeGraphs;
use fk_llm::{Sampler, SamplingParams, SeqId};
use fk_runtime::{Error, Result, Tensor};
use std::collections::HashMap;

#[derive(Clone, Copy, Debug)]
pub struct RecurrentRunnerConfig {
    pub max_num_seqs: usize,
    pub max_model_len: usize,
    pub max_batched_tokens: usize,
}

/// Block size the runner reports to the scheduler (bookkeeping only).
const BLOCK_SIZE: usize = 16;

struct Live {
    slot: usize,
    /// Tokens the slot's state has consumed; the next chunk must start here.
    consumed: usize,
}

pub struct RecurrentRunner<'m, M: RecurrentLm> {
    model: &'m M,
    ctx: Context,
    cache: RecurrentStateCache,
    live: HashMap<SeqId, Live>,
    sampler: Sampler,
    limits: RunnerLimits,
    graphs: DecodeGraphs,
    /// Decode buffers per bucket, made on first use.
    buffers: HashMap<usize, DecodeBuffers<<M::Mixer as SlotMixer>::Buffers>>,
}

/// Decode batch buckets (as vLLM's capture sizes): powers of two up to this.
const MAX_GRAPH_BATCH: usize = 256;

impl<'m, M: RecurrentLm> RecurrentRunner<'m, M> {
    pub fn new(model: &'m M, ctx: &Context, cfg: RecurrentRunnerConfig) -> Result<RecurrentRunner<'m, M>> {
        if cfg.max_num_seqs == 0 || cfg.max_model_len == 0 || cfg.max_batched_tokens == 0 {
            return Err(Error::config(format!("{} runner: every limit must be > 0 ({cfg:?})", model.name())));
        }
        let cache = model.new_state_cache(cfg.max_num_seqs)?;
        let sampler = Sampler::new(&ctx.device, cfg.max_num_seqs, model.vocab_size())?;
        let limits = RunnerLimits {
            num_blocks: cfg.max_num_seqs * cfg.max_model_len.div_ceil(BLOCK_SIZE),
            block_size: BLOCK_SIZE,
            max_model_len: cfg.max_model_len,
            max_num_seqs: cfg.max_num_seqs,
            max_batched_tokens: cfg.max_batched_tokens,
            vocab_size: model.vocab_size(),
        };
        Ok(RecurrentRunner { model, ctx: ctx.clone(), cache, live: HashMap::new(), sampler, limits, graphs: DecodeGraphs::new(true), buffers: HashMap::new() })
    }

    /// Replay decode steps from CUDA graphs (the default) or run them eagerly.
    pub fn set_cuda_graphs(&mut self, on: bool) {
        self.graphs = DecodeGraphs::new(on);
        self.buffers.clear();
    }

    /// CUDA graphs captured so far.
    pub fn graphs_captured(&self) -> usize {
        self.graphs.len()
    }

    /// The bucket a decode batch of `b` sequences is padded to, if graphs are on and it fits.
    fn bucket(&self, b: usize) -> Option<usize> {
        let top = MAX_GRAPH_BATCH.min(self.limits.max_num_seqs.next_power_of_two());
        (self.graphs.enabled() && b <= top).then(|| b.next_power_of_two())
    }

    /// A decode step of `ids` (sequence b in slot `slots[b]`) replayed from the graph of its
    /// bucket; returns the `[batch, vocab]` logits.
    fn decode_graphed(&mut self, bucket: usize, ids: &[u32], slots: &[usize]) -> Result<Tensor> {
        if !self.buffers.contains_key(&bucket) {
            let bufs = self.model.decode_buffers(&self.cache, bucket)?;
            self.buffers.insert(bucket, bufs);
        }
        let bufs = self.buffers.get_mut(&bucket).expect("inserted above");
        self.model.stage_decode(bufs, &self.cache, ids, slots)?;
        let (model, ctx, cache, bufs) = (self.model, &self.ctx, &self.cache, &*bufs);
        self.graphs.run(&ctx.device, bucket, || model.decode_step(ctx, cache, bufs))?;
        bufs.logits()
    }

    /// Sequences holding a state slot (0 once every request has finished).
    pub fn live_sequences(&self) -> usize {
        self.live.len()
    }

    /// The slot of `s`, taking (and zeroing) one when the sequence starts; checks the chunk
    /// continues exactly where the state left off.
    fn slot_for(&mut self, s: &StepSeqInput<'_>) -> Result<usize> {
        let op = self.model.name().to_string();
        if s.context_len == 0 {
            let slot = match self.live.get(&s.id) {
                Some(l) => l.slot,
                None => self.cache.slots_mut().allocate().map_err(|e| Error::bad_input(&op, format!("sequence {}: {e}", s.id)))?,
            };
            self.cache.reset(slot)?;
            self.live.insert(s.id, Live { slot, consumed: 0 });
        }
        match self.live.get_mut(&s.id) {
            Some(l) if l.consumed == s.context_len => {
                l.consumed += s.tokens.len();
                Ok(l.slot)
            }
            Some(l) => Err(Error::bad_input(&op, format!("sequence {}: chunk starts at token {} but its state holds {}", s.id, s.context_len, l.consumed))),
            None => Err(Error::bad_input(&op, format!("sequence {} continues at token {} but has no state", s.id, s.context_len))),
        }
    }

    /// Sample one token per row of `logits` with the rows' parameters.
    fn sample(&mut self, logits: &Tensor, seqs: &[&StepSeqInput<'_>]) -> Result<Vec<u32>> {
        let params: Vec<SamplingParams> = seqs.iter().map(|s| s.sampling).collect();
        let rng: Vec<(u64, u64)> = seqs.iter().map(|s| (s.sampling.seed, s.output_index)).collect();
        self.sampler.set_rows(&params)?;
        self.sampler.set_rng_rows(&rng)?;
        self.sampler.enqueue(&self.ctx, logits)?;
        self.sampler.read(seqs.len())
    }
}

impl<M: RecurrentLm> StepRunner for RecurrentRunner<'_, M> {
    fn limits(&self) -> RunnerLimits {
        self.limits
    }

    fn execute(&mut self, seqs: &[StepSeqInput<'_>]) -> Result<Vec<u32>> {
        let slots = seqs.iter().map(|s| self.slot_for(s)).collect::<Result<Vec<_>>>()?;
        // Decode rows (one token after a prompt) and prefill chunks run as two batches; each
        // row's token goes back to its place in `seqs`.
        let (decode, prefill): (Vec<usize>, Vec<usize>) = (0..seqs.len()).partition(|&i| seqs[i].tokens.len() == 1 && seqs[i].context_len > 0);
        let mut tokens = vec![0u32; seqs.len()];
        for (group, is_decode) in [(decode, true), (prefill, false)] {
            if group.is_empty() {
                continue;
            }
            let ids: Vec<u32> = group.iter().flat_map(|&i| seqs[i].tokens.iter().copied()).collect();
            let lens: Vec<usize> = group.iter().map(|&i| seqs[i].tokens.len()).collect();
            let gslots: Vec<usize> = group.iter().map(|&i| slots[i]).collect();
            let step = if is_decode { Step::Decode } else { Step::Prefill { lens: &lens } };
            let logits = match self.bucket(group.len()).filter(|_| is_decode) {
                Some(bucket) => self.decode_graphed(bucket, &ids, &gslots)?,
                None => self.model.forward_device(&self.ctx, &ids, step, &self.cache, &gslots, LogitsRows::Last, false)?.0,
            };
            let rows: Vec<&StepSeqInput<'_>> = group.iter().map(|&i| &seqs[i]).collect();
            for (&i, t) in group.iter().zip(self.sample(&logits, &rows)?) {
                tokens[i] = t;
            }
        }
        Ok(tokens)
    }

    fn release(&mut self, id: SeqId) {
        if let Some(l) = self.live.remove(&id) {
            // The slot was allocated by this runner, so freeing it cannot fail.
            let _ = self.cache.slots_mut().free(l.slot);
        }
    }

    fn describe(&self) -> String {
        let bytes = self.cache.spec().bytes_per_slot() * self.limits.max_num_seqs;
        format!(
            "{}, {} on {}; recurrent state {} slots ({:.1} MiB)",
            self.model.describe_shape(),
            self.model.dtype(),
            self.ctx.device.info().name,
            self.limits.max_num_seqs,
            bytes as f64 / (1u64 << 20) as f64
        )
    }
}
