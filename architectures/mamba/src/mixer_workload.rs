//! The L2 bench workload of HF `MambaMixer` at real shapes with random weights (bf16): a
//! prefill of one sequence of `tokens`, or one decode step of `batch` sequences, with the
//! baseline or a candidate op table. The recurrent states the step updates in place are
//! restored before every timed call (`prepare`); the output must match the baseline table's,
//! recorded at construction (the mixer itself is checked against transformers by the goldens).
//! The step allocates its intermediates from the stream-ordered pool inside the timed window,
//! as the model does today.

use crate::mixer::MambaMixer;
use crate::{MambaConfig, MambaForCausalLM};
use fk_baselines::harness::Workload;
use fk_baselines::ops::SeqLens;
use fk_baselines::util::random_fill;
use fk_baselines::{Context, OpTable};
use fk_linear_attn::state_cache::LayerStates;
use fk_runtime::compare::{compare, Tolerance};
use fk_runtime::{DType, Device, Result, Tensor};

#[derive(Clone, Copy, Debug)]
pub enum MixerStep {
    Prefill { tokens: usize },
    Decode { batch: usize },
}

pub struct MambaMixerWorkload {
    mixer: MambaMixer,
    ctx: Context,
    step: MixerStep,
    seqlens: Option<SeqLens>,
    x: Tensor,
    states: LayerStates,
    /// The states before the step, restored by `prepare`.
    initial: LayerStates,
    out: Option<Tensor>,
    reference: Vec<f32>,
}

impl MambaMixerWorkload {
    pub fn new(
        dev: &Device,
        cfg: &MambaConfig,
        step: MixerStep,
        seed: u64,
    ) -> Result<MambaMixerWorkload> {
        let one = MambaConfig {
            num_hidden_layers: 1,
            ..cfg.clone()
        };
        let mixer = MambaForCausalLM::random(dev, &one, DType::BF16, seed)?
            .backbone
            .layers
            .remove(0)
            .mixer;
        let (rows, batch) = match step {
            MixerStep::Prefill { tokens } => (tokens, 1),
            MixerStep::Decode { batch } => (batch, batch),
        };
        let (i, n, k) = (cfg.intermediate_size, cfg.state_size, cfg.conv_kernel);
        let x = Tensor::empty(dev, &[rows, cfg.hidden_size], DType::BF16)?;
        random_fill(&x, seed ^ 0x5eed, 0.0, 1.0)?;
        // A prefill starts a sequence (zero state); a decode step continues one (random state).
        let initial = LayerStates {
            conv: Tensor::zeros(dev, &[batch, i, k - 1], DType::BF16)?,
            ssm: Tensor::zeros(dev, &[batch, i, n], DType::F32)?,
        };
        if let MixerStep::Decode { .. } = step {
            random_fill(&initial.conv, seed ^ 1, 0.0, 1.0)?;
            random_fill(&initial.ssm, seed ^ 2, 0.0, 1.0)?;
        }
        let states = LayerStates {
            conv: initial.conv.duplicate()?,
            ssm: initial.ssm.duplicate()?,
        };
        let seqlens = match step {
            MixerStep::Prefill { tokens } => Some(SeqLens::from_lens(dev, &[tokens])?),
            MixerStep::Decode { .. } => None,
        };
        let ctx = Context::new(dev, OpTable::baseline())?;
        let mut w = MambaMixerWorkload {
            mixer,
            ctx,
            step,
            seqlens,
            x,
            states,
            initial,
            out: None,
            reference: Vec::new(),
        };
        w.prepare()?;
        w.run(&OpTable::baseline())?;
        w.reference = w.output()?;
        Ok(w)
    }

    fn output(&self) -> Result<Vec<f32>> {
        match &self.out {
            Some(o) => o.to_f32(),
            None => Ok(Vec::new()),
        }
    }

    fn tokens(&self) -> u64 {
        self.x.dim(0) as u64
    }
}

impl Workload for MambaMixerWorkload {
    fn prepare(&mut self) -> Result<()> {
        self.out = None;
        self.states.conv.copy_from(&self.initial.conv)?;
        self.states.ssm.copy_from(&self.initial.ssm)
    }

    fn run(&mut self, table: &OpTable) -> Result<()> {
        let ctx = self.ctx.with_ops(table);
        self.out = Some(match &self.seqlens {
            Some(sl) => self.mixer.prefill(&ctx, &self.x, sl, &self.states)?,
            None => self.mixer.decode(&ctx, &self.x, &self.states)?,
        });
        Ok(())
    }

    fn check(&mut self) -> std::result::Result<(), String> {
        let got = self.output().map_err(|e| e.to_string())?;
        let want: Vec<f64> = self.reference.iter().map(|&v| v as f64).collect();
        compare(
            &got,
            &want,
            Tolerance {
                atol: 0.05,
                rtol: 0.05,
                max_rel_l2: 1e-2,
            },
        )
        .check(&format!("MambaMixer {:?} vs the baseline table", self.step))
    }

    /// Every weight once, the states read and written, hidden states in and out.
    fn bytes(&self) -> u64 {
        let m = &self.mixer;
        let lin =
            |l: &fk_runtime::Linear| l.weight.nbytes() + l.bias.as_ref().map_or(0, |b| b.nbytes());
        let weights = lin(&m.in_proj)
            + lin(&m.x_proj)
            + lin(&m.dt_proj)
            + lin(&m.out_proj)
            + m.conv_weight.nbytes()
            + m.a.nbytes()
            + m.d.nbytes()
            + m.dt_bias.nbytes();
        let states = 2 * (self.states.conv.nbytes() + self.states.ssm.nbytes());
        (weights + states + 2 * self.x.nbytes()) as u64
    }

    /// The four projections (2·in·out per token) and the scan (~6 per state element per token).
    fn flops(&self) -> u64 {
        let m = &self.mixer;
        let proj = |l: &fk_runtime::Linear| 2 * (l.in_features() * l.out_features()) as u64;
        let per_token = proj(&m.in_proj)
            + proj(&m.x_proj)
            + proj(&m.dt_proj)
            + proj(&m.out_proj)
            + 6 * m.a.numel() as u64;
        self.tokens() * per_token
    }
}
