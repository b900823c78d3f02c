//! HF `MambaBlock`, `MambaModel` and `MambaForCausalLM` on the GPU, running a batch of
//! sequences either as a prefill (variable lengths, packed) or as one decode token each, over
//! the recurrent-state cache of `fk-linear-attn`.
//!
//! The stack itself (embeddings, norm → mixer → residual, norm_f, lm_head) is the family's
//! [`ResidualStack`] (shared with Mamba-2; its doc says how the residual is kept).

use crate::mixer::MambaMixer;
use crate::MambaConfig;
use fk_baselines::Context;
use fk_linear_attn::{RecurrentLm, RecurrentStateCache, ResidualStack, StateCacheSpec};
use fk_runtime::linear::Linear;
use fk_runtime::{DType, Device, Result, Tensor};

// The step types are the family's (fk-linear-attn), shared with Mamba-2.
pub use fk_linear_attn::{GreedyOutput, LogitsRows, Step, StepOutput};

pub struct MambaBlock {
    /// `norm.weight` `[hidden]`.
    pub norm: Tensor,
    pub mixer: MambaMixer,
}

pub struct MambaModel {
    /// `embeddings.weight` `[vocab, hidden]`.
    pub embeddings: Tensor,
    pub layers: Vec<MambaBlock>,
    pub norm_f: Tensor,
}

pub struct MambaForCausalLM {
    pub config: MambaConfig,
    pub dtype: DType,
    pub backbone: MambaModel,
    /// `lm_head`, sharing the embedding table's memory when tied.
    pub lm_head: Linear,
}

impl MambaForCausalLM {
    /// [`RecurrentLm::streamed_weight_bytes`]: the decode step's roofline bytes.
    pub fn streamed_weight_bytes(&self) -> usize {
        RecurrentLm::streamed_weight_bytes(self)
    }

    /// The recurrent state one sequence needs, per layer.
    pub fn state_spec(&self) -> StateCacheSpec {
        let c = &self.config;
        StateCacheSpec {
            layers: c.num_hidden_layers,
            conv_dim: c.intermediate_size,
            d_conv: c.conv_kernel,
            ssm_heads: c.intermediate_size,
            ssm_head_dim: 1,
            d_state: c.state_size,
            conv_dtype: self.dtype,
        }
    }

    /// A state cache for `slots` concurrent sequences on the model's device.
    pub fn new_state_cache(&self, slots: usize) -> Result<RecurrentStateCache> {
        RecurrentLm::new_state_cache(self, slots)
    }

    /// Runs one step of the batch whose sequence s owns state slot `slots[s]`: a prefill
    /// continues from the slot's state (reset a slot with [`RecurrentStateCache::reset`] to
    /// start a sequence), a decode step advances it by one token.
    #[allow(clippy::too_many_arguments)]
    pub fn forward(&self, ctx: &Context, ids: &[u32], step: Step, cache: &RecurrentStateCache, slots: &[usize], rows: LogitsRows, debug: bool) -> Result<StepOutput> {
        RecurrentLm::forward(self, ctx, ids, step, cache, slots, rows, debug)
    }

    /// [`Self::forward`] with the logits left on the device (`[rows, vocab]`, model dtype,
    /// what the GPU sampler takes); the returned `StepOutput` has no host logits.
    #[allow(clippy::too_many_arguments)]
    pub fn forward_device(
        &self,
        ctx: &Context,
        ids: &[u32],
        step: Step,
        cache: &RecurrentStateCache,
        slots: &[usize],
        rows: LogitsRows,
        debug: bool,
    ) -> Result<(Tensor, StepOutput)> {
        RecurrentLm::forward_device(self, ctx, ids, step, cache, slots, rows, debug)
    }

    /// Greedy continuations of `prompts` (batched prefill, then batched decode steps) on a
    /// fresh state cache: the tokens and, per prompt, the logits each token was chosen from.
    pub fn greedy(&self, ctx: &Context, prompts: &[Vec<u32>], n: usize) -> Result<GreedyOutput> {
        RecurrentLm::greedy(self, ctx, prompts, n)
    }
}

impl RecurrentLm for MambaForCausalLM {
    type Mixer = MambaMixer;

    fn name(&self) -> &str {
        "MambaForCausalLM"
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
        MambaForCausalLM::state_spec(self)
    }
    fn describe_shape(&self) -> String {
        format!("{} layers, hidden {}", self.config.num_hidden_layers, self.config.hidden_size)
    }
    fn stack(&self) -> ResidualStack<'_, MambaMixer> {
        ResidualStack {
            embeddings: &self.backbone.embeddings,
            blocks: self.backbone.layers.iter().map(|b| (&b.norm, &b.mixer)).collect(),
            norm_f: &self.backbone.norm_f,
            lm_head: &self.lm_head,
            eps: self.config.layer_norm_epsilon,
        }
    }
}

/// First maximum, as torch.argmax picks on ties.
pub fn argmax(row: &[f32]) -> u32 {
    row.iter()
        .enumerate()
        .fold(0, |best, (j, &x)| if x > row[best] { j } else { best }) as u32
}
