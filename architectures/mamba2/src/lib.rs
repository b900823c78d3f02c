//! fk-mamba2: Mamba-2 (mistralai/Mamba-Codestral-7B-v0.1) for fastkernels — a stack of
//! `Mamba2Block`s (RMSNorm → `Mamba2Mixer` → residual), the mixer being in_proj (gate z, the
//! conv input xBC, dt), a depthwise causal conv over xBC, the SSD scan (scalar A per head, B/C
//! shared by groups of heads), the gated group RMSNorm and out_proj.
//!
//! `Mamba2Config` (the real config shipped in `configs/`), the CPU reference checked against
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

pub use config::Mamba2Config;
pub use engine::{Mamba2Runner, Mamba2RunnerConfig};
pub use fk_linear_attn::RecurrentLm;
pub use mixer::Mamba2Mixer;
pub use model::{GreedyOutput, LogitsRows, Mamba2Block, Mamba2ForCausalLM, Mamba2Model, Step, StepOutput};
