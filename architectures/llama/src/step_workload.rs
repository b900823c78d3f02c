//! L2–L4 benchmark workloads at real Llama shapes with random weights: `LlamaAttention`,
//! `LlamaDecoderLayer` and the whole `LlamaForCausalLM` over one prefill or decode step of
//! the paged KV cache, run with the baseline or a candidate op table (A/B in situ).
//!
//! Correctness in the bench: a module's output must equal what the same module computes with
//! the baseline table (recorded once at construction); the baseline module itself is checked
//! against HF transformers by the golden tests. Whole-model decode steps replay a CUDA graph
//! per op table, as generation does.

use crate::config::LlamaConfig;
use crate::model::{LlamaForCausalLM, LlamaScratch};
use fk_baselines::harness::Workload;
use fk_baselines::ops::Rotary;
use fk_baselines::util::random_fill;
use fk_baselines::{Context, OpTable};
use fk_llm::{CausalLm, ForwardBatch, PagedKvCache, ScratchSizes, SeqStep, StepBuffers, StepPlan};
use fk_runtime::compare::{compare, Tolerance};
use fk_runtime::{DType, Device, Graph, Result, Tensor};
use std::collections::HashMap;

/// Which part of the model a workload times.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    Attention,
    DecoderLayer,
    Model,
}

/// The step: a fresh prompt of `tokens`, or one decode token for `batch` sequences that
/// each have `context` tokens cached.
#[derive(Clone, Copy, Debug)]
pub enum StepKind {
    Prefill { tokens: usize },
    Decode { batch: usize, context: usize },
}

impl StepKind {
    pub fn label(&self) -> String {
        match self {
            StepKind::Prefill { tokens } => format!("prefill {tokens}"),
            StepKind::Decode { batch, context } => format!("decode b{batch} ctx {context}"),
        }
    }

    fn tokens(&self) -> usize {
        match *self {
            StepKind::Prefill { tokens } => tokens,
            StepKind::Decode { batch, .. } => batch,
        }
    }
}

pub struct LlamaStepWorkload {
    model: LlamaForCausalLM,
    scope: Scope,
    kind: StepKind,
    ctx: Context,
    kv: PagedKvCache,
    batch: ForwardBatch,
    scratch: LlamaScratch,
    /// Sources restored before each timed call (the layer updates hidden/residual in place).
    x_src: Tensor,
    r_src: Tensor,
    out: Tensor,
    graphs: HashMap<String, Graph>,
    reference: Vec<f32>,
}

const BLOCK: usize = 16;

impl LlamaStepWorkload {
    /// `cfg` at its real sizes (Attention/DecoderLayer scopes build one layer only).
    pub fn new(dev: &Device, cfg: &LlamaConfig, scope: Scope, kind: StepKind, seed: u64) -> Result<LlamaStepWorkload> {
        let layers = if scope == Scope::Model { cfg.num_hidden_layers } else { 1 };
        let mut cfg = cfg.clone();
        cfg.num_hidden_layers = layers;
        let dtype = DType::BF16;
        let model = LlamaForCausalLM::random(dev, &cfg, dtype, seed)?;
        // Block tables: sequence s owns blocks [s*per_seq, (s+1)*per_seq).
        let (seqs, ctx_len, new) = match kind {
            StepKind::Prefill { tokens } => (1, 0, tokens),
            StepKind::Decode { batch, context } => (batch, context, 1),
        };
        let per_seq = (ctx_len + new).div_ceil(BLOCK);
        let kv = PagedKvCache::new(dev, layers, seqs * per_seq, BLOCK, cfg.num_key_value_heads, cfg.head_dim, dtype)?;
        for l in 0..layers {
            // Cached context: random keys/values of a realistic scale.
            let layer = kv.layer(l)?;
            random_fill(layer.key_cache, seed ^ (2 * l as u64 + 1), 0.0, 1.0)?;
            random_fill(layer.value_cache, seed ^ (2 * l as u64 + 2), 0.0, 1.0)?;
        }
        let tables: Vec<Vec<u32>> = (0..seqs).map(|s| ((s * per_seq) as u32..((s + 1) * per_seq) as u32).collect()).collect();
        let tokens: Vec<Vec<u32>> = (0..seqs).map(|s| (0..new).map(|j| ((s * 7919 + j * 104_729) % cfg.vocab_size) as u32).collect()).collect();
        let steps: Vec<SeqStep<'_>> = (0..seqs).map(|s| SeqStep { tokens: &tokens[s], context_len: ctx_len, block_table: &tables[s] }).collect();
        let plan = StepPlan::new(&steps, BLOCK, per_seq, model.needs_per_token_view())?;
        let t = plan.num_tokens();
        let bufs = StepBuffers::new(dev, t, seqs, per_seq, model.needs_per_token_view())?;
        let batch = bufs.upload(&plan)?;
        let scratch = model.scratch(&ScratchSizes { max_tokens: t, max_seqs: seqs, max_blocks: per_seq, block_size: BLOCK })?;
        let h = cfg.hidden_size;
        let x_src = Tensor::empty(dev, &[t, h], dtype)?;
        let r_src = Tensor::empty(dev, &[t, h], dtype)?;
        random_fill(&x_src, seed ^ 0xa11, 0.0, 1.0)?;
        random_fill(&r_src, seed ^ 0xb22, 0.0, 1.0)?;
        let out = match scope {
            Scope::Model => Tensor::empty(dev, &[seqs, cfg.vocab_size], dtype)?,
            _ => Tensor::empty(dev, &[t, h], dtype)?,
        };
        let ctx = Context::new(dev, OpTable::baseline())?;
        let mut w = LlamaStepWorkload { model, scope, kind, ctx, kv, batch, scratch, x_src, r_src, out, graphs: HashMap::new(), reference: vec![] };
        w.prepare()?;
        w.forward(&OpTable::baseline())?;
        w.reference = w.output()?;
        Ok(w)
    }

