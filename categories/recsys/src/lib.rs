//! fk-recsys: the "Recommendation & Specialized" family's shared pieces.
//!
//! For now, the BERT-family text encoders that ColBERTv2 (BERT) and BGE-M3 (XLM-RoBERTa)
//! build on: [`BertConfig`] (one validated config for both `model_type`s), [`TokenBatch`]
//! (a right-padded batch with its attention mask) and [`BertModel`], the CPU reference of HF
//! `BertModel` / `XLMRobertaModel` with upstream module names and weight keys. [`gpu::BertModel`] runs the same
//! modules on the GPU with the encoder ops of `fk-baselines` (layer_norm, gelu, varlen attention
//! over the packed tokens). [`embed`] connects them to the embedding engine
//! (`fk_runtime::embed`): text requests → padded batches, per-request checks, `BertEncoder`.

pub mod batch;
pub mod bert;
pub mod config;
pub mod embed;
pub mod goldens;
pub mod random;
pub mod gpu;
pub mod text_encoder;

pub use batch::TokenBatch;
pub use bert::{BertEmbeddings, BertLayer, BertModel, BertPooler};
pub use fk_baselines::reference::modules::EncoderOutput;
pub use config::{BertConfig, PositionStyle};
