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
//! - [`step`]: one step of a recurrent LM over that cache ([`Step`], [`LogitsRows`],
//!   [`StepOutput`], the shared input checks) and the [`RecurrentLm`] trait the family's models
//!   implement, with greedy decoding on top.
//! - [`stack::ResidualStack`]: the embeddings → (norm → mixer → residual)* → norm_f → lm_head
//!   step both Mamba generations run, over any [`RecurrentMixer`].
//! - [`reference`]: the CPU reference of that stack (HF semantics) over any mixer's reference.
//! - [`decode`]: graph-capturable decode steps by state slot over any [`SlotMixer`].
//! - [`bench`]: the L2 (mixer) and L4 (model) bench workloads every model's `ops` bench runs.
//! - [`runner::RecurrentRunner`]: the LLM engine's `StepRunner` for any [`RecurrentLm`]: each
//!   sequence owns a state slot instead of KV blocks; decode steps replay CUDA graphs.

pub mod bench;
pub mod decode;
pub mod reference;
pub mod runner;
pub mod slots;
pub mod stack;
pub mod state_cache;
pub mod step;

pub use decode::{DecodeBuffers, SlotMixer};
pub use runner::{RecurrentRunner, RecurrentRunnerConfig};
pub use slots::{SlotError, SlotManager};
pub use stack::{RecurrentMixer, ResidualStack};
pub use state_cache::{LayerStates, RecurrentStateCache, StateBatch, StateCacheSpec};
pub use step::{check_step, GreedyOutput, LogitsRows, RecurrentLm, Step, StepOutput};