    fn output(&self) -> Result<Vec<f32>> {
        match self.scope {
            Scope::DecoderLayer => self.scratch.hidden.narrow(0, 0, self.batch.num_tokens)?.to_f32(),
            _ => self.out.to_f32(),
        }
    }

    fn rotary(&self) -> Rotary<'_> {
        Rotary { head_size: self.model.config.head_dim, cos_sin_cache: &self.model.model.cos_sin_cache, is_neox_style: true }
    }

    /// One eager step with `table`.
    fn forward(&self, table: &OpTable) -> Result<()> {
        let ctx = self.ctx.with_ops(table);
        let t = self.batch.num_tokens;
        let layer = &self.model.model.layers[0];
        match self.scope {
            Scope::Attention => {
                let cache = self.kv.layer(0)?;
                layer.self_attn.forward_into(&ctx, &self.x_src, &self.batch, &cache, &self.rotary(), &self.scratch.layers.attn, &self.out)
            }
            Scope::DecoderLayer => {
                let (hidden, residual) = (self.scratch.hidden.narrow(0, 0, t)?, self.scratch.residual.narrow(0, 0, t)?);
                layer.forward(&ctx, &hidden, &residual, false, &self.batch, &self.kv.layer(0)?, &self.rotary(), &self.scratch.layers)
            }
            Scope::Model => self.model.forward(&ctx, &self.batch, &self.kv, &self.scratch, &self.out),
        }
    }

    /// Weights read plus KV-cache reads of the step (the floor of a decode step).
    fn weight_and_kv_bytes(&self) -> u64 {
        let c = &self.model.config;
        let weights = match self.scope {
            Scope::Model => self.model.streamed_weight_bytes(),
            Scope::DecoderLayer => self.model.weight_bytes() - self.model.model.embed_tokens.nbytes() - self.model.lm_head.weight.nbytes(),
            Scope::Attention => {
                let a = &self.model.model.layers[0].self_attn;
                a.qkv_proj.weight.nbytes() + a.o_proj.weight.nbytes()
            }
        } as u64;
        let layers = if self.scope == Scope::Model { c.num_hidden_layers } else { 1 } as u64;
        let kv_per_token = 2 * (c.num_key_value_heads * c.head_dim * 2) as u64 * layers;
        let cached = match self.kind {
            StepKind::Prefill { tokens } => tokens as u64,
            StepKind::Decode { batch, context } => (batch * (context + 1)) as u64,
        };
        weights + kv_per_token * cached
    }
}

impl Workload for LlamaStepWorkload {
    fn prepare(&mut self) -> Result<()> {
        if self.scope == Scope::DecoderLayer {
            let t = self.batch.num_tokens;
            self.scratch.hidden.narrow(0, 0, t)?.copy_from(&self.x_src)?;
            self.scratch.residual.narrow(0, 0, t)?.copy_from(&self.r_src)?;
        }
        Ok(())
    }

    fn run(&mut self, table: &OpTable) -> Result<()> {
        let graphable = self.scope == Scope::Model && matches!(self.kind, StepKind::Decode { .. });
        if !graphable {
            return self.forward(table);
        }
        if !self.graphs.contains_key(table.name()) {
            self.forward(table)?;
            self.ctx.device.synchronize()?;
            let graph = Graph::capture(&self.ctx.device, || self.forward(table))?;
            self.graphs.insert(table.name().to_string(), graph);
        }
        self.graphs[table.name()].launch()
    }

    fn check(&mut self) -> std::result::Result<(), String> {
        let got = self.output().map_err(|e| e.to_string())?;
        let want: Vec<f64> = self.reference.iter().map(|&v| v as f64).collect();
        // Same model, same inputs: a candidate kernel may round differently, bf16-sized.
        compare(&got, &want, Tolerance { atol: 0.5, rtol: 0.1, max_rel_l2: 2e-2 }).check(&format!("{:?} {} vs the baseline table", self.scope, self.kind.label()))
    }

    fn bytes(&self) -> u64 {
        self.weight_and_kv_bytes()
    }

    fn flops(&self) -> u64 {
        let c = &self.model.config;
        let t = self.kind.tokens() as u64;
        let (h, i, qd, kvd) = (c.hidden_size as u64, c.intermediate_size as u64, (c.num_attention_heads * c.head_dim) as u64, (c.num_key_value_heads * c.head_dim) as u64);
        let proj = 2 * t * h * (qd + 2 * kvd) + 2 * t * qd * h;
        let mlp = 6 * t * h * i;
        // Attention: QKᵀ and PV, 4·d per (query, key) pair per head; causal halves a prefill.
        let pairs = match self.kind {
            StepKind::Prefill { tokens } => (tokens * (tokens + 1) / 2) as u64,
            StepKind::Decode { batch, context } => (batch * (context + 1)) as u64,
        };
        let attn = 4 * pairs * (c.num_attention_heads * c.head_dim) as u64;
        let layers = if self.scope == Scope::Model { c.num_hidden_layers as u64 } else { 1 };
        match self.scope {
            Scope::Attention => proj + attn,
            Scope::DecoderLayer => proj + attn + mlp,
            Scope::Model => layers * (proj + attn + mlp) + 2 * (self.out.dim(0) as u64) * h * c.vocab_size as u64,
        }
    }
}
