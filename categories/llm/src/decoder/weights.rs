//! Building a [`DecoderForCausalLM`] from an HF checkpoint (config.json + safetensors, sharded
//! or not) or from random weights at a config's real shapes. The parts every Llama-shaped
//! decoder shares are built here with HF's keys (`model.embed_tokens.weight`,
//! `model.layers.{i}.self_attn.{q,k,v,o}_proj.weight`, `model.layers.{i}.{input,
//! post_attention}_layernorm.weight`, `model.norm.weight`, `lm_head.weight`, absent when
//! tied); each architecture builds its layers' feed-forward blocks from the same source.
//! q/k/v are stacked on the device into the fused projection the kernels run (vLLM's
//! `QKVParallelLinear`).

use super::attention::DecoderAttention;
use super::layer::{DecoderLayer, FeedForward};
use super::model::{DecoderForCausalLM, DecoderModel};
use super::norm::RMSNorm;
use crate::config::DecoderCore;
use crate::{AttentionSpec, LmSpec};
use fk_baselines::util::random_fill;
use fk_runtime::linear::Linear;
use fk_runtime::safetensors::Checkpoint;
use fk_runtime::{DType, Device, Error, Result, Tensor};

/// Where a model's tensors come from.
pub trait WeightSource {
    /// A tensor of `shape` (checked against the checkpoint), in the model dtype.
    fn tensor(&mut self, name: &str, shape: &[usize]) -> Result<Tensor>;
    /// A norm weight (random weights: ones, as HF initialises norms).
    fn norm(&mut self, name: &str, len: usize) -> Result<Tensor>;
    fn has(&self, name: &str) -> bool;
    /// Tensors `(name, rows)`, each `[rows, cols]`, stacked along rows into one `[Σ rows,
    /// cols]` tensor: what the fused projections (qkv, gate_up, an MoE layer's experts) run.
    /// A random source draws the whole at once.
    fn stacked(&mut self, parts: &[(String, usize)], cols: usize) -> Result<Tensor> {
        let loaded = parts.iter().map(|(name, rows)| self.tensor(name, &[*rows, cols])).collect::<Result<Vec<_>>>()?;
        Tensor::cat_rows(&loaded.iter().collect::<Vec<_>>())
    }
}

pub struct FromCheckpoint<'a> {
    pub ckpt: &'a Checkpoint,
    pub dev: &'a Device,
    pub dtype: DType,
}

impl WeightSource for FromCheckpoint<'_> {
    fn tensor(&mut self, name: &str, shape: &[usize]) -> Result<Tensor> {
        self.ckpt.load_as(self.dev, name, shape, self.dtype)
    }
    fn norm(&mut self, name: &str, len: usize) -> Result<Tensor> {
        self.ckpt.load_as(self.dev, name, &[len], self.dtype)
    }
    fn has(&self, name: &str) -> bool {
        self.ckpt.contains(name)
    }
}

/// Random weights: matrices with mean 0 and std 0.02 (HF's `initializer_range`, so activations
/// keep a realistic scale through 32 layers), norms 1 (HF's init). Tensor k of the model is
/// drawn from seed `seed + k`, on the GPU.
pub struct RandomWeights<'a> {
    pub dev: &'a Device,
    pub dtype: DType,
    pub seed: u64,
}

impl WeightSource for RandomWeights<'_> {
    fn tensor(&mut self, _name: &str, shape: &[usize]) -> Result<Tensor> {
        let t = Tensor::empty(self.dev, shape, self.dtype)?;
        self.seed += 1;
        random_fill(&t, self.seed, 0.0, 0.02)?;
        Ok(t)
    }
    fn norm(&mut self, _name: &str, len: usize) -> Result<Tensor> {
        let t = Tensor::empty(self.dev, &[len], self.dtype)?;
        self.seed += 1;
        random_fill(&t, self.seed, 1.0, 0.0)?;
        Ok(t)
    }
    fn has(&self, _name: &str) -> bool {
        false
    }
    fn stacked(&mut self, parts: &[(String, usize)], cols: usize) -> Result<Tensor> {
        let rows = parts.iter().map(|(_, r)| r).sum::<usize>();
        self.tensor("stacked", &[rows, cols])
    }
}

