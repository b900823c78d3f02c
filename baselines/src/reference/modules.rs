//! Building blocks of *module-level* CPU references (encoders of the multimodal and recsys
//! families): weights read from a checkpoint with their shapes checked, and the few
//! PyTorch modules every encoder repeats (`nn.Linear`, `nn.LayerNorm`, an activation by its
//! HF name, residual add, multi-head self-attention over a padded batch). They compose the L1
//! references above and round to the model dtype where PyTorch materialises a tensor, so one
//! copy serves every family crate.

use super::{gelu_erf, gelu_tanh_scalar, layer_norm, padded_attention, quick_gelu_scalar, AttnShape};
use fk_runtime::host::round_scalar;
use fk_runtime::linear::linear_reference;
use fk_runtime::safetensors::Checkpoint;
use fk_runtime::{DType, Error, Result};

/// `name`'s values as f32 after checking its shape (the error names the tensor, both shapes
/// and the file, so a config that disagrees with its checkpoint is obvious).
pub fn load_tensor(ckpt: &Checkpoint, name: &str, shape: &[usize]) -> Result<Vec<f32>> {
    let info = ckpt.info(name)?;
    if info.shape != shape {
        return Err(Error::shape(
            "load",
            format!("tensor `{name}` in {}: checkpoint has {:?}, config implies {shape:?}", ckpt.path().display(), info.shape),
        ));
    }
    ckpt.host_f32(name)
}

/// What HF returns with `output_hidden_states=True`: `hidden_states[0]` is the embedding
/// output and `hidden_states[i + 1]` layer i's; all `[batch·seq, hidden]`.
#[derive(Clone, Debug)]
pub struct EncoderOutput {
    pub batch: usize,
    pub seq: usize,
    pub hidden: usize,
    pub hidden_states: Vec<Vec<f32>>,
    pub last_hidden_state: Vec<f32>,
    /// `[batch, hidden]` when the model has a pooler.
    pub pooler_output: Option<Vec<f32>>,
}

/// The key prefix under which `probe` exists, among `candidates`.
pub fn find_prefix(ckpt: &Checkpoint, probe: &str, candidates: &[&str]) -> Result<String> {
    candidates.iter().find(|p| ckpt.contains(&format!("{p}{probe}"))).map(|p| p.to_string()).ok_or_else(|| Error::MissingTensor {
        file: ckpt.path().to_path_buf(),
        name: format!("{probe} (tried prefixes {candidates:?})"),
    })
}

/// Rounds f64 results to the model dtype: what storing into a tensor of that dtype does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rounding(pub DType);

impl Rounding {
    pub fn round(&self, v: impl IntoIterator<Item = f64>) -> Vec<f32> {
        v.into_iter().map(|x| round_scalar(x, self.0) as f32).collect()
    }

    /// Residual add, rounded once.
    pub fn add(&self, a: &[f32], b: &[f32]) -> Vec<f32> {
        self.round(a.iter().zip(b).map(|(&x, &y)| x as f64 + y as f64))
    }
}

/// `nn.Linear(in_features, out_features, bias=…)`: weight `[out, in]`.
#[derive(Clone, Debug)]
pub struct Linear {
    pub weight: Vec<f32>,
    pub bias: Option<Vec<f32>>,
    pub in_features: usize,
    pub out_features: usize,
}

impl Linear {
    /// `<prefix>.weight` `[out, in]` and, if `bias`, `<prefix>.bias` `[out]`.
    pub fn load(ckpt: &Checkpoint, prefix: &str, in_features: usize, out_features: usize, bias: bool) -> Result<Linear> {
        Ok(Linear {
            weight: load_tensor(ckpt, &format!("{prefix}.weight"), &[out_features, in_features])?,
            bias: if bias { Some(load_tensor(ckpt, &format!("{prefix}.bias"), &[out_features])?) } else { None },
            in_features,
            out_features,
        })
    }

    /// `x [rows, in]` → `[rows, out]`, rounded.
    pub fn forward(&self, r: Rounding, x: &[f32]) -> Vec<f32> {
        let rows = x.len() / self.in_features.max(1);
        r.round(linear_reference(x, rows, self.in_features, &self.weight, self.out_features, self.bias.as_deref()))
    }
}

/// `nn.LayerNorm(hidden, eps, bias=…)`.
#[derive(Clone, Debug)]
pub struct LayerNorm {
    pub weight: Vec<f32>,
    pub bias: Option<Vec<f32>>,
    pub eps: f32,
}

impl LayerNorm {
    pub fn load(ckpt: &Checkpoint, prefix: &str, hidden: usize, eps: f32) -> Result<LayerNorm> {
        let bias_name = format!("{prefix}.bias");
        let bias = if ckpt.contains(&bias_name) { Some(load_tensor(ckpt, &bias_name, &[hidden])?) } else { None };
        Ok(LayerNorm { weight: load_tensor(ckpt, &format!("{prefix}.weight"), &[hidden])?, bias, eps })
    }

    pub fn forward(&self, r: Rounding, x: &[f32]) -> Vec<f32> {
        r.round(layer_norm(x, &self.weight, self.bias.as_deref(), self.eps))
    }
}

