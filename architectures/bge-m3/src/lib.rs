//! fk-bge-m3: BGE-M3 (BAAI/bge-m3) for fastkernels.
//!
//! An XLM-RoBERTa-large encoder (HF `XLMRobertaModel`); the dense retrieval vector is the
//! L2-normalised `[CLS]` (`<s>`) row of `last_hidden_state`. [`reference::BgeM3`] is the CPU
//! reference, built on `fk_recsys::BertModel` (XLM-R position ids), checked against HF
//! goldens (`tests/goldens/bge_m3/`). The sparse and ColBERT heads of BGE-M3 ship outside the
//! HF checkpoint (`sparse_linear.pt`, `colbert_linear.pt`) and are not modelled yet. [`gpu::BgeM3`] runs the dense encoder on the GPU.

pub mod config;
pub mod embed;
pub mod gpu;
pub mod kernels;
pub mod reference;

pub use config::bge_m3_config;
pub use reference::{BgeM3, BgeM3Output};
