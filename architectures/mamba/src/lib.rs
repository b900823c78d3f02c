//! fk-mamba: Mamba-1 (state-spaces/mamba-2.8b-hf) for fastkernels — a stack of `MambaBlock`s
//! (RMSNorm → `MambaMixer` → residual), the mixer being in_proj, a depthwise causal conv, the
//! input-dependent selective scan and out_proj.
//!
//! `MambaConfig` (the real config shipped in `configs/`), the CPU reference checked against
//! transformers goldens (prefill logits, each layer's final conv/SSM state, and 32 greedy steps
//! decoded through the recurrent state), and the GPU model over the SSM kernels of
//! `fk-baselines` with the recurrent-state cache of `fk-linear-attn`.

pub mod config;
pub mod engine;
pub mod goldens;
pub mod kernels;
pub mod mixer;
pub mod model;
pub mod reference;
pub mod weights;

pub use config::MambaConfig;
/// Graph-capturable decode buffers of `MambaForCausalLM` (the family's, over this mixer's).
pub type DecodeBuffers = fk_linear_attn::DecodeBuffers<mixer::MixerDecodeBuffers>;
pub use engine::{MambaRunner, MambaRunnerConfig};
pub use mixer::MambaMixer;
pub use model::{LogitsRows, MambaBlock, MambaForCausalLM, MambaModel, Step, StepOutput};
