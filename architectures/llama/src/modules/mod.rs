//! Llama modules, named and shaped as in HF transformers `modeling_llama.py` (weights keyed
//! as in the checkpoint) with vLLM's fused execution (`gate_up_proj`, residual-fused norm).

mod mlp;
mod norm;
mod workload;

pub use mlp::LlamaMLP;
pub use norm::LlamaRMSNorm;
pub use workload::MlpHalfLayer;
pub use mlp::{reference as mlp_reference, MlpScratch};
