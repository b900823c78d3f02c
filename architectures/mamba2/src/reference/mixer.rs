//! `Mamba2Mixer`: in_proj → (z, xBC, dt); xBC → depthwise causal conv + SiLU → (x, B, C);
//! dt → softplus(dt + dt_bias), clamped to `time_step_limit` on the prefill path; the SSD scan
//! with the D skip (chunked for a prompt, the one-token update for decode); the gated group
//! RMSNorm `norm(y · silu(z))`; out_proj.
//!
//! Where HF's two paths round differently in reduced precision (decode rounds y to the model
//! dtype before the norm, prefill keeps it f32) the reference keeps prefill's f32 on both, so
//! that decode continues a prompt exactly as a longer prefill would; the bf16 goldens' tolerance
//! covers the difference. HF clamps dt to `time_step_limit` only on the prefill path (the
//! decode update takes no limit); the reference does the same.

use fk_baselines::reference::modules::{load_tensor, Linear, Rounding};
use fk_baselines::reference::ssm::{causal_conv1d, causal_conv1d_update, rms_norm_gated, selective_state_update_mamba2, ssd_chunked, SsdInputs};
use fk_linear_attn::reference::{MixerState, ReferenceMixer};
use fk_runtime::safetensors::Checkpoint;
use fk_runtime::{DType, Error, Result};

use crate::Mamba2Config;

/// Its state ([`MixerState`]) per sequence: the conv's last `conv_kernel - 1` inputs
/// `[conv_dim, conv_kernel-1]` (oldest first) and the SSM state `[num_heads, head_dim, state_size]`.
pub struct Mamba2Mixer {
    pub in_proj: Linear,
    /// conv1d.weight `[conv_dim, 1, k]` read as `[conv_dim, k]`.
    pub conv_weight: Vec<f32>,
    pub conv_bias: Option<Vec<f32>>,
    pub dt_bias: Vec<f32>,
    /// `-exp(A_log)` `[num_heads]`, computed in f32 as HF does.
    pub a: Vec<f32>,
    pub d: Vec<f32>,
    /// The gated norm's weight `[intermediate]`.
    pub norm: Vec<f32>,
    pub out_proj: Linear,
    cfg: Mamba2Config,
}

/// `torch.nn.functional.softplus` (threshold 20: the input itself above it).
fn softplus(x: f64) -> f64 {
    if x > 20.0 {
        x
    } else {
        x.exp().ln_1p()
    }
}

/// Columns `from..to` of each row of a row-major `[rows, width]` matrix.
fn cols(src: &[f32], width: usize, from: usize, to: usize) -> Vec<f32> {
    src.chunks_exact(width).flat_map(|row| row[from..to].iter().copied()).collect()
}

impl Mamba2Mixer {
    /// The time step HF's scan uses: `softplus(dt + dt_bias)`, both steps in the model dtype
    /// (HF adds and applies softplus to dtype tensors), clamped to `time_step_limit` on the
    /// prefill path.
    fn time_step(&self, r: Rounding, dt: &[f32], clamp: bool) -> Vec<f32> {
        let heads = self.cfg.num_heads;
        let (lo, hi) = self.cfg.time_step_limit;
        let biased = r.round(dt.iter().enumerate().map(|(j, &v)| v as f64 + self.dt_bias[j % heads] as f64));
        let sp = r.round(biased.iter().map(|&v| softplus(v as f64)));
        if clamp {
            r.round(sp.into_iter().map(|v| v.clamp(lo, hi) as f64))
        } else {
            sp
        }
    }
}

impl ReferenceMixer for Mamba2Mixer {
    type Config = Mamba2Config;
    const MODEL: &'static str = "Mamba2ForCausalLM";

    fn zero_state(&self) -> MixerState {
        let c = &self.cfg;
        MixerState { conv: vec![0.0; c.conv_dim() * (c.conv_kernel - 1)], ssm: vec![0.0; c.num_heads * c.head_dim * c.state_size] }
    }

