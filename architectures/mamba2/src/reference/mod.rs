//! CPU reference of `Mamba2ForCausalLM` with HF transformers semantics (its pure-PyTorch path:
//! `Mamba2Mixer.forward` with the `causal_conv1d_fn` / `mamba2_chunk_scan` /
//! `causal_conv1d_update` / `mamba2_selective_state_update` fallbacks), composed from the L1
//! references of `fk_baselines::reference` (embedding, rms_norm, nn.Linear, the SSM ops).
//!
//! Activations are rounded to the checkpoint dtype where PyTorch materialises a tensor; the
//! residual stream stays f32 when `residual_in_fp32` (as HF's `Mamba2Block` keeps it); the
//! recurrent state is carried in f64 so that prefill-then-decode equals one long prefill.

mod mixer;
mod model;

pub use mixer::{Mamba2Mixer, MixerState};
pub use model::{Mamba2Block, Mamba2ForCausalLM, Mamba2Model, SequenceState};
