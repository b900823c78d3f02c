//! The family's bench workloads at real shapes with random bf16 weights, for any
//! [`RecurrentLm`] (Mamba, Mamba-2, ...), so every model's `ops` bench measures its mixer (L2)
//! and whole model (L4) the same way:
//!
//! - [`MixerWorkload`]: one layer's mixer (`MambaMixer`, `Mamba2Mixer`) on a prefill of one
//!   sequence of `tokens`, or one decode step of `batch` sequences.
//! - [`ModelWorkload`]: the whole causal LM, one prefill or decode step through the recurrent
//!   state cache (consecutive slots, so the states are views, as in a steady engine).
//!
//! The recurrent states a step updates in place are restored before every timed call
//! (`prepare`; a prefill starts from zero state, a decode step continues a random one); the
//! output must match the baseline table's, recorded at construction (the modules themselves
//! are checked against transformers by the goldens). Intermediates come from the
//! stream-ordered pool inside the timed window, as the models allocate them.

use crate::decode::{DecodeBuffers, SlotMixer};
use crate::stack::RecurrentMixer;
use crate::step::{LogitsRows, RecurrentLm, Step};
use crate::state_cache::{LayerStates, RecurrentStateCache};
use fk_baselines::harness::bench::{self, BenchEnv, BenchSpec};
use fk_baselines::harness::Workload;
use fk_baselines::ops::SeqLens;
use fk_baselines::util::random_fill;
use fk_baselines::{Context, OpId, OpTable};
use fk_runtime::compare::{compare, Tolerance};
use fk_llm::graphs::DecodeGraphs;
use fk_runtime::{DType, Device, Error, Result, Tensor};
use std::collections::HashMap;

/// What one timed call runs.
#[derive(Clone, Copy, Debug)]
pub enum RecurrentStep {
    /// One sequence of `tokens` from zero state.
    Prefill { tokens: usize },
    /// One token for each of `batch` sequences with random states.
    Decode { batch: usize },
}

impl RecurrentStep {
    /// Hidden rows the step runs.
    pub fn rows(self) -> usize {
        match self {
            RecurrentStep::Prefill { tokens } => tokens,
            RecurrentStep::Decode { batch } => batch,
        }
    }

    /// Sequences (state slots) the step touches.
    pub fn sequences(self) -> usize {
        match self {
            RecurrentStep::Prefill { .. } => 1,
            RecurrentStep::Decode { batch } => batch,
        }
    }
}

/// A state cache of exactly the step's sequences, all allocated (slots 0..n), each layer's
/// states filled as the step expects, and a copy of them to restore before each call.
fn step_cache<L: RecurrentLm>(model: &L, step: RecurrentStep, seed: u64) -> Result<(RecurrentStateCache, Vec<usize>, Vec<LayerStates>)> {
    let n = step.sequences();
    let mut cache = model.new_state_cache(n)?;
    let slots = cache.slots_mut().allocate_many(n).map_err(|e| Error::bad_input("bench", e.to_string()))?;
    let mut initial = Vec::with_capacity(cache.spec().layers);
    for l in 0..cache.spec().layers {
        let (conv, ssm) = (cache.conv(l)?, cache.ssm(l)?);
        // Fresh caches are zeroed: a prefill starts its sequence there.
        if let RecurrentStep::Decode { .. } = step {
            random_fill(conv, seed ^ (2 * l as u64 + 1), 0.0, 1.0)?;
            random_fill(ssm, seed ^ (2 * l as u64 + 2), 0.0, 1.0)?;
        }
        initial.push(LayerStates { conv: conv.duplicate()?, ssm: ssm.duplicate()? });
    }
    Ok((cache, slots, initial))
}

fn restore(cache: &RecurrentStateCache, initial: &[LayerStates]) -> Result<()> {
    for (l, s) in initial.iter().enumerate() {
        cache.conv(l)?.copy_from(&s.conv)?;
        cache.ssm(l)?.copy_from(&s.ssm)?;
    }
    Ok(())
}

