//! CPU reference of `Mamba2ForCausalLM` with HF transformers semantics (its pure-PyTorch path:
//! `Mamba2Mixer.forward` with the `causal_conv1d_fn` / `mamba2_chunk_scan` /
//! `causal_conv1d_update` / `mamba2_selective_state_update` fallbacks), composed from the L1
//! references of `fk_baselines::reference` (embedding, rms_norm, nn.Linear, the SSM ops).
//!
//! Activations are rounded to the checkpoint dtype where PyTorch materialises a tensor; the
//! residual stream stays f32 when `residual_in_fp32` (as HF's `Mamba2Block` keeps it); the
//! recurrent state is carried in f64 so that prefill-then-decode equals one long prefill.

mod mixer;

pub use mixer::Mamba2Mixer;
pub use fk_linear_attn::reference::{MixerState, SequenceState};

use crate::Mamba2Config;
use fk_linear_attn::reference::{ReferenceBackbone, ReferenceBlock, ReferenceLm};

/// HF `Mamba2Block`, `Mamba2Model` and `Mamba2ForCausalLM`: the family's reference stack over
/// this crate's mixer (`Mamba2ForCausalLM::load(&ckpt, &cfg)`, `forward`, `greedy`).
pub type Mamba2Block = ReferenceBlock<Mamba2Mixer>;
pub type Mamba2Model = ReferenceBackbone<Mamba2Mixer>;
pub type Mamba2ForCausalLM = ReferenceLm<Mamba2Mixer>;

fk_linear_attn::impl_stack_config!(Mamba2Config);
