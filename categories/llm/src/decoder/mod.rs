//! The decoder-only transformer the family's architectures share, as GPU modules over the
//! paged KV cache: RMSNorm, attention (fused qkv GEMM, rotary, paged attention, o_proj), the
//! gated MLP, the decoder layer (generic over its feed-forward block: dense MLP or mixture of
//! experts) and the causal LM around them. Architecture crates give them their upstream names
//! (`LlamaRMSNorm`, `LlamaAttention`, `MixtralDecoderLayer`, …) and their loaders.

mod attention;
mod layer;
mod mlp;
mod model;
mod norm;
mod weights;

pub use attention::{AttentionBuffers, DecoderAttention};
pub use layer::{DecoderLayer, FeedForward, LayerBuffers};
pub use mlp::{reference as gated_mlp_reference, GatedMlp, MlpScratch};
pub use model::{prompt_debug, DebugOutputs, DecoderForCausalLM, DecoderModel, DecoderScratch};
pub use norm::RMSNorm;
pub use weights::{build_decoder, checkpoint_dtype, lm_head_weight, FromCheckpoint, RandomWeights, WeightSource};