fn state_bytes(initial: &[LayerStates]) -> usize {
    initial.iter().map(|s| s.conv.nbytes() + s.ssm.nbytes()).sum()
}

/// L2: the mixer of a one-layer model (`label` names it in reports: `Mamba2Mixer`).
pub struct MixerWorkload<L: RecurrentLm> {
    model: L,
    label: &'static str,
    ctx: Context,
    step: RecurrentStep,
    seqlens: Option<SeqLens>,
    x: Tensor,
    cache: RecurrentStateCache,
    initial: Vec<LayerStates>,
    out: Option<Tensor>,
    reference: Vec<f32>,
}

impl<L: RecurrentLm> MixerWorkload<L> {
    /// `model` must have exactly one layer (build it from the real config with
    /// `num_hidden_layers = 1`); its mixer is what is timed.
    pub fn new(dev: &Device, model: L, label: &'static str, step: RecurrentStep, seed: u64) -> Result<Self> {
        if model.state_spec().layers != 1 {
            return Err(Error::config(format!("{label} bench: the model has {} layers, expected one", model.state_spec().layers)));
        }
        let hidden = model.stack().embeddings.dim(1);
        let x = Tensor::empty(dev, &[step.rows(), hidden], model.dtype())?;
        random_fill(&x, seed ^ 0x5eed, 0.0, 1.0)?;
        let (cache, _, initial) = step_cache(&model, step, seed)?;
        let seqlens = match step {
            RecurrentStep::Prefill { tokens } => Some(SeqLens::from_lens(dev, &[tokens])?),
            RecurrentStep::Decode { .. } => None,
        };
        let ctx = Context::new(dev, OpTable::baseline())?;
        let mut w = MixerWorkload { model, label, ctx, step, seqlens, x, cache, initial, out: None, reference: Vec::new() };
        w.prepare()?;
        w.run(&OpTable::baseline())?;
        w.reference = w.output()?;
        Ok(w)
    }

    fn output(&self) -> Result<Vec<f32>> {
        self.out.as_ref().map_or(Ok(Vec::new()), Tensor::to_f32)
    }

    fn states(&self) -> Result<LayerStates> {
        Ok(LayerStates { conv: self.cache.conv(0)?.clone(), ssm: self.cache.ssm(0)?.clone() })
    }
}

impl<L: RecurrentLm> Workload for MixerWorkload<L> {
    fn prepare(&mut self) -> Result<()> {
        self.out = None;
        restore(&self.cache, &self.initial)
    }

    fn run(&mut self, table: &OpTable) -> Result<()> {
        let ctx = self.ctx.with_ops(table);
        let states = self.states()?;
        let stack = self.model.stack();
        let mixer = stack.blocks[0].1;
        self.out = Some(match &self.seqlens {
            Some(sl) => mixer.prefill(&ctx, &self.x, sl, &states)?,
            None => mixer.decode(&ctx, &self.x, &states)?,
        });
        Ok(())
    }

    fn check(&mut self) -> std::result::Result<(), String> {
        let got = self.output().map_err(|e| e.to_string())?;
        let want: Vec<f64> = self.reference.iter().map(|&v| v as f64).collect();
        compare(&got, &want, Tolerance { atol: 0.05, rtol: 0.05, max_rel_l2: 1e-2 }).check(&format!("{} {:?} vs the baseline table", self.label, self.step))
    }

    /// Every weight once, the states read and written, hidden states in and out.
    fn bytes(&self) -> u64 {
        let mixer = self.model.stack().blocks[0].1;
        (mixer.weight_bytes() + 2 * state_bytes(&self.initial) + 2 * self.x.nbytes()) as u64
    }

    fn flops(&self) -> u64 {
        self.step.rows() as u64 * self.model.stack().blocks[0].1.flops_per_token()
    }
}

