//! Building a [`LlamaForCausalLM`] from an HF checkpoint (config.json + safetensors, sharded
//! or not) or from random weights at a config's real shapes.
//!
//! Checkpoint keys are HF's: `model.embed_tokens.weight`, `model.layers.{i}.self_attn.
//! {q,k,v,o}_proj.weight`, `model.layers.{i}.mlp.{gate,up,down}_proj.weight`,
//! `model.layers.{i}.{input,post_attention}_layernorm.weight`, `model.norm.weight`,
//! `lm_head.weight` (absent when tied). q/k/v and gate/up are stacked on the device into the
//! fused projections the kernels run (vLLM's `QKVParallelLinear`, `MergedColumnParallelLinear`).

use crate::config::LlamaConfig;
use crate::model::{LlamaForCausalLM, LlamaModel};
use fk_llm::decoder::DecoderForCausalLM;
use crate::modules::{LlamaAttention, LlamaDecoderLayer, LlamaMLP, LlamaRMSNorm};
use fk_baselines::util::random_fill;
use fk_llm::AttentionSpec;
use fk_runtime::linear::Linear;
use fk_runtime::safetensors::Checkpoint;
use fk_runtime::{DType, Device, Error, Result, Tensor};
use std::path::Path;

fn attention_spec(cfg: &LlamaConfig) -> AttentionSpec {
    AttentionSpec {
        heads: cfg.num_attention_heads,
        kv_heads: cfg.num_key_value_heads,
        head_dim: cfg.head_dim,
        scale: 1.0 / (cfg.head_dim as f32).sqrt(),
    }
}

/// Where a model's tensors come from.
trait Source {
    fn matrix(&mut self, name: &str, rows: usize, cols: usize) -> Result<Tensor>;
    fn vector(&mut self, name: &str, len: usize, ones: bool) -> Result<Tensor>;
    fn has(&self, name: &str) -> bool;
}

struct FromCheckpoint<'a> {
    ckpt: &'a Checkpoint,
    dev: &'a Device,
    dtype: DType,
}

impl Source for FromCheckpoint<'_> {
    fn matrix(&mut self, name: &str, rows: usize, cols: usize) -> Result<Tensor> {
        self.ckpt.load_as(self.dev, name, &[rows, cols], self.dtype)
    }
    fn vector(&mut self, name: &str, len: usize, _ones: bool) -> Result<Tensor> {
        self.ckpt.load_as(self.dev, name, &[len], self.dtype)
    }
    fn has(&self, name: &str) -> bool {
        self.ckpt.contains(name)
    }
}

/// Random weights: matrices uniform with mean 0 and std 0.02 (HF's `initializer_range`, so
/// activations keep a realistic scale through 32 layers), norms 1 (HF's init). Tensor k of
/// the model is drawn from seed `seed + k`, on the GPU.
struct Random<'a> {
    dev: &'a Device,
    dtype: DType,
    seed: u64,
}

impl Source for Random<'_> {
    fn matrix(&mut self, _name: &str, rows: usize, cols: usize) -> Result<Tensor> {
        let t = Tensor::empty(self.dev, &[rows, cols], self.dtype)?;
        self.seed += 1;
        random_fill(&t, self.seed, 0.0, 0.02)?;
        Ok(t)
    }
    fn vector(&mut self, _name: &str, len: usize, ones: bool) -> Result<Tensor> {
        let t = Tensor::empty(self.dev, &[len], self.dtype)?;
        self.seed += 1;
        random_fill(&t, self.seed, if ones { 1.0 } else { 0.0 }, if ones { 0.0 } else { 0.02 })?;
        Ok(t)
    }
    fn has(&self, _name: &str) -> bool {
        false
    }
}

