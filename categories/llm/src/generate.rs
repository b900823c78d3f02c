//! Generation for a static batch of prompts: one prefill step over all prompts, then decode
//! steps in lockstep until every sequence stops (max new tokens or an EOS id). Decode steps
//! are replayed from CUDA graphs captured per batch size. This is `cargo fastkernels
//! generate` and the L4 benchmarks; the engine (continuous batching) reuses its pieces.

use crate::graphs::DecodeGraphs;
use crate::kv_blocks::{KvBlockManager, SeqId};
use crate::kv_cache::PagedKvCache;
use crate::model::{CausalLm, ScratchSizes};
use crate::sampling::{Sampler, SamplingParams};
use crate::step::{ForwardBatch, SeqStep, StepBuffers, StepPlan};
use fk_baselines::Context;
use fk_runtime::{Error, Result, Tensor};
use std::time::Instant;

/// Capacity of a [`Generator`].
#[derive(Clone, Copy, Debug)]
pub struct GeneratorOptions {
    /// Most sequences generated together.
    pub max_batch: usize,
    /// Most tokens (prompt + generated) of one sequence.
    pub max_model_len: usize,
    /// Most prompt tokens in one prefill step; longer prompts (or batches) are prefilled in
    /// chunks over several steps (chunked prefill), each chunk attending to the cached ones.
    pub max_prefill_tokens: usize,
    /// Tokens per KV block (vLLM's default 16).
    pub block_size: usize,
    /// Replay decode steps from CUDA graphs.
    pub cuda_graphs: bool,
}

impl Default for GeneratorOptions {
    fn default() -> Self {
        GeneratorOptions { max_batch: 1, max_model_len: 4096, max_prefill_tokens: 4096, block_size: 16, cuda_graphs: true }
    }
}

/// When to stop and how to pick tokens.
#[derive(Clone, Debug)]
pub struct GenerationConfig {
    pub max_new_tokens: usize,
    pub sampling: SamplingParams,
    pub eos_token_ids: Vec<u32>,
    pub ignore_eos: bool,
}

#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct GenerationTiming {
    /// Seconds from the call to the first generated token of every sequence (prefill).
    pub ttft_s: f64,
    /// Seconds spent in decode steps.
    pub decode_s: f64,
    pub decode_steps: usize,
    pub total_s: f64,
    /// Generated tokens per second per sequence during decode.
    pub decode_tok_per_s: f64,
}

#[derive(Clone, Debug)]
pub struct Generation {
    /// Generated tokens of each prompt, in order.
    pub tokens: Vec<Vec<u32>>,
    pub timing: GenerationTiming,
}

pub struct Generator<'m, M: CausalLm> {
    model: &'m M,
    ctx: Context,
    opts: GeneratorOptions,
    kv: PagedKvCache,
    blocks: KvBlockManager,
    bufs: StepBuffers,
    scratch: M::Scratch,
    sampler: Sampler,
    /// `[max_batch, vocab]`: the logits sampled from (decode steps write here directly).
    logits: Tensor,
    /// `[max_batch, vocab]`: a prefill step's logits, before each finished prompt's row is
    /// moved to its row of `logits` (a later prefill step must not overwrite earlier rows).
    step_logits: Tensor,
    max_blocks: usize,
    graphs: DecodeGraphs,
    next_id: SeqId,
}