/// The activations HF encoders name in `hidden_act`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Activation {
    /// `"gelu"`: exact erf GELU.
    Gelu,
    /// `"gelu_pytorch_tanh"`, `"gelu_new"`: the tanh approximation.
    GeluTanh,
    /// `"quick_gelu"`.
    QuickGelu,
    /// `"silu"` / `"swish"`.
    Silu,
    /// `"relu"`.
    Relu,
}

impl Activation {
    /// From an HF `hidden_act` string; unknown names are a config error naming the key.
    pub fn from_hf(name: &str, key: &str) -> Result<Activation> {
        Ok(match name {
            "gelu" => Activation::Gelu,
            "gelu_pytorch_tanh" | "gelu_new" => Activation::GeluTanh,
            "quick_gelu" => Activation::QuickGelu,
            "silu" | "swish" => Activation::Silu,
            "relu" => Activation::Relu,
            other => return Err(Error::config(format!("`{key}` = `{other}` is not supported (gelu, gelu_pytorch_tanh, gelu_new, quick_gelu, silu, relu)"))),
        })
    }

    pub fn apply(&self, x: f64) -> f64 {
        match self {
            Activation::Gelu => gelu_erf(x),
            Activation::GeluTanh => gelu_tanh_scalar(x),
            Activation::QuickGelu => quick_gelu_scalar(x),
            Activation::Silu => x / (1.0 + (-x).exp()),
            Activation::Relu => x.max(0.0),
        }
    }

    /// Elementwise, rounded.
    pub fn forward(&self, r: Rounding, x: &[f32]) -> Vec<f32> {
        r.round(x.iter().map(|&v| self.apply(v as f64)))
    }
}

/// Multi-head self-attention of an encoder (BERT `query/key/value` + `attention.output.dense`,
/// ViT/SigLIP `q_proj/k_proj/v_proj/out_proj`): projections, an optional rotation of q and k
/// (DINOv3's 2D RoPE), bidirectional attention over the padded batch, output projection.
#[derive(Clone, Debug)]
pub struct SelfAttention {
    pub q: Linear,
    pub k: Linear,
    pub v: Linear,
    pub o: Linear,
    pub heads: usize,
    pub head_dim: usize,
}

/// A padded batch: `batch` sequences of `seq` rows each; `mask[b·seq + t]` says whether row t
/// of sequence b is real (keys that are not real are never attended to).
#[derive(Clone, Copy, Debug)]
pub struct Padded<'a> {
    pub batch: usize,
    pub seq: usize,
    pub mask: &'a [bool],
}

impl SelfAttention {
    /// `x [batch·seq, hidden]` → `[batch·seq, hidden]`. `rotate(q_or_k, b)` rewrites one
    /// sequence's `[seq, heads·head_dim]` rows (identity for BERT/SigLIP).
    pub fn forward(&self, r: Rounding, x: &[f32], p: Padded, rotate: &dyn Fn(&[f32], usize) -> Vec<f32>) -> Vec<f32> {
        let width = self.heads * self.head_dim;
        let rot = |t: Vec<f32>| -> Vec<f32> { t.chunks_exact(p.seq * width).enumerate().flat_map(|(b, s)| rotate(s, b)).collect() };
        let q = rot(self.q.forward(r, x));
        let k = rot(self.k.forward(r, x));
        let v = self.v.forward(r, x);
        let shape = AttnShape { heads: self.heads, kv_heads: self.heads, head_dim: self.head_dim, scale: 1.0 / (self.head_dim as f64).sqrt() };
        let ctx = r.round(padded_attention(&q, &k, &v, p.mask, p.batch, p.seq, &shape));
        self.o.forward(r, &ctx)
    }
}

/// The identity rotation (no rotary embedding).
pub fn no_rotation(x: &[f32], _batch_index: usize) -> Vec<f32> {
    x.to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn activation_names() {
        assert_eq!(Activation::from_hf("gelu", "hidden_act").unwrap(), Activation::Gelu);
        assert_eq!(Activation::from_hf("gelu_pytorch_tanh", "hidden_act").unwrap(), Activation::GeluTanh);
        let e = Activation::from_hf("mish", "hidden_act").unwrap_err().to_string();
        assert!(e.contains("hidden_act") && e.contains("mish"), "{e}");
        assert_eq!(Activation::Relu.apply(-2.0), 0.0);
    }

    /// With identity projections and one head, attention of a sequence whose keys are all
    /// equal returns the (shared) value row, and padding rows do not take part.
    #[test]
    fn self_attention_with_identity_projections() {
        let eye = |n: usize| -> Linear {
            let mut w = vec![0f32; n * n];
            (0..n).for_each(|i| w[i * n + i] = 1.0);
            Linear { weight: w, bias: None, in_features: n, out_features: n }
        };
        let a = SelfAttention { q: eye(2), k: eye(2), v: eye(2), o: eye(2), heads: 1, head_dim: 2 };
        let x = [1.0f32, 2.0, 1.0, 2.0, 50.0, -50.0];
        let mask = [true, true, false];
        let out = a.forward(Rounding(DType::F32), &x, Padded { batch: 1, seq: 3, mask: &mask }, &no_rotation);
        for row in out.chunks_exact(2) {
            assert!((row[0] - 1.0).abs() < 1e-6 && (row[1] - 2.0).abs() < 1e-6, "{out:?}");
        }
    }
}
