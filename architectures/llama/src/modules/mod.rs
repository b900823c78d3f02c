//! Llama modules, named and shaped as in HF transformers `modeling_llama.py` (weights keyed
//! as in the checkpoint) with vLLM's fused execution (`gate_up_proj`, residual-fused norm).

pub mod attention;
pub mod decoder_layer;
mod mlp;
mod norm;
mod workload;

pub use attention::LlamaAttention;
pub use decoder_layer::LlamaDecoderLayer;
pub use mlp::LlamaMLP;
pub use norm::LlamaRMSNorm;
pub use workload::MlpHalfLayer;
pub use mlp::{reference as mlp_reference, MlpScratch};
