//! fk-llm: what the LLM architectures share. So far the host-side bookkeeping of the paged KV
//! cache ([`kv_blocks`]); the attention modules, sampling and the engine (continuous batching,
//! CUDA-graph decode) build on it.

pub mod kv_blocks;

pub use kv_blocks::{KvBlockError, KvBlockManager, SeqId};