fn build(cfg: &LlamaConfig, dev: &Device, dtype: DType, src: &mut dyn Source) -> Result<LlamaForCausalLM> {
    if cfg.attention_bias || cfg.mlp_bias {
        return Err(Error::config("attention_bias / mlp_bias are not supported yet (no Llama checkpoint of the registry uses them)"));
    }
    let (h, i, v) = (cfg.hidden_size, cfg.intermediate_size, cfg.vocab_size);
    let (qd, kvd) = (cfg.num_attention_heads * cfg.head_dim, cfg.num_key_value_heads * cfg.head_dim);
    let embed_tokens = src.matrix("model.embed_tokens.weight", v, h)?;
    let mut layers = Vec::with_capacity(cfg.num_hidden_layers);
    for l in 0..cfg.num_hidden_layers {
        let p = |s: &str| format!("model.layers.{l}.{s}");
        let q = src.matrix(&p("self_attn.q_proj.weight"), qd, h)?;
        let k = src.matrix(&p("self_attn.k_proj.weight"), kvd, h)?;
        let vv = src.matrix(&p("self_attn.v_proj.weight"), kvd, h)?;
        let qkv = Linear::new(Tensor::cat_rows(&[&q, &k, &vv])?, None)?;
        drop((q, k, vv));
        let o = Linear::new(src.matrix(&p("self_attn.o_proj.weight"), h, qd)?, None)?;
        let gate = src.matrix(&p("mlp.gate_proj.weight"), i, h)?;
        let up = src.matrix(&p("mlp.up_proj.weight"), i, h)?;
        let gate_up = Linear::new(Tensor::cat_rows(&[&gate, &up])?, None)?;
        drop((gate, up));
        let down = Linear::new(src.matrix(&p("mlp.down_proj.weight"), h, i)?, None)?;
        layers.push(LlamaDecoderLayer {
            input_layernorm: LlamaRMSNorm::new(src.vector(&p("input_layernorm.weight"), h, true)?, cfg.rms_norm_eps),
            self_attn: LlamaAttention::new(qkv, o, attention_spec(cfg))?,
            post_attention_layernorm: LlamaRMSNorm::new(src.vector(&p("post_attention_layernorm.weight"), h, true)?, cfg.rms_norm_eps),
            mlp: LlamaMLP::new(gate_up, down)?,
        });
    }
    let norm = LlamaRMSNorm::new(src.vector("model.norm.weight", h, true)?, cfg.rms_norm_eps);
    // Tied: HF checkpoints usually omit lm_head.weight; if one is present anyway, it wins
    // (transformers ties only when the key is missing).
    let lm_head = if cfg.tie_word_embeddings && !src.has("lm_head.weight") {
        Linear::new(embed_tokens.clone(), None)?
    } else {
        Linear::new(src.matrix("lm_head.weight", v, h)?, None)?
    };
    dev.synchronize()?;
    Ok(LlamaForCausalLM {
        config: cfg.clone(),
        dtype,
        inner: DecoderForCausalLM {
            name: "LlamaForCausalLM",
            spec: LlamaForCausalLM::spec_of(cfg, dtype),
            model: LlamaModel { embed_tokens, layers, norm, cos_sin_cache: LlamaForCausalLM::cos_sin_cache(dev, cfg)? },
            lm_head,
        },
    })
}

impl LlamaForCausalLM {
    /// Load an HF folder (config.json + model.safetensors or a sharded index). `dtype`
    /// `None` keeps the checkpoint's dtype (that of `model.embed_tokens.weight`).
    pub fn from_pretrained(dev: &Device, dir: &Path, dtype: Option<DType>) -> Result<LlamaForCausalLM> {
        let cfg = LlamaConfig::from_file(dir)?;
        let ckpt = Checkpoint::open(dir)?;
        let dtype = match dtype {
            Some(d) => d,
            None => ckpt.info("model.embed_tokens.weight")?.dtype,
        };
        if !DType::FLOATS.contains(&dtype) {
            return Err(Error::dtype("LlamaForCausalLM", format!("{dtype} weights are not supported (f32, f16, bf16)")));
        }
        build(&cfg, dev, dtype, &mut FromCheckpoint { ckpt: &ckpt, dev, dtype })
    }

    /// Random weights at `cfg`'s shapes (see [`Random`] for the distribution), reproducible
    /// from `seed`. For benchmarks at real sizes without downloading a checkpoint.
    pub fn random(dev: &Device, cfg: &LlamaConfig, dtype: DType, seed: u64) -> Result<LlamaForCausalLM> {
        build(cfg, dev, dtype, &mut Random { dev, dtype, seed })
    }
}
