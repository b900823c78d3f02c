//! The L4 bench workload of `MambaForCausalLM` at real shapes with random bf16 weights: one
//! prefill of `tokens` (one sequence) or one decode step of `batch` sequences, through the
//! recurrent-state cache (consecutive slots, so the states are views, as in a steady engine).
//! Every layer's states are restored before each timed call; the logits must match the
//! baseline table's, recorded at construction.

use crate::mixer_workload::MixerStep;
use crate::model::{LogitsRows, Step};
use crate::{MambaConfig, MambaForCausalLM};
use fk_baselines::harness::Workload;
use fk_baselines::util::random_fill;
use fk_baselines::{Context, OpTable};
use fk_linear_attn::RecurrentStateCache;
use fk_runtime::compare::{compare, Tolerance};
use fk_runtime::{DType, Device, Result, Tensor};

pub struct MambaModelWorkload {
    model: MambaForCausalLM,
    ctx: Context,
    step: MixerStep,
    cache: RecurrentStateCache,
    slots: Vec<usize>,
    ids: Vec<u32>,
    /// Every layer's (conv, ssm) before the step, restored by `prepare`.
    initial: Vec<(Tensor, Tensor)>,
    logits: Option<Tensor>,
    reference: Vec<f32>,
}

impl MambaModelWorkload {
    pub fn new(
        dev: &Device,
        cfg: &MambaConfig,
        step: MixerStep,
        seed: u64,
    ) -> Result<MambaModelWorkload> {
        let model = MambaForCausalLM::random(dev, cfg, DType::BF16, seed)?;
        let batch = match step {
            MixerStep::Prefill { .. } => 1,
            MixerStep::Decode { batch } => batch,
        };
        let mut cache = model.new_state_cache(batch)?;
        let slots = cache
            .slots_mut()
            .allocate_many(batch)
            .map_err(|e| fk_runtime::Error::bad_input("bench", e.to_string()))?;
        let rows = match step {
            MixerStep::Prefill { tokens } => tokens,
            MixerStep::Decode { batch } => batch,
        };
        let ids = (0..rows)
            .map(|i| (i * 7919 % cfg.vocab_size) as u32)
            .collect();
        let mut initial = Vec::with_capacity(cfg.num_hidden_layers);
        for l in 0..cfg.num_hidden_layers {
            let (conv, ssm) = (cache.conv(l)?, cache.ssm(l)?);
            // A prefill starts sequences (zero state); a decode step continues them.
            if let MixerStep::Decode { .. } = step {
                random_fill(conv, seed ^ (2 * l as u64 + 1), 0.0, 1.0)?;
                random_fill(ssm, seed ^ (2 * l as u64 + 2), 0.0, 1.0)?;
            }
            initial.push((conv.duplicate()?, ssm.duplicate()?));
        }
        let ctx = Context::new(dev, OpTable::baseline())?;
        let mut w = MambaModelWorkload {
            model,
            ctx,
            step,
            cache,
            slots,
            ids,
            initial,
            logits: None,
            reference: Vec::new(),
        };
        w.prepare()?;
        w.run(&OpTable::baseline())?;
        w.reference = w
            .logits
            .as_ref()
            .map(|t| t.to_f32())
            .transpose()?
            .unwrap_or_default();
        Ok(w)
    }
}

impl Workload for MambaModelWorkload {
    fn prepare(&mut self) -> Result<()> {
        self.logits = None;
        for (l, (conv, ssm)) in self.initial.iter().enumerate() {
            self.cache.conv(l)?.copy_from(conv)?;
            self.cache.ssm(l)?.copy_from(ssm)?;
        }
        Ok(())
    }

    fn run(&mut self, table: &OpTable) -> Result<()> {
        let ctx = self.ctx.with_ops(table);
        let lens = [self.ids.len()];
        let step = match self.step {
            MixerStep::Prefill { .. } => Step::Prefill { lens: &lens },
            MixerStep::Decode { .. } => Step::Decode,
        };
        let (logits, _) = self.model.forward_device(
            &ctx,
            &self.ids,
            step,
            &self.cache,
            &self.slots,
            LogitsRows::Last,
            false,
        )?;
        self.logits = Some(logits);
        Ok(())
    }

    fn check(&mut self) -> std::result::Result<(), String> {
        let got = self
            .logits
            .as_ref()
            .map(|t| t.to_f32())
            .transpose()
            .map_err(|e| e.to_string())?
            .unwrap_or_default();
        let want: Vec<f64> = self.reference.iter().map(|&v| v as f64).collect();
        compare(
            &got,
            &want,
            Tolerance {
                atol: 0.5,
                rtol: 0.1,
                max_rel_l2: 2e-2,
            },
        )
        .check(&format!(
            "MambaForCausalLM {:?} vs the baseline table",
            self.step
        ))
    }

    /// Every weight but the embedding table once (lm_head reads it when tied), the states
    /// read and written.
    fn bytes(&self) -> u64 {
        let m = &self.model;
        let lin =
            |l: &fk_runtime::Linear| l.weight.nbytes() + l.bias.as_ref().map_or(0, |b| b.nbytes());
        let mut b = lin(&m.lm_head) + m.backbone.norm_f.nbytes();
        for layer in &m.backbone.layers {
            let x = &layer.mixer;
            b += layer.norm.nbytes()
                + lin(&x.in_proj)
                + lin(&x.x_proj)
                + lin(&x.dt_proj)
                + lin(&x.out_proj)
                + x.conv_weight.nbytes()
                + x.a.nbytes()
                + x.d.nbytes()
                + x.dt_bias.nbytes();
        }
        let states: usize = self
            .initial
            .iter()
            .map(|(c, s)| 2 * (c.nbytes() + s.nbytes()))
            .sum();
        (b + states) as u64
    }

    fn flops(&self) -> u64 {
        let m = &self.model;
        let proj = |l: &fk_runtime::Linear| 2 * (l.in_features() * l.out_features()) as u64;
        let per_layer: u64 = m
            .backbone
            .layers
            .iter()
            .map(|l| {
                proj(&l.mixer.in_proj)
                    + proj(&l.mixer.x_proj)
                    + proj(&l.mixer.dt_proj)
                    + proj(&l.mixer.out_proj)
                    + 6 * l.mixer.a.numel() as u64
            })
            .sum();
        // lm_head runs on each sequence's last token: the one prompt, or every decode row.
        let logit_rows = self.slots.len() as u64;
        self.ids.len() as u64 * per_layer + logit_rows * proj(&m.lm_head)
    }
}
