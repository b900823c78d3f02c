//! A [`StepRunner`] for any [`CausalLm`] on the GPU: the paged KV cache sized from free
//! device memory, step buffers and scratch allocated once at their maximum, per-row sampling
//! on the device, and decode-only steps replayed from CUDA graphs captured per batch-size
//! bucket (a batch of `b` is padded up to its bucket, as vLLM and SGLang do, so a few graphs
//! cover every batch size). Steps with prefill rows run eagerly.

use super::runner::{RunnerLimits, StepRunner, StepSeqInput};
use crate::graphs::DecodeGraphs;
use crate::kv_cache::PagedKvCache;
use crate::model::{CausalLm, ScratchSizes};
use crate::sampling::{Sampler, SamplingParams};
use crate::step::{SeqStep, StepBuffers, StepPlan};
use fk_baselines::Context;
use fk_runtime::event::Event;
use fk_runtime::{Error, Result, Tensor};

#[derive(Clone, Copy, Debug, serde::Serialize)]
pub struct GpuRunnerConfig {
    /// Most sequences in one step (vLLM's `max_num_seqs`).
    pub max_num_seqs: usize,
    /// Most tokens in one step: the chunked-prefill budget (vLLM's `max_num_batched_tokens`).
    pub max_batched_tokens: usize,
    pub block_size: usize,
    /// Most tokens (prompt + output) of one sequence; at most the model's
    /// `max_position_embeddings`. Block-table rows are this long, so do not oversize it.
    pub max_model_len: usize,
    /// Fraction of the device's memory this process may hold once the KV cache is allocated.
    pub gpu_memory_utilization: f64,
    /// Exact number of KV blocks (tests), instead of sizing from free memory.
    pub num_blocks: Option<usize>,
    pub cuda_graphs: bool,
    /// Largest decode batch replayed from a graph; larger ones run eagerly.
    pub max_graph_batch: usize,
    /// When the KV cache cannot hold one sequence of `max_model_len`, serve the context it
    /// can hold (the runner's limits say how much) instead of failing.
    pub fit_context_to_memory: bool,
}

impl Default for GpuRunnerConfig {
    fn default() -> Self {
        GpuRunnerConfig {
            max_num_seqs: 256,
            max_batched_tokens: 8192,
            block_size: 16,
            max_model_len: 8192,
            gpu_memory_utilization: 0.9,
            num_blocks: None,
            cuda_graphs: true,
            max_graph_batch: 256,
            fit_context_to_memory: false,
        }
    }
}

/// Memory kept free beyond the KV cache for cuBLASLt workspaces, graph instantiation and
/// whatever the pool rounds up.
const HEADROOM_BYTES: usize = 1 << 30;

pub struct GpuRunner<'m, M: CausalLm> {
    model: &'m M,
    ctx: Context,
    cfg: GpuRunnerConfig,
    limits: RunnerLimits,
    kv: PagedKvCache,
    bufs: StepBuffers,
    scratch: M::Scratch,
    sampler: Sampler,
    /// `[max_num_seqs, vocab]`: one logits row per sequence of a step.
    logits: Tensor,
    max_blocks: usize,
    buckets: Vec<usize>,
    graphs: DecodeGraphs,
    /// Events around each decode step's GPU work and their running total (seconds).
    decode_events: (Event, Event),
    decode_device_s: f64,
}