/// The output projection's weight `[vocab, hidden]`. Tied: HF checkpoints usually omit
/// `lm_head.weight`, and then it is the embedding table (shared memory); if one is present
/// anyway, it wins (transformers ties only when the key is missing). Untied: the checkpoint's
/// (a missing one is its named error), or a fresh random matrix from a random source.
pub fn lm_head_weight(src: &mut dyn WeightSource, tied: bool, embeddings: &Tensor, vocab: usize, hidden: usize) -> Result<Tensor> {
    if tied && !src.has("lm_head.weight") {
        Ok(embeddings.clone())
    } else {
        src.tensor("lm_head.weight", &[vocab, hidden])
    }
}

/// The dtype a checkpoint is run in: `dtype`, else that of its embedding table.
pub fn checkpoint_dtype(ckpt: &Checkpoint, dtype: Option<DType>, model: &str) -> Result<DType> {
    let dtype = match dtype {
        Some(d) => d,
        None => ckpt.info("model.embed_tokens.weight")?.dtype,
    };
    if !DType::FLOATS.contains(&dtype) {
        return Err(Error::dtype(model, format!("{dtype} weights are not supported (f32, f16, bf16)")));
    }
    Ok(dtype)
}

/// Build the decoder of `cfg` from `src`; `ffn(src, layer)` builds each layer's feed-forward.
pub fn build_decoder<F: FeedForward>(
    name: &'static str,
    cfg: &DecoderCore,
    dev: &Device,
    dtype: DType,
    src: &mut dyn WeightSource,
    mut ffn: impl FnMut(&mut dyn WeightSource, usize) -> Result<F>,
) -> Result<DecoderForCausalLM<F>> {
    let (h, v) = (cfg.hidden_size, cfg.vocab_size);
    let (qd, kvd) = (cfg.num_attention_heads * cfg.head_dim, cfg.num_key_value_heads * cfg.head_dim);
    let spec = AttentionSpec { heads: cfg.num_attention_heads, kv_heads: cfg.num_key_value_heads, head_dim: cfg.head_dim, scale: 1.0 / (cfg.head_dim as f32).sqrt() };
    let embed_tokens = src.tensor("model.embed_tokens.weight", &[v, h])?;
    let mut layers = Vec::with_capacity(cfg.num_hidden_layers);
    for l in 0..cfg.num_hidden_layers {
        let p = |s: &str| format!("model.layers.{l}.{s}");
        let qkv = Linear::new(src.stacked(&[(p("self_attn.q_proj.weight"), qd), (p("self_attn.k_proj.weight"), kvd), (p("self_attn.v_proj.weight"), kvd)], h)?, None)?;
        let o = Linear::new(src.tensor(&p("self_attn.o_proj.weight"), &[h, qd])?, None)?;
        layers.push(DecoderLayer {
            input_layernorm: RMSNorm::new(src.norm(&p("input_layernorm.weight"), h)?, cfg.rms_norm_eps),
            self_attn: DecoderAttention::new(qkv, o, spec)?,
            post_attention_layernorm: RMSNorm::new(src.norm(&p("post_attention_layernorm.weight"), h)?, cfg.rms_norm_eps),
            mlp: ffn(src, l)?,
        });
    }
    let norm = RMSNorm::new(src.norm("model.norm.weight", h)?, cfg.rms_norm_eps);
    let lm_head = Linear::new(lm_head_weight(src, cfg.tie_word_embeddings, &embed_tokens, v, h)?, None)?;
    let p = cfg.max_position_embeddings;
    let cos_sin = crate::rope::cos_sin_cache(cfg.rope_theta, cfg.head_dim, &cfg.rope_scaling, p);
    let cos_sin_cache = Tensor::from_f32(dev, &cos_sin, &[p, cfg.head_dim], DType::F32)?;
    dev.synchronize()?;
    let spec = LmSpec {
        num_layers: cfg.num_hidden_layers,
        kv_heads: cfg.num_key_value_heads,
        head_dim: cfg.head_dim,
        hidden_size: h,
        vocab_size: v,
        max_position_embeddings: p,
        dtype,
    };
    Ok(DecoderForCausalLM { name, spec, model: DecoderModel { embed_tokens, layers, norm, cos_sin_cache }, lm_head })
}
