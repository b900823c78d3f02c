//! HF `Mamba2Block`, `Mamba2Model` and `Mamba2ForCausalLM` on the GPU, running a batch of
//! sequences either as a prefill (variable lengths, packed) or as one decode token each, over
//! the recurrent-state cache of `fk-linear-attn` (conv state `[conv_dim, k-1]` and SSM state
//! `[num_heads, head_dim, state_size]` per slot).
//!
//! The stack itself (embeddings, norm → mixer → residual, norm_f, lm_head) is the family's
//! [`ResidualStack`], shared with Mamba-1; this file wires Mamba-2's weights into it.

use crate::mixer::Mamba2Mixer;
use crate::Mamba2Config;
use fk_linear_attn::{RecurrentLm, ResidualStack, StateCacheSpec};
use fk_runtime::linear::Linear;
use fk_runtime::{DType, Device, Tensor};

pub use fk_linear_attn::{GreedyOutput, LogitsRows, Step, StepOutput};

const NAME: &str = "Mamba2ForCausalLM";

pub struct Mamba2Block {
    /// `norm.weight` `[hidden]`.
    pub norm: Tensor,
    pub mixer: Mamba2Mixer,
}

pub struct Mamba2Model {
    /// `embeddings.weight` `[vocab, hidden]`.
    pub embeddings: Tensor,
    pub layers: Vec<Mamba2Block>,
    pub norm_f: Tensor,
}

pub struct Mamba2ForCausalLM {
    pub config: Mamba2Config,
    pub dtype: DType,
    pub backbone: Mamba2Model,
    /// `lm_head`, sharing the embedding table's memory when tied.
    pub lm_head: Linear,
}

impl RecurrentLm for Mamba2ForCausalLM {
    type Mixer = Mamba2Mixer;

    fn name(&self) -> &str {
        NAME
    }

    fn vocab_size(&self) -> usize {
        self.config.vocab_size
    }

    fn dtype(&self) -> DType {
        self.dtype
    }

    fn device(&self) -> &Device {
        self.backbone.embeddings.device()
    }

    fn state_spec(&self) -> StateCacheSpec {
        let c = &self.config;
        StateCacheSpec {
            layers: c.num_hidden_layers,
            conv_dim: c.conv_dim(),
            d_conv: c.conv_kernel,
            ssm_heads: c.num_heads,
            ssm_head_dim: c.head_dim,
            d_state: c.state_size,
            conv_dtype: self.dtype,
        }
    }

    fn describe_shape(&self) -> String {
        let c = &self.config;
        format!("{} layers, hidden {}, {} heads of {} in {} groups, state {}", c.num_hidden_layers, c.hidden_size, c.num_heads, c.head_dim, c.n_groups, c.state_size)
    }

    fn stack(&self) -> ResidualStack<'_, Mamba2Mixer> {
        ResidualStack {
            embeddings: &self.backbone.embeddings,
            blocks: self.backbone.layers.iter().map(|b| (&b.norm, &b.mixer)).collect(),
            norm_f: &self.backbone.norm_f,
            lm_head: &self.lm_head,
            eps: self.config.layer_norm_epsilon,
        }
    }
}