impl<'m, M: CausalLm> GpuRunner<'m, M> {
    pub fn new(model: &'m M, ctx: &Context, cfg: GpuRunnerConfig) -> Result<GpuRunner<'m, M>> {
        let spec = model.spec();
        if cfg.max_num_seqs == 0 || cfg.max_batched_tokens == 0 || cfg.block_size == 0 || cfg.max_model_len == 0 {
            return Err(Error::config(format!("engine sizes must all be > 0: {cfg:?}")));
        }
        if cfg.max_model_len > spec.max_position_embeddings {
            return Err(Error::config(format!(
                "max_model_len {} exceeds the model's max_position_embeddings {}",
                cfg.max_model_len, spec.max_position_embeddings
            )));
        }
        if cfg.max_batched_tokens < cfg.max_num_seqs {
            return Err(Error::config(format!("max_batched_tokens {} must be >= max_num_seqs {}", cfg.max_batched_tokens, cfg.max_num_seqs)));
        }
        if !(cfg.gpu_memory_utilization > 0.0 && cfg.gpu_memory_utilization <= 1.0) {
            return Err(Error::config(format!("gpu_memory_utilization {} must be in (0, 1]", cfg.gpu_memory_utilization)));
        }
        let dev = &ctx.device;
        let max_blocks = cfg.max_model_len.div_ceil(cfg.block_size);
        let sizes = ScratchSizes { max_tokens: cfg.max_batched_tokens, max_seqs: cfg.max_num_seqs, max_blocks, block_size: cfg.block_size };
        let scratch = model.scratch(&sizes)?;
        let bufs = StepBuffers::new(dev, cfg.max_batched_tokens, cfg.max_num_seqs, max_blocks, model.needs_per_token_view())?;
        let sampler = Sampler::new(dev, cfg.max_num_seqs, spec.vocab_size)?;
        let logits = Tensor::empty(dev, &[cfg.max_num_seqs, spec.vocab_size], spec.dtype)?;
        let block_bytes = cfg.block_size * PagedKvCache::bytes_per_token(spec.num_layers, spec.kv_heads, spec.head_dim, spec.dtype);
        let useful = cfg.max_num_seqs * max_blocks; // more blocks than every sequence at full length is waste
        let num_blocks = match cfg.num_blocks {
            Some(n) => n,
            None => {
                dev.synchronize()?;
                let (free, total) = dev.mem_info()?;
                let reserved = total - (total as f64 * cfg.gpu_memory_utilization) as usize;
                let budget = free.saturating_sub(reserved).saturating_sub(HEADROOM_BYTES);
                (budget / block_bytes).min(useful)
            }
        };
        let max_model_len = if num_blocks < max_blocks && cfg.fit_context_to_memory && num_blocks > 0 {
            num_blocks * cfg.block_size
        } else {
            cfg.max_model_len
        };
        if num_blocks < max_model_len.div_ceil(cfg.block_size) {
            return Err(Error::config(format!(
                "the KV cache gets {num_blocks} blocks of {} tokens ({:.2} GiB), fewer than one sequence of max_model_len {} needs ({max_blocks}): \
                 lower max_model_len or max_num_seqs, or raise gpu_memory_utilization",
                cfg.block_size,
                (num_blocks * block_bytes) as f64 / (1u64 << 30) as f64,
                cfg.max_model_len
            )));
        }
        let kv = PagedKvCache::new(dev, spec.num_layers, num_blocks, cfg.block_size, spec.kv_heads, spec.head_dim, spec.dtype)?;
        let top = cfg.max_graph_batch.min(cfg.max_num_seqs);
        let mut buckets: Vec<usize> = [1, 2, 4].into_iter().chain((8..=top).step_by(8)).filter(|&b| b <= top).collect();
        if buckets.last() != Some(&top) && top > 0 {
            buckets.push(top);
        }
        let limits = RunnerLimits {
            num_blocks,
            block_size: cfg.block_size,
            max_model_len,
            max_num_seqs: cfg.max_num_seqs,
            max_batched_tokens: cfg.max_batched_tokens,
            vocab_size: spec.vocab_size,
        };
        let decode_events = (Event::new(dev)?, Event::new(dev)?);
        Ok(GpuRunner {
            model,
            ctx: ctx.clone(),
            cfg,
            limits,
            kv,
            bufs,
            scratch,
            sampler,
            logits,
            max_blocks,
            buckets,
            graphs: DecodeGraphs::new(cfg.cuda_graphs),
            decode_events,
            decode_device_s: 0.0,
        })
    }

    pub fn config(&self) -> &GpuRunnerConfig {
        &self.cfg
    }

    /// CUDA graphs captured so far.
    pub fn graphs_captured(&self) -> usize {
        self.graphs.len()
    }

    /// KV cache bytes on the device.
    pub fn kv_cache_bytes(&self) -> usize {
        let s = self.model.spec();
        self.limits.num_blocks * self.cfg.block_size * PagedKvCache::bytes_per_token(s.num_layers, s.kv_heads, s.head_dim, s.dtype)
    }

    /// Capture the graph of every decode bucket now, as vLLM does at startup, so no timed
    /// step pays for a capture. Every row is padding: nothing is written to the cache.
    pub fn capture_decode_graphs(&mut self) -> Result<()> {
        if !self.graphs.enabled() {
            return Ok(());
        }
        for n in self.buckets.clone() {
            let mut plan = StepPlan { max_blocks: self.max_blocks, ..StepPlan::default() };
            plan.pad_decode(n)?;
            self.run_plan(&plan, &vec![SamplingParams::greedy(); n], &vec![(0, 0); n], Some(n), false)?;
        }
        self.ctx.device.synchronize()
    }

    /// Upload `plan` and its sampling rows, then run the model and the sampler: replayed
    /// from the graph of `bucket` when given, else eagerly. Leaves the tokens in the sampler.
    /// With `timed`, CUDA events bracket the kernels (after the uploads, which are synchronous
    /// copies), for [`StepRunner::decode_device_seconds`].
    fn run_plan(&mut self, plan: &StepPlan, params: &[SamplingParams], rng: &[(u64, u64)], bucket: Option<usize>, timed: bool) -> Result<()> {
        let rows = plan.num_seqs();
        self.sampler.set_rows(params)?;
        self.sampler.set_rng_rows(rng)?;
        let batch = self.bufs.upload(plan)?;
        if timed {
            self.decode_events.0.record()?;
        }
        let logits = self.logits.narrow(0, 0, rows)?;
        let (model, ctx, kv, scratch, sampler) = (self.model, &self.ctx, &self.kv, &self.scratch, &self.sampler);
        let run = || -> Result<()> {
            model.forward(ctx, &batch, kv, scratch, &logits)?;
            sampler.enqueue(ctx, &logits)
        };
        match bucket {
            Some(n) => self.graphs.run(&ctx.device, n, run)?,
            None => run()?,
        }
        if timed {
            self.decode_events.1.record()?;
        }
        Ok(())
    }

    /// The graph bucket a decode-only batch of `b` replays, if any.
    fn bucket(&self, b: usize) -> Option<usize> {
        if !self.graphs.enabled() {
            return None;
        }
        self.buckets.iter().copied().find(|&n| n >= b)
    }
}

impl<M: CausalLm> StepRunner for GpuRunner<'_, M> {
    fn limits(&self) -> RunnerLimits {
        self.limits
    }

