//! "A model the engine can run", whatever it keeps per sequence: the one interface `eval`,
//! `serve` and `generate` use, so no command is generic over architectures or knows which
//! runner a model needs.
//!
//! - [`KvCacheModel`] wraps any [`CausalLm`] (Llama, Mixtral, …): the family's `GpuRunner`
//!   over the paged KV cache, with CUDA-graph decode.
//! - [`RecurrentModel`] wraps any [`RecurrentLm`] (Mamba, Mamba-2, …): a fixed-size
//!   recurrent state per sequence, run by the family's `RecurrentRunner` (CUDA-graph decode
//!   by state slot).
//!
//! Runners come back boxed (`Box<dyn StepRunner>` is a `StepRunner`): a dynamic call per
//! engine step costs nothing next to a step's kernels, and it keeps every command one code
//! path.

use anyhow::{bail, Result};
use fk_baselines::Context;
use fk_llm::engine::{EngineStats, GpuRunner, GpuRunnerConfig, StepRunner};
use fk_linear_attn::{LogitsRows, RecurrentLm, RecurrentRunner, RecurrentRunnerConfig, Step};
use fk_llm::{CausalLm, Generator, GeneratorOptions, PagedKvCache};
use fk_runtime::DType;
use serde::Serialize;

/// Longest sequence (prompt + output) a recurrent model is sized for when nothing smaller is
/// asked. Mamba has no position embeddings and its state does not grow with the context, so
/// the model itself sets no limit; this one bounds the scheduler's host-side bookkeeping
/// (`max_num_seqs * len / 16` block ids, 16 MiB at 256 sequences) and request bodies, and
/// holds `LLM.long_context`'s 128K-token prompts uncut.
pub const RECURRENT_MAX_MODEL_LEN: usize = 1 << 18;
// LLM.long_context's longest request (128K prompt + 256 output tokens) must fit uncut.
const _: () = assert!(RECURRENT_MAX_MODEL_LEN >= 128 * 1024 + 256);

/// What a model keeps per sequence between engine steps.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum CacheKind {
    /// Keys and values of every past token in the paged KV cache: grows with the context.
    PagedKv { bytes_per_token: usize },
    /// One fixed-size recurrent state (conv window + SSM state) per sequence.
    Recurrent { bytes_per_sequence: usize },
}

/// What the commands need to know about a loaded model.
#[derive(Clone, Debug, Serialize)]
pub struct ModelInfo {
    /// The architecture (`model_type`).
    pub arch: String,
    #[serde(serialize_with = "as_string")]
    pub dtype: DType,
    pub vocab_size: usize,
    pub eos_token_ids: Vec<u32>,
    /// The checkpoint's context; `None` for a model without positions (recurrent).
    pub max_position_embeddings: Option<usize>,
    /// Weight bytes one decode step reads (its roofline).
    pub streamed_weight_bytes: usize,
    pub cache: CacheKind,
}

fn as_string<S: serde::Serializer>(d: &DType, s: S) -> std::result::Result<S::Ok, S::Error> {
    s.collect_str(d)
}

impl ModelInfo {
    /// Longest sequence a runner of this model may be sized for: the model's positions, or
    /// [`RECURRENT_MAX_MODEL_LEN`] for a model without them.
    pub fn max_model_len(&self) -> usize {
        self.max_position_embeddings.unwrap_or(RECURRENT_MAX_MODEL_LEN)
    }

    /// Bytes the decode-only steps of `s` read besides the weights: every row's past K/V, or
    /// every row's recurrent state, read and written back in place.
    pub fn decode_cache_bytes(&self, s: &EngineStats) -> f64 {
        match self.cache {
            CacheKind::PagedKv { bytes_per_token } => s.decode_kv_tokens as f64 * bytes_per_token as f64,
            CacheKind::Recurrent { bytes_per_sequence } => 2.0 * s.decode_rows as f64 * bytes_per_sequence as f64,
        }
    }

    /// Decode bandwidth of `s` in GB/s (weights once per step plus [`Self::decode_cache_bytes`]
    /// over the steps' wall time), when there were decode steps.
    pub fn decode_gbs(&self, s: &EngineStats) -> Option<f64> {
        (s.decode_steps > 0 && s.decode_s > 0.0)
            .then(|| (s.decode_steps as f64 * self.streamed_weight_bytes as f64 + self.decode_cache_bytes(s)) / s.decode_s / 1e9)
    }
}

