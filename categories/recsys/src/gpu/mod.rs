//! The GPU `BertModel` / `XLMRobertaModel`: the same modules and weight keys as the CPU
//! reference in `bert.rs`, run on the baseline ops of a [`fk_baselines::Context`] (so a
//! candidate op table runs the same model).
//!
//! The batch is unpadded once on the host (only real tokens are embedded), every layer runs
//! on the packed `[total, hidden]` rows (GEMMs, norms and GELU are per token; attention takes
//! the sequences' `cu_seqlens`), and the result is padded once at the end, as padding.rs
//! recommends: padding costs no FLOPs and can change no real token.

mod embeddings;
mod layer;
mod model;
mod packed;
mod pooler;

pub use embeddings::BertEmbeddings;
pub use layer::{BertAttention, BertLayer, LayerBuffers};
pub use model::{BertModel, BertOutput};
pub use packed::{HostPackedTokens, PackedTokens};
pub use pooler::{first_tokens, BertPooler};