    fn execute(&mut self, seqs: &[StepSeqInput<'_>]) -> Result<Vec<u32>> {
        let b = seqs.len();
        if b == 0 {
            return Ok(Vec::new());
        }
        let steps: Vec<SeqStep<'_>> = seqs.iter().map(|s| SeqStep { tokens: s.tokens, context_len: s.context_len, block_table: s.block_table }).collect();
        let decode_only = seqs.iter().all(|s| s.tokens.len() == 1 && s.context_len > 0);
        let bucket = if decode_only { self.bucket(b) } else { None };
        let mut plan = StepPlan::new(&steps, self.cfg.block_size, self.max_blocks, !decode_only && self.model.needs_per_token_view())?;
        let rows = match bucket {
            Some(n) => {
                plan.pad_decode(n - b)?;
                n
            }
            None => b,
        };
        // Per-row sampling: padding rows are greedy and their tokens are never read.
        let mut params: Vec<SamplingParams> = seqs.iter().map(|s| s.sampling).collect();
        params.resize(rows, SamplingParams::greedy());
        let mut rng: Vec<(u64, u64)> = seqs.iter().map(|s| (s.sampling.seed, s.output_index)).collect();
        rng.resize(rows, (0, 0));
        self.run_plan(&plan, &params, &rng, bucket, decode_only)?;
        let tokens = self.sampler.read(b)?;
        if decode_only {
            self.decode_device_s += self.decode_events.0.elapsed_ms(&self.decode_events.1)? * 1e-3;
        }
        Ok(tokens)
    }

    fn decode_device_seconds(&self) -> Option<f64> {
        Some(self.decode_device_s)
    }

    fn describe(&self) -> String {
        let s = self.model.spec();
        format!(
            "{} layers, hidden {}, {} on {}; KV cache {} blocks x {} tokens ({:.1} GiB)",
            s.num_layers,
            s.hidden_size,
            s.dtype,
            self.ctx.device.info().name,
            self.limits.num_blocks,
            self.cfg.block_size,
            self.kv_cache_bytes() as f64 / (1u64 << 30) as f64
        )
    }
}