/// Engine sizes a command asks for; each kind of runner takes what applies to it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct EngineSizes {
    pub max_num_seqs: usize,
    pub max_batched_tokens: usize,
    /// Most tokens (prompt + output) of one sequence; at most [`ModelInfo::max_model_len`].
    pub max_model_len: usize,
    /// KV cache only: the fraction of device memory the process may hold once it is allocated.
    pub gpu_memory_utilization: f64,
    /// Decode steps replayed from CUDA graphs (KV-cache and recurrent runners alike).
    pub cuda_graphs: bool,
    /// KV cache only: serve the context the cache can hold when it cannot hold `max_model_len`.
    pub fit_context_to_memory: bool,
}

/// The sizes a recurrent model's runner takes (those of `MambaRunnerConfig`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct RecurrentConfig {
    pub max_num_seqs: usize,
    pub max_model_len: usize,
    pub max_batched_tokens: usize,
    /// Decode steps replayed from CUDA graphs (captured on first use of each batch bucket).
    pub cuda_graphs: bool,
}

/// The configuration a runner was built with, for reports.
#[derive(Clone, Copy, Debug, Serialize)]
#[serde(untagged)]
pub enum RunnerConfig {
    PagedKv(GpuRunnerConfig),
    Recurrent(RecurrentConfig),
}

pub struct BuiltRunner<'a> {
    pub runner: Box<dyn StepRunner + 'a>,
    pub config: RunnerConfig,
}

pub trait EngineModel {
    fn info(&self) -> &ModelInfo;

    /// A runner over this model on `ctx`'s device and op table, sized by `sizes`, ready to
    /// time (CUDA graphs, if it uses them, are captured already).
    fn runner<'a>(&'a self, ctx: &Context, sizes: &EngineSizes) -> Result<BuiltRunner<'a>>;

    /// The logits of every position of `prompt` from an empty context (`[len, vocab]` f32):
    /// what `generate --logits-out` writes.
    fn prompt_logits(&self, ctx: &Context, prompt: &[u32]) -> Result<Vec<f32>>;
}

/// The checks every runner's sizes share, against a model with `max_position_embeddings`
/// (`None`: a recurrent model), so both kinds fail the same way, and commands can check
/// their flags before loading anything.
pub fn check_sizes(max_position_embeddings: Option<usize>, s: &EngineSizes) -> Result<()> {
    if s.max_num_seqs == 0 || s.max_batched_tokens == 0 || s.max_model_len == 0 {
        bail!("engine sizes must all be > 0: {s:?}");
    }
    if s.max_batched_tokens < s.max_num_seqs {
        bail!("max_batched_tokens {} must be >= max_num_seqs {} (a step holds one decode token per sequence)", s.max_batched_tokens, s.max_num_seqs);
    }
    match max_position_embeddings {
        Some(p) if s.max_model_len > p => bail!("max_model_len {} exceeds the model's max_position_embeddings {p}", s.max_model_len),
        None if s.max_model_len > RECURRENT_MAX_MODEL_LEN => {
            bail!("max_model_len {} exceeds {RECURRENT_MAX_MODEL_LEN} tokens, the most a recurrent model is sized for", s.max_model_len)
        }
        _ => Ok(()),
    }
}

/// Block size of the KV cache (vLLM's default).
const KV_BLOCK_SIZE: usize = 16;

/// The `GpuRunner` configuration for `s`.
pub fn gpu_runner_config(s: &EngineSizes) -> GpuRunnerConfig {
    GpuRunnerConfig {
        max_num_seqs: s.max_num_seqs,
        max_batched_tokens: s.max_batched_tokens,
        block_size: KV_BLOCK_SIZE,
        max_model_len: s.max_model_len,
        gpu_memory_utilization: s.gpu_memory_utilization,
        num_blocks: None,
        cuda_graphs: s.cuda_graphs,
        max_graph_batch: s.max_num_seqs.min(GpuRunnerConfig::default().max_graph_batch),
        fit_context_to_memory: s.fit_context_to_memory,
    }
}

/// A KV-cache model: any [`CausalLm`] under the family's `GpuRunner`.
pub struct KvCacheModel<M> {
    model: M,
    info: ModelInfo,
}

impl<M: CausalLm> KvCacheModel<M> {
    pub fn new(model: M, arch: &str, eos_token_ids: Vec<u32>) -> KvCacheModel<M> {
        let s = model.spec();
        let info = ModelInfo {
            arch: arch.to_string(),
            dtype: s.dtype,
            vocab_size: s.vocab_size,
            eos_token_ids,
            max_position_embeddings: Some(s.max_position_embeddings),
            streamed_weight_bytes: model.streamed_weight_bytes(),
            cache: CacheKind::PagedKv { bytes_per_token: PagedKvCache::bytes_per_token(s.num_layers, s.kv_heads, s.head_dim, s.dtype) },
        };
        KvCacheModel { model, info }
    }
}