/// L4: the whole causal LM (`label`: `Mamba2ForCausalLM`), logits of each sequence's last token.
/// A decode step runs as the engine runs it: inputs staged into the bucket's buffers, then the
/// step replayed from a CUDA graph (one per op table, captured on first use).
pub struct ModelWorkload<L: RecurrentLm> {
    model: L,
    label: &'static str,
    ctx: Context,
    step: RecurrentStep,
    cache: RecurrentStateCache,
    slots: Vec<usize>,
    ids: Vec<u32>,
    initial: Vec<LayerStates>,
    logits: Option<Tensor>,
    reference: Vec<f32>,
    decode_buffers: Option<DecodeBuffers<<L::Mixer as SlotMixer>::Buffers>>,
    graphs: HashMap<String, DecodeGraphs>,
}

impl<L: RecurrentLm> ModelWorkload<L> {
    pub fn new(dev: &Device, model: L, label: &'static str, step: RecurrentStep, seed: u64) -> Result<Self> {
        let (cache, slots, initial) = step_cache(&model, step, seed)?;
        let vocab = model.vocab_size();
        let ids = (0..step.rows()).map(|i| (i * 7919 % vocab) as u32).collect();
        let ctx = Context::new(dev, OpTable::baseline())?;
        let decode_buffers = match step {
            RecurrentStep::Decode { batch } => Some(model.decode_buffers(&cache, batch)?),
            RecurrentStep::Prefill { .. } => None,
        };
        let mut w = ModelWorkload { model, label, ctx, step, cache, slots, ids, initial, logits: None, reference: Vec::new(), decode_buffers, graphs: HashMap::new() };
        w.prepare()?;
        w.run(&OpTable::baseline())?;
        w.reference = w.output()?;
        Ok(w)
    }

    fn output(&self) -> Result<Vec<f32>> {
        self.logits.as_ref().map_or(Ok(Vec::new()), Tensor::to_f32)
    }
}

impl<L: RecurrentLm> Workload for ModelWorkload<L> {
    fn prepare(&mut self) -> Result<()> {
        self.logits = None;
        restore(&self.cache, &self.initial)
    }

    fn run(&mut self, table: &OpTable) -> Result<()> {
        let ctx = self.ctx.with_ops(table);
        if let Some(bufs) = self.decode_buffers.as_mut() {
            self.model.stage_decode(bufs, &self.cache, &self.ids, &self.slots)?;
            let graphs = self.graphs.entry(table.name().to_string()).or_insert_with(|| DecodeGraphs::new(true));
            let (model, cache, bufs) = (&self.model, &self.cache, &*bufs);
            graphs.run(&ctx.device, bufs.rows(), || model.decode_step(&ctx, cache, bufs))?;
            self.logits = Some(bufs.logits()?);
            return Ok(());
        }
        let lens = [self.ids.len()];
        let (logits, _) = self.model.forward_device(&ctx, &self.ids, Step::Prefill { lens: &lens }, &self.cache, &self.slots, LogitsRows::Last, false)?;
        self.logits = Some(logits);
        Ok(())
    }

    fn check(&mut self) -> std::result::Result<(), String> {
        let got = self.output().map_err(|e| e.to_string())?;
        let want: Vec<f64> = self.reference.iter().map(|&v| v as f64).collect();
        compare(&got, &want, Tolerance { atol: 0.5, rtol: 0.1, max_rel_l2: 2e-2 }).check(&format!("{} {:?} vs the baseline table", self.label, self.step))
    }

    /// Every weight but the embedding table once (`streamed_weight_bytes`), the states read
    /// and written.
    fn bytes(&self) -> u64 {
        (self.model.streamed_weight_bytes() + 2 * state_bytes(&self.initial)) as u64
    }

    /// Every token through every block; lm_head on each sequence's last token.
    fn flops(&self) -> u64 {
        let s = self.model.stack();
        let per_token: u64 = s.blocks.iter().map(|(_, m)| m.flops_per_token()).sum();
        self.ids.len() as u64 * per_token + self.slots.len() as u64 * s.lm_head.flops_per_row()
    }
}

/// What a model's `ops` bench needs to time its mixer and itself: names, sizes and how to
/// build the model with random weights at `layers` layers (1 for the mixer rows).
pub struct RecurrentBench<L> {
    pub mixer: &'static str,
    pub model: &'static str,
    pub hidden: usize,
    pub layers: usize,
    pub build: fn(&Device, usize, u64) -> Result<L>,
    /// The L1 ops a prefill and a decode step of the mixer run (the candidate is timed only
    /// where it replaces one of them); the whole model also runs embedding and the norms.
    pub prefill_ops: Vec<OpId>,
    pub decode_ops: Vec<OpId>,
}

