//! CPU reference of the layer stack HF's `MambaModel` and `Mamba2Model` share, with HF
//! transformers semantics: embeddings → blocks of (RMSNorm → mixer → residual add) → norm_f →
//! lm_head (tied to the embeddings unless the checkpoint has its own). The models differ only
//! in their mixer ([`ReferenceMixer`], each architecture's `reference::mixer`).
//!
//! Activations are rounded to the checkpoint dtype where PyTorch materialises a tensor; the
//! residual stream stays f32 under `residual_in_fp32` (as HF's blocks keep it); the mixers
//! carry their recurrent state in f64, so prefill-then-decode equals one long prefill.

use fk_baselines::reference::modules::{load_tensor, Rounding};
use fk_baselines::reference::sampling::argmax;
use fk_baselines::reference::{embedding, rms_norm};
use fk_llm::reference::ReferenceOutput;
use fk_runtime::linear::linear_reference;
use fk_runtime::safetensors::Checkpoint;
use fk_runtime::{DType, Error, Result};

/// One sequence's recurrent state in one layer: the conv's last `conv_kernel - 1` inputs per
/// channel (oldest first) and the SSM state, in the mixer's layout.
#[derive(Clone, Debug, PartialEq)]
pub struct MixerState {
    pub conv: Vec<f64>,
    pub ssm: Vec<f64>,
}

/// A sequence's recurrent state over all layers: what a decode step continues from.
#[derive(Clone, Debug, PartialEq)]
pub struct SequenceState {
    pub layers: Vec<MixerState>,
    /// Tokens consumed so far.
    pub tokens: usize,
}

/// What the stack needs of a model's config.
pub trait StackConfig: Clone {
    fn hidden_size(&self) -> usize;
    fn vocab_size(&self) -> usize;
    fn num_hidden_layers(&self) -> usize;
    fn layer_norm_epsilon(&self) -> f32;
    fn residual_in_fp32(&self) -> bool;
    fn tie_word_embeddings(&self) -> bool;
}

/// `impl StackConfig for $t` from its fields of the same names (HF's config keys, which
/// every model of the family shares).
#[macro_export]
macro_rules! impl_stack_config {
    ($t:ty) => {
        impl $crate::reference::StackConfig for $t {
            fn hidden_size(&self) -> usize {
                self.hidden_size
            }
            fn vocab_size(&self) -> usize {
                self.vocab_size
            }
            fn num_hidden_layers(&self) -> usize {
                self.num_hidden_layers
            }
            fn layer_norm_epsilon(&self) -> f32 {
                self.layer_norm_epsilon
            }
            fn residual_in_fp32(&self) -> bool {
                self.residual_in_fp32
            }
            fn tie_word_embeddings(&self) -> bool {
                self.tie_word_embeddings
            }
        }
    };
}

/// A block's mixer on the CPU.
pub trait ReferenceMixer: Sized {
    type Config: StackConfig;
    /// The causal LM's name in errors (`Mamba2ForCausalLM`).
    const MODEL: &'static str;
    /// `backbone.layers.<i>.mixer.*` (`prefix` ends in `mixer`).
    fn load(ckpt: &Checkpoint, prefix: &str, cfg: &Self::Config) -> Result<Self>;
    /// A fresh sequence's state (zeros: what HF starts a prompt from).
    fn zero_state(&self) -> MixerState;
    /// `hidden` `[L, H]` (model-dtype values) → `[L, H]`, advancing `state` by L tokens.
    fn forward(&self, r: Rounding, hidden: &[f32], state: &mut MixerState) -> Result<Vec<f32>>;
}

/// HF `MambaBlock` / `Mamba2Block`.
pub struct ReferenceBlock<M> {
    pub norm: Vec<f32>,
    pub mixer: M,
    eps: f32,
}

impl<M: ReferenceMixer> ReferenceBlock<M> {
    /// `residual` `[L, H]` (f32 when residual_in_fp32, else model-dtype values) → the block's
    /// output, residual included, in the same precision.
    fn forward(&self, dtype: DType, residual_dtype: DType, residual: &[f32], state: &mut MixerState) -> Result<Vec<f32>> {
        let r = Rounding(dtype);
        // HF: norm(hidden_states.to(norm.weight.dtype)), computed in f32, weight applied in dtype.
        let normed = r.round(rms_norm(&r.round(residual.iter().map(|&v| v as f64)), &self.norm, self.eps, dtype));
        let mixed = self.mixer.forward(r, &normed, state)?;
        Ok(Rounding(residual_dtype).add(residual, &mixed))
    }
}

/// HF `MambaModel` / `Mamba2Model`.
pub struct ReferenceBackbone<M> {
    pub embeddings: Vec<f32>,
    pub layers: Vec<ReferenceBlock<M>>,
    pub norm_f: Vec<f32>,
}

/// HF `MambaForCausalLM` / `Mamba2ForCausalLM`.
pub struct ReferenceLm<M: ReferenceMixer> {
    pub cfg: M::Config,
    /// The checkpoint's dtype: activations are rounded to it.
    pub dtype: DType,
    pub backbone: ReferenceBackbone<M>,
    /// `lm_head.weight`, or None when tied to `backbone.embeddings.weight`.
    pub lm_head: Option<Vec<f32>>,
}

