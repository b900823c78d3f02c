//! Llama modules, named and shaped as in HF transformers `modeling_llama.py` (weights keyed
//! as in the checkpoint) with vLLM's fused execution (`gate_up_proj`, residual-fused norm).
//! The implementations are the LLM family's decoder modules ([`fk_llm::decoder`]), which
//! Mixtral and the other Llama-shaped architectures share; Llama's are these instances.

mod workload;

/// HF `LlamaRMSNorm`.
pub type LlamaRMSNorm = fk_llm::decoder::RMSNorm;
/// HF `LlamaAttention` (fused `qkv_proj`, rotary, paged attention, `o_proj`).
pub type LlamaAttention = fk_llm::decoder::DecoderAttention;
/// HF `LlamaMLP` (fused `gate_up_proj`, `silu_and_mul`, `down_proj`).
pub type LlamaMLP = fk_llm::decoder::GatedMlp;
/// HF `LlamaDecoderLayer`.
pub type LlamaDecoderLayer = fk_llm::decoder::DecoderLayer<LlamaMLP>;

pub use fk_llm::decoder::{gated_mlp_reference as mlp_reference, MlpScratch};
pub use workload::MlpHalfLayer;
