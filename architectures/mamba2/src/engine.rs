//! `Mamba2Runner`: the LLM engine's `StepRunner` for Mamba-2 — the family's
//! [`fk_linear_attn::RecurrentRunner`] over [`Mamba2ForCausalLM`] (each running sequence owns a
//! slot of the recurrent-state cache instead of KV blocks; see fk-linear-attn's runner.rs).

use crate::model::Mamba2ForCausalLM;

pub use fk_linear_attn::RecurrentRunnerConfig as Mamba2RunnerConfig;

pub type Mamba2Runner<'m> = fk_linear_attn::RecurrentRunner<'m, Mamba2ForCausalLM>;
