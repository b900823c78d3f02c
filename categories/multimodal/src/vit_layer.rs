//! The pre-norm ViT encoder layer in its upstream variants: SigLIP's `Siglip2EncoderLayer`
//! (`layer_norm1`, `self_attn`, `layer_norm2`, `mlp.fc1/fc2`) and DINOv3's `DINOv3ViTLayer`
//! (`norm1`, `attention`, `layer_scale1`, `norm2`, plain or gated `mlp`, `layer_scale2`).
//! The architecture crates load the weights under their own keys; the computation is here.

use fk_baselines::reference::modules::{Activation, LayerNorm, Linear, Padded, Rounding, SelfAttention};

/// The feed-forward block.
#[derive(Clone, Debug)]
pub enum Mlp {
    /// `fc2(act(fc1(x)))` (SigLIP `fc1/fc2`, DINOv3 `up_proj/down_proj`).
    Plain { up: Linear, down: Linear, act: Activation },
    /// `down(act(gate(x)) · up(x))` (DINOv3 `use_gated_mlp`: SwiGLU for the 7B).
    Gated { gate: Linear, up: Linear, down: Linear, act: Activation },
}

impl Mlp {
    pub fn forward(&self, r: Rounding, x: &[f32]) -> Vec<f32> {
        match self {
            Mlp::Plain { up, down, act } => down.forward(r, &act.forward(r, &up.forward(r, x))),
            Mlp::Gated { gate, up, down, act } => {
                let g = act.forward(r, &gate.forward(r, x));
                let u = up.forward(r, x);
                down.forward(r, &r.round(g.iter().zip(&u).map(|(&a, &b)| a as f64 * b as f64)))
            }
        }
    }
}

/// `x · lambda1` per channel (`DINOv3ViTLayerScale`).
#[derive(Clone, Debug)]
pub struct LayerScale {
    pub lambda1: Vec<f32>,
}

impl LayerScale {
    pub fn forward(&self, r: Rounding, x: &[f32]) -> Vec<f32> {
        let h = self.lambda1.len();
        r.round(x.iter().enumerate().map(|(i, &v)| v as f64 * self.lambda1[i % h] as f64))
    }
}

#[derive(Clone, Debug)]
pub struct VitLayer {
    pub norm1: LayerNorm,
    pub attention: SelfAttention,
    pub layer_scale1: Option<LayerScale>,
    pub norm2: LayerNorm,
    pub mlp: Mlp,
    pub layer_scale2: Option<LayerScale>,
}

impl VitLayer {
    /// `x [batch·seq, hidden]`; `rotate` applies a rotary embedding to one sequence's q/k
    /// (identity without RoPE).
    pub fn forward(&self, r: Rounding, x: &[f32], p: Padded, rotate: &dyn Fn(&[f32], usize) -> Vec<f32>) -> Vec<f32> {
        let scale = |s: &Option<LayerScale>, t: Vec<f32>| s.as_ref().map_or(t.clone(), |s| s.forward(r, &t));
        let a = self.attention.forward(r, &self.norm1.forward(r, x), p, rotate);
        let x = r.add(&scale(&self.layer_scale1, a), x);
        let m = self.mlp.forward(r, &self.norm2.forward(r, &x));
        r.add(&scale(&self.layer_scale2, m), &x)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use fk_baselines::reference::modules::no_rotation;
    use fk_runtime::DType;

    /// Random weights: constant ones would cancel against LayerNorm's zero-mean output.
    fn lin(n: usize, k: usize, seed: u64) -> Linear {
        Linear { weight: fk_runtime::rng::Rng::new(seed).normal_vec(n * k, 0.0, 0.5), bias: None, in_features: k, out_features: n }
    }

    /// With zero layer scales the layer is the identity; with zero down projections too.
    #[test]
    fn zero_layer_scale_is_identity() {
        let h = 4;
        let ln = LayerNorm { weight: vec![1.0; h], bias: None, eps: 1e-6 };
        let layer = VitLayer {
            norm1: ln.clone(),
            attention: SelfAttention { q: lin(h, h, 1), k: lin(h, h, 2), v: lin(h, h, 3), o: lin(h, h, 4), heads: 2, head_dim: 2 },
            layer_scale1: Some(LayerScale { lambda1: vec![0.0; h] }),
            norm2: ln,
            mlp: Mlp::Gated { gate: lin(8, h, 5), up: lin(8, h, 6), down: lin(h, 8, 7), act: Activation::Silu },
            layer_scale2: Some(LayerScale { lambda1: vec![0.0; h] }),
        };
        let x: Vec<f32> = (0..3 * h).map(|i| i as f32 * 0.5 - 2.0).collect();
        let mask = [true; 3];
        let out = layer.forward(Rounding(DType::F32), &x, Padded { batch: 1, seq: 3, mask: &mask }, &no_rotation);
        assert_eq!(out, x);
        let mut l2 = layer.clone();
        l2.layer_scale2 = None;
        let out2 = l2.forward(Rounding(DType::F32), &x, Padded { batch: 1, seq: 3, mask: &mask }, &no_rotation);
        assert_ne!(out2, x, "without the scale the MLP must contribute");
    }
}