impl<L: RecurrentLm + 'static> RecurrentBench<L> {
    /// L2 rows of the mixer at `mixer_steps`, L4 rows of the model at `model_steps`, bf16.
    pub fn specs(&self, mixer_steps: &[RecurrentStep], model_steps: &[RecurrentStep]) -> Vec<BenchSpec> {
        let mut all_ops = vec![OpId::Embedding, OpId::RmsNorm, OpId::FusedAddRmsNorm];
        for op in self.prefill_ops.iter().chain(&self.decode_ops) {
            if !all_ops.contains(op) {
                all_ops.push(*op);
            }
        }
        let uses = |step: RecurrentStep| match step {
            RecurrentStep::Prefill { .. } => self.prefill_ops.clone(),
            RecurrentStep::Decode { .. } => self.decode_ops.clone(),
        };
        let mut specs = Vec::new();
        for &step in mixer_steps {
            let (build, label) = (self.build, self.mixer);
            specs.push(BenchSpec {
                op: label.into(),
                level: "L2",
                shape: describe(step, self.hidden, 1),
                dtype: DType::BF16,
                uses: uses(step),
                make: Box::new(move |dev, rng| {
                    let seed = rng.next_u64();
                    Ok(Box::new(MixerWorkload::new(dev, build(dev, 1, seed)?, label, step, seed)?) as Box<dyn Workload>)
                }),
            });
        }
        for &step in model_steps {
            let (build, label, layers) = (self.build, self.model, self.layers);
            specs.push(BenchSpec {
                op: label.into(),
                level: "L4",
                shape: describe(step, self.hidden, layers),
                dtype: DType::BF16,
                uses: all_ops.clone(),
                make: Box::new(move |dev, rng| {
                    let seed = rng.next_u64();
                    Ok(Box::new(ModelWorkload::new(dev, build(dev, layers, seed)?, label, step, seed)?) as Box<dyn Workload>)
                }),
            });
        }
        specs
    }
}

impl<L: RecurrentLm + 'static> RecurrentBench<L> {
    /// The family's standard rows after the model's L1 rows: the mixer at a 2048- and an
    /// 8192-token prefill and decode batch 1 and 32; the model at a 2048- and an 8192-token
    /// prefill (the whole-model bar; `scripts/peer_hf_mamba.py --model-tokens 8192`
    /// times transformers on the same row) and decode batch 1 and 32. Runs the bench (the
    /// measured GEMM rate as the flop ceiling).
    pub fn main(&self, crate_name: &str, candidate: OpTable, l1: Vec<BenchSpec>) -> ! {
        use RecurrentStep::{Decode, Prefill};
        let mut specs = l1;
        specs.extend(self.specs(
            &[Prefill { tokens: 2048 }, Prefill { tokens: 8192 }, Decode { batch: 1 }, Decode { batch: 32 }],
            &[Prefill { tokens: 2048 }, Prefill { tokens: 8192 }, Decode { batch: 1 }, Decode { batch: 32 }],
        ));
        bench::main(crate_name, Some(candidate), specs, BenchEnv { gemm_peak_tflops: Some(Box::new(bench::gemm_peak_tflops)) })
    }
}

/// A bench row's shape: the mixer's input, or the model's step.
fn describe(step: RecurrentStep, hidden: usize, layers: usize) -> String {
    match step {
        RecurrentStep::Prefill { tokens } if layers == 1 => format!("prefill [{tokens}, {hidden}]"),
        RecurrentStep::Decode { batch } if layers == 1 => format!("decode [{batch}, {hidden}]"),
        RecurrentStep::Prefill { tokens } => format!("prefill {tokens} tokens, {layers} layers"),
        RecurrentStep::Decode { batch } => format!("decode batch {batch}, {layers} layers, graph"),
    }
}