impl<M> EngineModel for KvCacheModel<M>
where
    M: CausalLm + 'static,
    M::Scratch: 'static,
{
    fn info(&self) -> &ModelInfo {
        &self.info
    }

    fn runner<'a>(&'a self, ctx: &Context, sizes: &EngineSizes) -> Result<BuiltRunner<'a>> {
        check_sizes(self.info.max_position_embeddings, sizes)?;
        let cfg = gpu_runner_config(sizes);
        let mut runner = GpuRunner::new(&self.model, ctx, cfg)?;
        // At startup, as vLLM does, so no timed step or request pays for a capture.
        runner.capture_decode_graphs()?;
        Ok(BuiltRunner { runner: Box::new(runner), config: RunnerConfig::PagedKv(cfg) })
    }

    fn prompt_logits(&self, ctx: &Context, prompt: &[u32]) -> Result<Vec<f32>> {
        if prompt.is_empty() {
            bail!("prompt_logits: the prompt is empty");
        }
        let opts = GeneratorOptions { max_batch: 1, max_model_len: prompt.len(), max_prefill_tokens: prompt.len(), block_size: KV_BLOCK_SIZE, cuda_graphs: false };
        Ok(Generator::new(&self.model, ctx, opts)?.prompt_logits(prompt, None)?)
    }
}

/// A recurrent (state-space) model under the family's runner.
pub struct RecurrentModel<M> {
    model: M,
    info: ModelInfo,
}

impl<M: RecurrentLm> RecurrentModel<M> {
    /// `arch` names it in reports; `eos_token_ids` come from its config. The model has no
    /// positions (no context limit of its own).
    pub fn new(model: M, arch: &str, eos_token_ids: Vec<u32>) -> RecurrentModel<M> {
        let info = ModelInfo {
            arch: arch.into(),
            dtype: model.dtype(),
            vocab_size: model.vocab_size(),
            eos_token_ids,
            max_position_embeddings: None,
            streamed_weight_bytes: model.streamed_weight_bytes(),
            cache: CacheKind::Recurrent { bytes_per_sequence: model.state_spec().bytes_per_slot() },
        };
        RecurrentModel { model, info }
    }
}

/// What a recurrent runner takes from `s` (it has no KV cache).
pub fn recurrent_config(s: &EngineSizes) -> RecurrentConfig {
    RecurrentConfig { max_num_seqs: s.max_num_seqs, max_model_len: s.max_model_len, max_batched_tokens: s.max_batched_tokens, cuda_graphs: s.cuda_graphs }
}

impl<M: RecurrentLm> EngineModel for RecurrentModel<M> {
    fn info(&self) -> &ModelInfo {
        &self.info
    }

