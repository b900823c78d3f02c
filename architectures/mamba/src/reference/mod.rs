//! CPU reference of `MambaForCausalLM` with HF transformers semantics (its pure-PyTorch path:
//! `MambaMixer.forward` with the `causal_conv1d_fn` / `mamba_selective_scan` /
//! `causal_conv1d_update` / `mamba_selective_state_update` fallbacks), composed from the L1
//! references of `fk_baselines::reference` (embedding, rms_norm, nn.Linear, the SSM ops).
//!
//! Activations are rounded to the checkpoint dtype where PyTorch materialises a tensor; the
//! residual stream stays f32 when `residual_in_fp32` (as HF's `MambaBlock` keeps it); the
//! recurrent state is carried in f64 so that prefill-then-decode equals one long prefill.

mod mixer;

pub use mixer::MambaMixer;
pub use fk_linear_attn::reference::{MixerState, SequenceState};

use crate::MambaConfig;
use fk_linear_attn::reference::{ReferenceBackbone, ReferenceBlock, ReferenceLm};

/// HF `MambaBlock`, `MambaModel` and `MambaForCausalLM`: the family's reference stack over
/// this crate's mixer (`MambaForCausalLM::load(&ckpt, &cfg)`, `forward`, `greedy`).
pub type MambaBlock = ReferenceBlock<MambaMixer>;
pub type MambaModel = ReferenceBackbone<MambaMixer>;
pub type MambaForCausalLM = ReferenceLm<MambaMixer>;

fk_linear_attn::impl_stack_config!(MambaConfig);
