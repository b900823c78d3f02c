//! One decode token through consecutive Mamba-1 blocks (HF `MambaBlock`: RMSNorm →
//! `MambaMixer` → residual add), composed of the op references exactly as the per-op GPU
//! decode step runs them: every tensor the step materialises in the activation dtype is
//! rounded to it here too. The oracle of `mamba_decode_layers`.

use super::{causal_conv1d_update, selective_state_update, ScanInputs};
use crate::reference::rms_norm;
use fk_runtime::host::round_scalar;
use fk_runtime::{DType, Result};

/// One block's weights as host values (already rounded to the activation dtype; the SSM
/// parameters are f32): `in_proj` `[2·inner, hidden]`, `conv_weight` `[inner, width]`,
/// `x_proj` `[dt_rank + 2·d_state, inner]`, `dt_proj` `[inner, dt_rank]`, `a` `[inner,
/// d_state]`, `out_proj` `[hidden, inner]`.
#[derive(Clone, Copy, Debug)]
pub struct MambaBlockWeights<'a> {
    pub norm: &'a [f32],
    pub in_proj: &'a [f32],
    pub conv_weight: &'a [f32],
    pub conv_bias: Option<&'a [f32]>,
    pub x_proj: &'a [f32],
    pub dt_proj: &'a [f32],
    pub dt_bias: &'a [f32],
    pub a: &'a [f32],
    pub d: &'a [f32],
    pub out_proj: &'a [f32],
    pub dt_rank: usize,
    pub d_state: usize,
}

/// `w` `[n, k]` times `x` `[k]`, rounded to `dtype` (a linear layer's materialised output).
fn linear(w: &[f32], x: &[f32], dtype: DType) -> Vec<f32> {
    let k = x.len();
    w.chunks_exact(k).map(|row| round_scalar(row.iter().zip(x).map(|(&a, &b)| a as f64 * b as f64).sum(), dtype) as f32).collect()
}

fn rounded(v: &[f64], dtype: DType) -> Vec<f32> {
    v.iter().map(|&x| round_scalar(x, dtype) as f32).collect()
}

/// What one decode token leaves: the residual stream after the last block's add, and that
/// block's conv output xc, x_proj output (dt, B, C) and gated SSM output y.
pub struct MambaDecodeOutput {
    pub residual: Vec<f32>,
    pub xc: Vec<f32>,
    pub dbc: Vec<f32>,
    pub y: Vec<f32>,
}

/// Advances `residual` `[hidden]` through `blocks`; `states[l]` is block l's (conv state
/// `[inner, width - 1]`, SSM state `[inner, d_state]`) of the sequence, advanced in place.
pub fn mamba_decode_layers(blocks: &[MambaBlockWeights], eps: f32, dtype: DType, residual: &[f32], states: &mut [(Vec<f64>, Vec<f64>)]) -> Result<MambaDecodeOutput> {
    let mut out = MambaDecodeOutput { residual: residual.to_vec(), xc: Vec::new(), dbc: Vec::new(), y: Vec::new() };
    for (b, (conv, ssm)) in blocks.iter().zip(states.iter_mut()) {
        let inner = b.d.len();
        let (r, n) = (b.dt_rank, b.d_state);
        let h = rounded(&rms_norm(&out.residual, b.norm, eps, dtype), dtype);
        let xz = linear(b.in_proj, &h, dtype);
        let (x, z) = xz.split_at(inner);
        let xc = rounded(&causal_conv1d_update(x, inner, conv, b.conv_weight, b.conv_bias, true)?, dtype);
        let dbc = linear(b.x_proj, &xc, dtype);
        let dt = linear(b.dt_proj, &dbc[..r], dtype);
        let inp = ScanInputs {
            u: &xc,
            delta: &dt,
            a: b.a,
            b: &dbc[r..r + n],
            c: &dbc[r + n..r + 2 * n],
            d: Some(b.d),
            z: Some(z),
            delta_bias: Some(b.dt_bias),
            delta_softplus: true,
            dim: inner,
            d_state: n,
        };
        let y = rounded(&selective_state_update(&inp, ssm)?, dtype);
        let o = linear(b.out_proj, &y, dtype);
        out.residual = out.residual.iter().zip(&o).map(|(&a, &o)| round_scalar(a as f64 + o as f64, dtype) as f32).collect();
        (out.xc, out.dbc, out.y) = (xc, dbc, y);
    }
    Ok(out)
}