    fn runner<'a>(&'a self, ctx: &Context, sizes: &EngineSizes) -> Result<BuiltRunner<'a>> {
        check_sizes(self.info.max_position_embeddings, sizes)?;
        let cfg = recurrent_config(sizes);
        let limits = RecurrentRunnerConfig { max_num_seqs: cfg.max_num_seqs, max_model_len: cfg.max_model_len, max_batched_tokens: cfg.max_batched_tokens };
        let mut runner = RecurrentRunner::new(&self.model, ctx, limits)?;
        runner.set_cuda_graphs(cfg.cuda_graphs);
        Ok(BuiltRunner { runner: Box::new(runner), config: RunnerConfig::Recurrent(cfg) })
    }

    /// The whole prompt as one prefill on a fresh state slot, logits at every position.
    fn prompt_logits(&self, ctx: &Context, prompt: &[u32]) -> Result<Vec<f32>> {
        if prompt.is_empty() {
            bail!("prompt_logits: the prompt is empty");
        }
        let m = &self.model;
        let mut cache = m.new_state_cache(1)?;
        let slot = cache.slots_mut().allocate().map_err(|e| anyhow::anyhow!("{} prompt logits: {e}", m.name()))?;
        cache.reset(slot)?;
        Ok(m.forward(ctx, prompt, Step::Prefill { lens: &[prompt.len()] }, &cache, &[slot], LogitsRows::All, false)?.logits)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(cache: CacheKind, max_pos: Option<usize>) -> ModelInfo {
        ModelInfo { arch: "x".into(), dtype: DType::BF16, vocab_size: 100, eos_token_ids: vec![0], max_position_embeddings: max_pos, streamed_weight_bytes: 1000, cache }
    }

    fn sizes(max_num_seqs: usize, max_batched_tokens: usize, max_model_len: usize) -> EngineSizes {
        EngineSizes { max_num_seqs, max_batched_tokens, max_model_len, gpu_memory_utilization: 0.9, cuda_graphs: true, fit_context_to_memory: false }
    }

    #[test]
    fn a_model_without_positions_is_capped_at_the_recurrent_limit() {
        let rec = info(CacheKind::Recurrent { bytes_per_sequence: 8 }, None);
        assert_eq!(rec.max_model_len(), RECURRENT_MAX_MODEL_LEN);
        check_sizes(rec.max_position_embeddings, &sizes(4, 64, RECURRENT_MAX_MODEL_LEN)).unwrap();
        let e = check_sizes(rec.max_position_embeddings, &sizes(4, 64, RECURRENT_MAX_MODEL_LEN + 1)).unwrap_err().to_string();
        assert!(e.contains("recurrent model"), "{e}");
        let kv = info(CacheKind::PagedKv { bytes_per_token: 8 }, Some(4096));
        assert_eq!(kv.max_model_len(), 4096);
        let e = check_sizes(kv.max_position_embeddings, &sizes(4, 64, 4097)).unwrap_err().to_string();
        assert!(e.contains("max_position_embeddings 4096"), "{e}");
    }

    #[test]
    fn bad_sizes_are_refused_by_name() {
        let rec = info(CacheKind::Recurrent { bytes_per_sequence: 8 }, None);
        assert!(check_sizes(rec.max_position_embeddings, &sizes(0, 64, 128)).unwrap_err().to_string().contains("must all be > 0"));
        assert!(check_sizes(rec.max_position_embeddings, &sizes(8, 4, 128)).unwrap_err().to_string().contains("max_batched_tokens 4 must be >= max_num_seqs 8"));
    }

    #[test]
    fn decode_bandwidth_counts_kv_tokens_or_state_reads_and_writes() {
        let stats = EngineStats { decode_steps: 10, decode_s: 1.0, decode_rows: 40, decode_kv_tokens: 4000, ..EngineStats::default() };
        let kv = info(CacheKind::PagedKv { bytes_per_token: 2 }, Some(4096));
        assert_eq!(kv.decode_cache_bytes(&stats), 8000.0);
        assert_eq!(kv.decode_gbs(&stats), Some((10.0 * 1000.0 + 8000.0) / 1e9));
        let rec = info(CacheKind::Recurrent { bytes_per_sequence: 50 }, None);
        assert_eq!(rec.decode_cache_bytes(&stats), 2.0 * 40.0 * 50.0);
        assert_eq!(rec.decode_gbs(&EngineStats::default()), None, "no decode steps, no figure");
    }

    #[test]
    fn runner_configs_take_what_applies_to_them() {
        let s = EngineSizes { max_num_seqs: 300, max_batched_tokens: 8192, max_model_len: 1000, gpu_memory_utilization: 0.5, cuda_graphs: false, fit_context_to_memory: true };
        let g = gpu_runner_config(&s);
        assert_eq!((g.max_num_seqs, g.max_batched_tokens, g.max_model_len, g.block_size), (300, 8192, 1000, 16));
        assert_eq!((g.gpu_memory_utilization, g.cuda_graphs, g.fit_context_to_memory, g.max_graph_batch, g.num_blocks), (0.5, false, true, 256, None));
        assert_eq!(recurrent_config(&s), RecurrentConfig { max_num_seqs: 300, max_model_len: 1000, max_batched_tokens: 8192, cuda_graphs: false });
        let v = serde_json::to_value(RunnerConfig::Recurrent(recurrent_config(&s))).unwrap();
        assert_eq!(v, serde_json::json!({"max_num_seqs": 300, "max_model_len": 1000, "max_batched_tokens": 8192, "cuda_graphs": false}));
        let v = serde_json::to_value(RunnerConfig::PagedKv(g)).unwrap();
        assert_eq!(v["block_size"], 16, "a KV runner's config reports as GpuRunnerConfig did");
        let v = serde_json::to_value(info(CacheKind::Recurrent { bytes_per_sequence: 8 }, None)).unwrap();
        assert_eq!(v["dtype"], "bf16");
        assert_eq!(v["cache"], serde_json::json!({"kind": "recurrent", "bytes_per_sequence": 8}));
    }
}