impl<M: ReferenceMixer> ReferenceLm<M> {
    pub fn load(ckpt: &Checkpoint, cfg: &M::Config) -> Result<Self> {
        let (h, v) = (cfg.hidden_size(), cfg.vocab_size());
        let dtype = ckpt.info("backbone.embeddings.weight")?.dtype;
        let layers = (0..cfg.num_hidden_layers())
            .map(|l| {
                let p = format!("backbone.layers.{l}");
                Ok(ReferenceBlock { norm: load_tensor(ckpt, &format!("{p}.norm.weight"), &[h])?, mixer: M::load(ckpt, &format!("{p}.mixer"), cfg)?, eps: cfg.layer_norm_epsilon() })
            })
            .collect::<Result<Vec<_>>>()?;
        let lm_head = if ckpt.contains("lm_head.weight") {
            Some(load_tensor(ckpt, "lm_head.weight", &[v, h])?)
        } else if cfg.tie_word_embeddings() {
            None
        } else {
            return Err(Error::MissingTensor { file: ckpt.path().to_path_buf(), name: "lm_head.weight (tie_word_embeddings is false)".into() });
        };
        let backbone = ReferenceBackbone { embeddings: load_tensor(ckpt, "backbone.embeddings.weight", &[v, h])?, layers, norm_f: load_tensor(ckpt, "backbone.norm_f.weight", &[h])? };
        Ok(ReferenceLm { cfg: cfg.clone(), dtype, backbone, lm_head })
    }

    /// A fresh sequence: zero conv window and SSM state in every layer.
    pub fn new_state(&self) -> SequenceState {
        SequenceState { layers: self.backbone.layers.iter().map(|b| b.mixer.zero_state()).collect(), tokens: 0 }
    }

    fn residual_dtype(&self) -> DType {
        if self.cfg.residual_in_fp32() {
            DType::F32
        } else {
            self.dtype
        }
    }

    /// Runs `ids` after whatever `state` has consumed (a prompt on a new state, a decode token,
    /// or a chunk of a longer prompt) and advances the state. Returns every block's output,
    /// the final norm and the logits `[L, vocab]` (f32, as HF's `.float()` returns them).
    pub fn forward(&self, ids: &[u32], state: &mut SequenceState) -> Result<ReferenceOutput> {
        let (h, v) = (self.cfg.hidden_size(), self.cfg.vocab_size());
        if ids.is_empty() {
            return Err(Error::bad_input(M::MODEL, "no tokens"));
        }
        if let Some(&bad) = ids.iter().find(|&&t| t as usize >= v) {
            return Err(Error::bad_input(M::MODEL, format!("token id {bad} out of range (vocab_size {v})")));
        }
        if state.layers.len() != self.backbone.layers.len() {
            return Err(Error::bad_input(M::MODEL, format!("state has {} layers, the model {}", state.layers.len(), self.backbone.layers.len())));
        }
        let ids64: Vec<i64> = ids.iter().map(|&t| t as i64).collect();
        // The embedding output is in the model dtype; as the residual it is exact in f32.
        let mut hidden: Vec<f32> = embedding(&ids64, &self.backbone.embeddings, h).into_iter().map(|x| x as f32).collect();
        let mut layer_outputs = Vec::with_capacity(self.backbone.layers.len());
        for (block, st) in self.backbone.layers.iter().zip(&mut state.layers) {
            hidden = block.forward(self.dtype, self.residual_dtype(), &hidden, st)?;
            layer_outputs.push(hidden.clone());
        }
        state.tokens += ids.len();
        // norm_f sees the residual stream's dtype (f32 under residual_in_fp32).
        let rd = Rounding(self.residual_dtype());
        let final_norm = rd.round(rms_norm(&hidden, &self.backbone.norm_f, self.cfg.layer_norm_epsilon(), self.residual_dtype()));
        // HF: lm_head(hidden.to(lm_head.weight.dtype)).float()
        let x = Rounding(self.dtype).round(final_norm.iter().map(|&v| v as f64));
        let w = self.lm_head.as_deref().unwrap_or(&self.backbone.embeddings);
        let logits = Rounding(self.dtype).round(linear_reference(&x, ids.len(), h, w, v, None));
        Ok(ReferenceOutput { tokens: ids.len(), layer_outputs, final_norm, logits, router_topk: vec![] })
    }

    /// Greedy continuation: prefill `prompt`, then `n - 1` single-token decode steps through
    /// the recurrent state. Returns the tokens and, per token, the logits it was chosen from.
    pub fn greedy(&self, prompt: &[u32], n: usize) -> Result<(Vec<u32>, Vec<Vec<f32>>)> {
        let v = self.cfg.vocab_size();
        let mut state = self.new_state();
        let out = self.forward(prompt, &mut state)?;
        let mut row = out.logits[(prompt.len() - 1) * v..].to_vec();
        let (mut tokens, mut rows) = (Vec::with_capacity(n), Vec::with_capacity(n));
        for step in 0..n {
            let next = argmax(&row) as u32;
            tokens.push(next);
            rows.push(std::mem::take(&mut row));
            if step + 1 < n {
                row = self.forward(&[next], &mut state)?.logits;
            }
        }
        Ok((tokens, rows))
    }
}