    /// `backbone.layers.<i>.mixer.*` (`prefix` ends in `mixer`).
    fn load(ckpt: &Checkpoint, prefix: &str, cfg: &Mamba2Config) -> Result<Mamba2Mixer> {
        let (h, i, heads, k, cd) = (cfg.hidden_size, cfg.intermediate_size, cfg.num_heads, cfg.conv_kernel, cfg.conv_dim());
        let p = |s: &str| format!("{prefix}.{s}");
        let a_log = load_tensor(ckpt, &p("A_log"), &[heads])?;
        Ok(Mamba2Mixer {
            in_proj: Linear::load(ckpt, &p("in_proj"), h, cfg.in_proj_dim(), cfg.use_bias)?,
            conv_weight: load_tensor(ckpt, &p("conv1d.weight"), &[cd, 1, k])?,
            conv_bias: if cfg.use_conv_bias { Some(load_tensor(ckpt, &p("conv1d.bias"), &[cd])?) } else { None },
            dt_bias: load_tensor(ckpt, &p("dt_bias"), &[heads])?,
            a: a_log.iter().map(|&v| -(v.exp())).collect(),
            d: load_tensor(ckpt, &p("D"), &[heads])?,
            norm: load_tensor(ckpt, &p("norm.weight"), &[i])?,
            out_proj: Linear::load(ckpt, &p("out_proj"), i, h, cfg.use_bias)?,
            cfg: cfg.clone(),
        })
    }

    /// `hidden` `[L, hidden_size]` of one sequence (model-dtype values) → `[L, hidden_size]`,
    /// continuing from `state` and leaving the state after the last token in it. One token is
    /// the decode path (`causal_conv1d_update`, the one-step SSD update), as in HF.
    fn forward(&self, r: Rounding, hidden: &[f32], state: &mut MixerState) -> Result<Vec<f32>> {
        let c = &self.cfg;
        let (i, cd, heads, gn) = (c.intermediate_size, c.conv_dim(), c.num_heads, c.n_groups * c.state_size);
        let width = self.in_proj.in_features;
        let tokens = hidden.len() / width;
        if tokens == 0 || hidden.len() != tokens * width {
            return Err(Error::shape("Mamba2Mixer", format!("{} values is not a non-empty [L, {width}]", hidden.len())));
        }
        let zxbcdt = self.in_proj.forward(r, hidden);
        let pw = c.in_proj_dim();
        let (gate, xbc, dt) = (cols(&zxbcdt, pw, 0, i), cols(&zxbcdt, pw, i, i + cd), cols(&zxbcdt, pw, i + cd, pw));
        let bias = self.conv_bias.as_deref();
        let decode = tokens == 1;
        let xbc = if decode {
            r.round(causal_conv1d_update(&xbc, cd, &mut state.conv, &self.conv_weight, bias, true)?)
        } else {
            let (out, fin) = causal_conv1d(&xbc, &[0, tokens], cd, &self.conv_weight, bias, Some(&state.conv), true)?;
            state.conv = fin;
            r.round(out)
        };
        let (x, b, cc) = (cols(&xbc, cd, 0, i), cols(&xbc, cd, i, i + gn), cols(&xbc, cd, i + gn, cd));
        let dt = self.time_step(r, &dt, !decode);
        debug_assert_eq!(dt.len(), tokens * heads);
        let inp = SsdInputs {
            x: &x,
            dt: &dt,
            a: &self.a,
            b: &b,
            c: &cc,
            d: Some(&self.d),
            z: None,
            dt_bias: None,
            dt_softplus: false,
            heads,
            head_dim: c.head_dim,
            ngroups: c.n_groups,
            d_state: c.state_size,
        };
        let y = if decode {
            selective_state_update_mamba2(&inp, &mut state.ssm)?
        } else {
            let (y, fin) = ssd_chunked(&inp, Some(&state.ssm), c.chunk_size)?;
            state.ssm = fin;
            y
        };
        // HF's prefill scan returns f32 whatever the model dtype; the norm runs in f32 and its
        // output is cast to the model dtype for out_proj.
        let y = Rounding(DType::F32).round(y);
        let normed = r.round(rms_norm_gated(&y, &gate, &self.norm, c.layer_norm_epsilon as f64, c.norm_group_size())?);
        Ok(self.out_proj.forward(r, &normed))
    }
}
