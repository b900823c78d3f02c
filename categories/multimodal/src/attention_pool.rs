//! SigLIP's attention-pool head (`Siglip2MultiheadAttentionPoolingHead`): a learned `probe`
//! token attends over the encoder's output with `nn.MultiheadAttention` (packed
//! `in_proj_weight [3H, H]` / `in_proj_bias`, `out_proj`), masked to the real patches; then
//! `x + mlp(layernorm(x))`. Returns one vector per image.

use crate::vit_layer::Mlp;
use fk_baselines::reference::modules::{load_tensor, LayerNorm, Linear, Padded, Rounding};
use fk_baselines::reference::{padded_attention, AttnShape};
use fk_runtime::safetensors::Checkpoint;
use fk_runtime::Result;

#[derive(Clone, Debug)]
pub struct MultiheadAttentionPoolingHead {
    pub probe: Vec<f32>,
    pub q: Linear,
    pub k: Linear,
    pub v: Linear,
    pub out_proj: Linear,
    pub layernorm: LayerNorm,
    pub mlp: Mlp,
    pub heads: usize,
}

impl MultiheadAttentionPoolingHead {
    /// Weights under `prefix` (e.g. `head`): `probe [1, 1, H]`, `attention.in_proj_weight`,
    /// `attention.in_proj_bias`, `attention.out_proj`, `layernorm`; `mlp` is built by the caller
    /// (its keys are the architecture's MLP keys).
    pub fn load(ckpt: &Checkpoint, prefix: &str, hidden: usize, heads: usize, eps: f32, mlp: Mlp) -> Result<Self> {
        let p = |s: &str| format!("{prefix}.{s}");
        let w = load_tensor(ckpt, &p("attention.in_proj_weight"), &[3 * hidden, hidden])?;
        let b = load_tensor(ckpt, &p("attention.in_proj_bias"), &[3 * hidden])?;
        // nn.MultiheadAttention packs q, k, v row blocks in that order.
        let part = |i: usize| Linear {
            weight: w[i * hidden * hidden..(i + 1) * hidden * hidden].to_vec(),
            bias: Some(b[i * hidden..(i + 1) * hidden].to_vec()),
            in_features: hidden,
            out_features: hidden,
        };
        Ok(MultiheadAttentionPoolingHead {
            probe: load_tensor(ckpt, &p("probe"), &[1, 1, hidden])?,
            q: part(0),
            k: part(1),
            v: part(2),
            out_proj: Linear::load(ckpt, &p("attention.out_proj"), hidden, hidden, true)?,
            layernorm: LayerNorm::load(ckpt, &p("layernorm"), hidden, eps)?,
            mlp,
            heads,
        })
    }

    /// `x [batch·seq, hidden]` → `[batch, hidden]`.
    pub fn forward(&self, r: Rounding, x: &[f32], p: Padded) -> Vec<f32> {
        let h = self.probe.len();
        let d = h / self.heads;
        let q = self.q.forward(r, &self.probe);
        let k = self.k.forward(r, x);
        let v = self.v.forward(r, x);
        let shape = AttnShape { heads: self.heads, kv_heads: self.heads, head_dim: d, scale: 1.0 / (d as f64).sqrt() };
        let mut pooled = Vec::with_capacity(p.batch * h);
        for b in 0..p.batch {
            let rows = b * p.seq * h..(b + 1) * p.seq * h;
            // One probe query per image against that image's keys: a padded batch of one
            // sequence whose query row is the probe (the other query rows are unused).
            let mut qb = vec![0f32; p.seq * h];
            qb[..h].copy_from_slice(&q);
            let ctx = padded_attention(&qb, &k[rows.clone()], &v[rows], &p.mask[b * p.seq..(b + 1) * p.seq], 1, p.seq, &shape);
            pooled.extend(r.round(ctx[..h].iter().copied()));
        }
        let attn = self.out_proj.forward(r, &pooled);
        let m = self.mlp.forward(r, &self.layernorm.forward(r, &attn));
        r.add(&attn, &m)
    }
}
