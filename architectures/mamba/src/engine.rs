//! `MambaRunner`: the LLM engine's `StepRunner` for Mamba — the family's
//! [`fk_linear_attn::RecurrentRunner`] over [`MambaForCausalLM`]: each running sequence owns a
//! slot of the recurrent-state cache instead of KV blocks, prefill chunks run eagerly and
//! decode-only batches replay a CUDA graph per batch bucket (see fk-linear-attn's runner.rs
//! and decode.rs).

use crate::model::MambaForCausalLM;

pub use fk_linear_attn::RecurrentRunnerConfig as MambaRunnerConfig;

pub type MambaRunner<'m> = fk_linear_attn::RecurrentRunner<'m, MambaForCausalLM>;
