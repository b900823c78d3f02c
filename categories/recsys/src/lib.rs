//! fk-recsys: the "Recommendation & Specialized" family's shared pieces.
//!
//! For now, the BERT-family text encoders that ColBERTv2 (BERT) and BGE-M3 (XLM-RoBERTa)
//! build on: [`BertConfig`] (one validated config for both `model_type`s), [`TokenBatch`]
//! (a right-padded batch with its attention mask) and [`BertModel`], the CPU reference of HF
//! `BertModel` / `XLMRobertaModel` with upstream module names and weight keys. GPU modules
//! come with the encoder kernels (layer_norm, gelu, padded attention) in `fk-baselines`.

pub mod batch;
pub mod bert;
pub mod config;
pub mod goldens;

pub use batch::TokenBatch;
pub use bert::{BertEmbeddings, BertLayer, BertModel, BertPooler};
pub use fk_baselines::reference::modules::EncoderOutput;
pub use config::{BertConfig, PositionStyle};