impl<'m, M: CausalLm> Generator<'m, M> {
    pub fn new(model: &'m M, ctx: &Context, opts: GeneratorOptions) -> Result<Generator<'m, M>> {
        let spec = model.spec();
        if opts.max_batch == 0 || opts.max_model_len == 0 || opts.max_prefill_tokens == 0 || opts.block_size == 0 {
            return Err(Error::config(format!("generator options must all be > 0: {opts:?}")));
        }
        if opts.max_model_len > spec.max_position_embeddings {
            return Err(Error::config(format!(
                "max_model_len {} exceeds the model's max_position_embeddings {}",
                opts.max_model_len, spec.max_position_embeddings
            )));
        }
        let dev = &ctx.device;
        let max_blocks = opts.max_model_len.div_ceil(opts.block_size);
        let num_blocks = opts.max_batch * max_blocks;
        let kv = PagedKvCache::new(dev, spec.num_layers, num_blocks, opts.block_size, spec.kv_heads, spec.head_dim, spec.dtype)?;
        let max_tokens = opts.max_prefill_tokens.max(opts.max_batch);
        let sizes = ScratchSizes { max_tokens, max_seqs: opts.max_batch, max_blocks, block_size: opts.block_size };
        Ok(Generator {
            model,
            ctx: ctx.clone(),
            opts,
            kv,
            blocks: KvBlockManager::new(num_blocks, opts.block_size),
            bufs: StepBuffers::new(dev, max_tokens, opts.max_batch, max_blocks, model.needs_per_token_view())?,
            scratch: model.scratch(&sizes)?,
            sampler: Sampler::new(dev, opts.max_batch, spec.vocab_size)?,
            logits: Tensor::empty(dev, &[opts.max_batch, spec.vocab_size], spec.dtype)?,
            step_logits: Tensor::empty(dev, &[opts.max_batch, spec.vocab_size], spec.dtype)?,
            max_blocks,
            graphs: DecodeGraphs::new(opts.cuda_graphs),
            next_id: 0,
        })
    }

    pub fn options(&self) -> &GeneratorOptions {
        &self.opts
    }

    pub fn kv_cache(&self) -> &PagedKvCache {
        &self.kv
    }

    fn check_prompts(&self, prompts: &[Vec<u32>], new_tokens: usize) -> Result<()> {
        let spec = self.model.spec();
        if prompts.is_empty() || prompts.len() > self.opts.max_batch {
            return Err(Error::bad_input("generate", format!("{} prompts; this generator takes 1..={}", prompts.len(), self.opts.max_batch)));
        }
        for (i, p) in prompts.iter().enumerate() {
            if p.is_empty() {
                return Err(Error::bad_input("generate", format!("prompt {i} is empty")));
            }
            if p.len() + new_tokens > self.opts.max_model_len {
                return Err(Error::bad_input(
                    "generate",
                    format!("prompt {i} has {} tokens; with {new_tokens} new tokens that exceeds the context of {} tokens", p.len(), self.opts.max_model_len),
                ));
            }
            if let Some((pos, &id)) = p.iter().enumerate().find(|(_, &id)| id as usize >= spec.vocab_size) {
                return Err(Error::bad_input("generate", format!("prompt {i} token {pos} has id {id}, outside the vocabulary [0, {})", spec.vocab_size)));
            }
        }
        Ok(())
    }

    /// Register `prompts` as new sequences and grow them by their prompt lengths.
    fn admit(&mut self, prompts: &[Vec<u32>]) -> Result<Vec<SeqId>> {
        let mut ids = Vec::with_capacity(prompts.len());
        for p in prompts {
            let id = self.next_id;
            self.next_id += 1;
            self.blocks.add_sequence(id).map_err(|e| Error::bad_input("generate", e.to_string()))?;
            ids.push(id);
            self.blocks.append(id, p.len()).map_err(|e| Error::bad_input("generate", e.to_string()))?;
        }
        Ok(ids)
    }

    fn release(&mut self, ids: &[SeqId]) {
        for &id in ids {
            let _ = self.blocks.free(id);
        }
    }

    /// Prefill freshly admitted sequences in steps of at most `max_prefill_tokens` tokens
    /// (prompts are packed in order; a long prompt spans several steps, each chunk attending
    /// to the chunks already cached). After each step, `sink(step logits, members)` gets the
    /// logits (`[rows, vocab]`: one row per member, or one per token with `all_logits`) and
    /// `(prompt index, chunk start, chunk length)` of each member, in row order.
    fn run_prefill(
        &mut self,
        ids: &[SeqId],
        prompts: &[Vec<u32>],
        all_logits: bool,
        mut sink: impl FnMut(&Tensor, &[(usize, usize, usize)]) -> Result<()>,
    ) -> Result<()> {
        let budget = self.opts.max_prefill_tokens;
        let mut done = vec![0usize; prompts.len()];
        let mut next = 0;
        while next < prompts.len() {
            let mut members = Vec::new();
            let mut used = 0;
            for i in next..prompts.len() {
                if used == budget || members.len() == self.opts.max_batch {
                    break;
                }
                let take = (prompts[i].len() - done[i]).min(budget - used);
                members.push((i, done[i], take));
                used += take;
            }
            let tables: Vec<&[u32]> =
                members.iter().map(|&(i, _, _)| self.blocks.block_table(ids[i]).map_err(|e| Error::bad_input("generate", e.to_string()))).collect::<Result<_>>()?;
            let steps: Vec<SeqStep<'_>> = members
                .iter()
                .zip(&tables)
                .map(|(&(i, start, take), t)| SeqStep { tokens: &prompts[i][start..start + take], context_len: start, block_table: t })
                .collect();
            let plan = StepPlan::new(&steps, self.opts.block_size, self.max_blocks, self.model.needs_per_token_view())?;
            let plan = if all_logits { plan.all_logits() } else { plan };
            let batch = self.bufs.upload(&plan)?;
            let spec = self.model.spec();
            let rows = plan.logits_rows.len();
            let logits = if all_logits { Tensor::empty(&self.ctx.device, &[rows, spec.vocab_size], spec.dtype)? } else { self.step_logits.narrow(0, 0, rows)? };
            self.model.forward(&self.ctx, &batch, &self.kv, &self.scratch, &logits)?;
            sink(&logits, &members)?;
            for &(i, _, take) in &members {
                done[i] += take;
            }
            while next < prompts.len() && done[next] == prompts[next].len() {
                next += 1;
            }
        }
        Ok(())
    }

    /// Run one prompt and return the logits of every position (`[len, vocab]` f32), as
    /// `--logits-out` and the golden tests use them. `inspect` runs instead of the plain
    /// forward (e.g. a model's debug forward); pass `None` for the plain one.
    #[allow(clippy::type_complexity)]
    pub fn prompt_logits(
        &mut self,
        prompt: &[u32],
        inspect: Option<&mut dyn FnMut(&M, &Context, &ForwardBatch, &PagedKvCache, &M::Scratch, &Tensor) -> Result<()>>,
    ) -> Result<Vec<f32>> {
        let prompts = [prompt.to_vec()];
        self.check_prompts(&prompts, 0)?;
        let ids = self.admit(&prompts)?;
        let result = match inspect {
            // The debug forward sees the whole prompt in one step.
            Some(f) => (|| {
                if prompt.len() > self.opts.max_prefill_tokens {
                    return Err(Error::bad_input("prompt_logits", format!("{} tokens exceed max_prefill_tokens {} for an inspected forward", prompt.len(), self.opts.max_prefill_tokens)));
                }
                let table = self.blocks.block_table(ids[0]).map_err(|e| Error::bad_input("generate", e.to_string()))?;
                let step = [SeqStep { tokens: prompt, context_len: 0, block_table: table }];
                let plan = StepPlan::new(&step, self.opts.block_size, self.max_blocks, self.model.needs_per_token_view())?.all_logits();
                let batch = self.bufs.upload(&plan)?;
                let logits = Tensor::empty(&self.ctx.device, &[prompt.len(), self.model.spec().vocab_size], self.model.spec().dtype)?;
                f(self.model, &self.ctx, &batch, &self.kv, &self.scratch, &logits)?;
                logits.to_f32()
            })(),
            None => {
                let mut all = Vec::with_capacity(prompt.len() * self.model.spec().vocab_size);
                self.run_prefill(&ids, &prompts, true, |logits, _| {
                    all.extend(logits.to_f32()?);
                    Ok(())
                })
                .map(|_| all)
            }
        };
        self.release(&ids);
        result
    }

    /// Generate for each prompt (a static batch: all prefilled together, then decoded in
    /// lockstep; finished sequences drop out of the batch).
    pub fn generate(&mut self, prompts: &[Vec<u32>], cfg: &GenerationConfig) -> Result<Generation> {
        self.check_prompts(prompts, cfg.max_new_tokens)?;
        cfg.sampling.validate()?;
        let t0 = Instant::now();
        let ids = self.admit(prompts)?;
        let result = self.generate_admitted(&ids, prompts, cfg, t0);
        self.release(&ids);
        result
    }

    fn generate_admitted(&mut self, ids: &[SeqId], prompts: &[Vec<u32>], cfg: &GenerationConfig, t0: Instant) -> Result<Generation> {
        let n = prompts.len();
        let mut out: Vec<Vec<u32>> = vec![Vec::new(); n];
        let mut timing = GenerationTiming::default();
        if cfg.max_new_tokens == 0 {
            return Ok(Generation { tokens: out, timing });
        }
        // Prefill (chunked when the prompts exceed one step's token budget): gather the
        // logits of each prompt's last token into row i of `first_logits`.
        let first_logits = self.logits.narrow(0, 0, n)?;
        let vocab_bytes = self.model.spec().vocab_size * self.model.spec().dtype.size();
        let dev = self.ctx.device.clone();
        self.run_prefill(ids, prompts, false, |logits, members| {
            for (row, &(i, start, take)) in members.iter().enumerate() {
                if start + take == prompts[i].len() {
                    dev.dtod(first_logits.ptr() + (i * vocab_bytes) as u64, logits.ptr() + (row * vocab_bytes) as u64, vocab_bytes)?;
                }
            }
            Ok(())
        })?;
        let logits = first_logits;
        let seeds: Vec<u64> = (0..n).map(|i| cfg.sampling.seed.wrapping_add(i as u64)).collect();
        let first = self.sampler.sample(&self.ctx, &logits, &cfg.sampling, &seeds, 0)?;
        timing.ttft_s = t0.elapsed().as_secs_f64();
        let stops = |t: u32| !cfg.ignore_eos && cfg.eos_token_ids.contains(&t);
        let mut active: Vec<usize> = Vec::with_capacity(n);
        for (i, &t) in first.iter().enumerate() {
            out[i].push(t);
            if !stops(t) && cfg.max_new_tokens > 1 {
                active.push(i);
            }
        }
        let t_decode = Instant::now();
        let mut step = 1u64;
        while !active.is_empty() {
            let toks: Vec<[u32; 1]> = active.iter().map(|&i| [*out[i].last().expect("one token per active sequence")]).collect();
            let mut lens = Vec::with_capacity(active.len());
            for &i in &active {
                lens.push(self.blocks.seq_len(ids[i]).map_err(|e| Error::bad_input("generate", e.to_string()))?);
                self.blocks.append(ids[i], 1).map_err(|e| Error::bad_input("generate", e.to_string()))?;
            }
            let tables: Vec<&[u32]> = active.iter().map(|&i| self.blocks.block_table(ids[i]).expect("admitted")).collect();
            let steps: Vec<SeqStep<'_>> =
                toks.iter().zip(&lens).zip(&tables).map(|((t, &c), b)| SeqStep { tokens: t, context_len: c, block_table: b }).collect();
            let plan = StepPlan::new(&steps, self.opts.block_size, self.max_blocks, false)?;
            let b = active.len();
            let batch = self.bufs.upload(&plan)?;
            let logits = self.logits.narrow(0, 0, b)?;
            let seeds: Vec<u64> = active.iter().map(|&i| cfg.sampling.seed.wrapping_add(i as u64)).collect();
            self.sampler.set_params(&cfg.sampling, b)?;
            self.sampler.set_rng(&seeds, step)?;
            self.decode_step(b, &batch, &logits)?;
            let next = self.sampler.read(b)?;
            step += 1;
            let mut still = Vec::with_capacity(b);
            for (&i, &t) in active.iter().zip(&next) {
                out[i].push(t);
                if !stops(t) && out[i].len() < cfg.max_new_tokens {
                    still.push(i);
                }
            }
            active = still;
            timing.decode_steps += 1;
        }
        timing.decode_s = t_decode.elapsed().as_secs_f64();
        timing.total_s = t0.elapsed().as_secs_f64();
        if timing.decode_steps > 0 {
            timing.decode_tok_per_s = timing.decode_steps as f64 / timing.decode_s;
        }
        Ok(Generation { tokens: out, timing })
    }

    /// One decode step of `b` sequences, sampling included (into the sampler's output):
    /// replayed from the graph for `b` (captured on first use, after one eager run that loads
    /// every kernel and GEMM plan), or run eagerly.
    fn decode_step(&mut self, b: usize, batch: &ForwardBatch, logits: &Tensor) -> Result<()> {
        let (model, ctx, kv, scratch, sampler) = (self.model, &self.ctx, &self.kv, &self.scratch, &self.sampler);
        self.graphs.run(&ctx.device, b, || {
            model.forward(ctx, batch, kv, scratch, logits)?;
            sampler.enqueue(ctx, logits)
        })
    }
}
