//! fk-colbertv2: ColBERTv2 (colbert-ir/colbertv2.0) for fastkernels.
//!
//! A BERT-base encoder (HF `BertModel`, keys under `bert.`) followed by ColBERT's linear
//! projection (`linear.weight [dim, hidden]`, no bias) and per-token L2 normalisation: one
//! `dim`-vector per token (late interaction). [`reference::ColBERT`] is the CPU reference,
//! built on `fk_recsys::BertModel`; its goldens come from HF transformers
//! (`tests/goldens/colbertv2/`). The same BERT path runs the real all-MiniLM-L6-v2
//! checkpoint in `tests/minilm_cpu.rs`. [`gpu`] runs the same model on the GPU.

pub mod config;
pub mod embed;
pub mod gpu;
pub mod kernels;
pub mod reference;

pub use config::colbertv2_config;
pub use reference::{ColBERT, ColBERTOutput};
