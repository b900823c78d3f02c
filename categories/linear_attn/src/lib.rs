//! fk-linear-attn: what recurrent ("linear-attention") models share — Mamba, Mamba-2, and the
//! recurrent layers of hybrid models. Their per-sequence memory is not a growing KV cache but a
//! fixed-size state per layer: the causal conv's last `d_conv - 1` inputs and the SSM state.
//!
//! - [`slots::SlotManager`]: host-side bookkeeping of which state slot each sequence owns
//!   (allocate / free, with errors for exhaustion and double frees). It knows nothing of the
//!   device, so the LLM engine can run it beside its KV block manager (a hybrid model's
//!   sequence owns KV blocks for its attention layers *and* one state slot).
//! - [`state_cache::RecurrentStateCache`]: the device tensors, per layer
//!   `conv [slots, conv_dim, d_conv-1]` (model dtype, the layout `causal_conv1d{,_update}`
//!   read and write) and `ssm [slots, ssm_dim, d_state]` (f32, the layout `selective_scan` /
//!   `selective_state_update` keep), plus gather/scatter for batches of arbitrary slots.

pub mod slots;
pub mod state_cache;

pub use slots::{SlotError, SlotManager};
pub use state_cache::{RecurrentStateCache, StateBatch, StateCacheSpec};
