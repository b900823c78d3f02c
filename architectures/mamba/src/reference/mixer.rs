//! `MambaMixer`: in_proj → (x, z); x → depthwise causal conv + SiLU → x_proj → (dt, B, C);
//! dt → dt_proj (bias added inside the scan, before the softplus, as HF passes it);
//! selective scan with D skip and SiLU(z) gate → out_proj.

use fk_baselines::reference::modules::{load_tensor, Linear, Rounding};
use fk_baselines::reference::ssm::{
    causal_conv1d, causal_conv1d_update, selective_scan, selective_state_update, ScanInputs,
};
use fk_linear_attn::reference::{MixerState, ReferenceMixer};
use fk_runtime::safetensors::Checkpoint;
use fk_runtime::{Error, Result};

use crate::MambaConfig;

/// Its state ([`MixerState`]) per sequence: the conv's last `conv_kernel - 1` inputs
/// `[intermediate, conv_kernel-1]` (oldest first) and the SSM state `[intermediate, state_size]`.
pub struct MambaMixer {
    pub in_proj: Linear,
    /// conv1d.weight `[intermediate, 1, k]` read as `[intermediate, k]`.
    pub conv_weight: Vec<f32>,
    pub conv_bias: Option<Vec<f32>>,
    pub x_proj: Linear,
    /// dt_proj without its bias (HF applies the weight alone, the bias inside the scan).
    pub dt_proj: Linear,
    pub dt_bias: Vec<f32>,
    /// `-exp(A_log)` `[intermediate, state_size]`, f32 as HF computes it.
    pub a: Vec<f32>,
    pub d: Vec<f32>,
    pub out_proj: Linear,
    inter: usize,
    rank: usize,
    n: usize,
    k: usize,
}

impl ReferenceMixer for MambaMixer {
    type Config = MambaConfig;
    const MODEL: &'static str = "MambaForCausalLM";

    fn zero_state(&self) -> MixerState {
        MixerState {
            conv: vec![0.0; self.inter * (self.k - 1)],
            ssm: vec![0.0; self.inter * self.n],
        }
    }

    /// `backbone.layers.<i>.mixer.*` (`prefix` ends in `mixer`).
    fn load(ckpt: &Checkpoint, prefix: &str, cfg: &MambaConfig) -> Result<MambaMixer> {
        let (h, i, r, n, k) = (
            cfg.hidden_size,
            cfg.intermediate_size,
            cfg.time_step_rank,
            cfg.state_size,
            cfg.conv_kernel,
        );
        let p = |s: &str| format!("{prefix}.{s}");
        let mut dt_proj = Linear::load(ckpt, &p("dt_proj"), r, i, true)?;
        let dt_bias = dt_proj.bias.take().expect("loaded with bias");
        let a_log = load_tensor(ckpt, &p("A_log"), &[i, n])?;
        Ok(MambaMixer {
            in_proj: Linear::load(ckpt, &p("in_proj"), h, 2 * i, cfg.use_bias)?,
            conv_weight: load_tensor(ckpt, &p("conv1d.weight"), &[i, 1, k])?,
            conv_bias: if cfg.use_conv_bias {
                Some(load_tensor(ckpt, &p("conv1d.bias"), &[i])?)
            } else {
                None
            },
            x_proj: Linear::load(ckpt, &p("x_proj"), i, cfg.x_proj_dim(), false)?,
            dt_proj,
            dt_bias,
            a: a_log.iter().map(|&v| -(v.exp())).collect(),
            d: load_tensor(ckpt, &p("D"), &[i])?,
            out_proj: Linear::load(ckpt, &p("out_proj"), i, h, cfg.use_bias)?,
            inter: i,
            rank: r,
            n,
            k,
        })
    }

    /// `hidden` `[L, hidden_size]` of one sequence (model-dtype values) → `[L, hidden_size]`,
    /// continuing from `state` and leaving the state after the last token in it. One token is
    /// the decode path (`causal_conv1d_update`, `selective_state_update`), as in HF.
    fn forward(&self, r: Rounding, hidden: &[f32], state: &mut MixerState) -> Result<Vec<f32>> {
        let (i, n, rank) = (self.inter, self.n, self.rank);
        let tokens = hidden.len() / self.in_proj.in_features;
        if tokens == 0 || hidden.len() != tokens * self.in_proj.in_features {
            return Err(Error::shape(
                "MambaMixer",
                format!(
                    "{} values is not a non-empty [L, {}]",
                    hidden.len(),
                    self.in_proj.in_features
                ),
            ));
        }
        let xz = self.in_proj.forward(r, hidden);
        let cols = |src: &[f32], width: usize, from: usize, to: usize| -> Vec<f32> {
            src.chunks_exact(width)
                .flat_map(|row| row[from..to].iter().copied())
                .collect()
        };
        let x = cols(&xz, 2 * i, 0, i);
        let z = cols(&xz, 2 * i, i, 2 * i);
        let bias = self.conv_bias.as_deref();
        let x = if tokens == 1 {
            r.round(causal_conv1d_update(
                &x,
                i,
                &mut state.conv,
                &self.conv_weight,
                bias,
                true,
            )?)
        } else {
            let (out, fin) = causal_conv1d(
                &x,
                &[0, tokens],
                i,
                &self.conv_weight,
                bias,
                Some(&state.conv),
                true,
            )?;
            state.conv = fin;
            r.round(out)
        };
        let dbc = self.x_proj.forward(r, &x);
        let w = self.x_proj.out_features;
        let dt = self.dt_proj.forward(r, &cols(&dbc, w, 0, rank));
        let (b, c) = (
            cols(&dbc, w, rank, rank + n),
            cols(&dbc, w, rank + n, rank + 2 * n),
        );
        let inp = ScanInputs {
            u: &x,
            delta: &dt,
            a: &self.a,
            b: &b,
            c: &c,
            d: Some(&self.d),
            z: Some(&z),
            delta_bias: Some(&self.dt_bias),
            delta_softplus: true,
            dim: i,
            d_state: n,
        };
        let y = if tokens == 1 {
            selective_state_update(&inp, &mut state.ssm)?
        } else {
            let (y, fin) = selective_scan(&inp, Some(&state.ssm))?;
            state.ssm = fin;
            y
        };
        Ok(self.out_proj.forward(r, &r.round(y)))
    }
}
