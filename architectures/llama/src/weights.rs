//! Building a [`LlamaForCausalLM`] from an HF checkpoint (config.json + safetensors, sharded
//! or not) or from random weights at a config's real shapes: the family's decoder builder
//! ([`fk_llm::decoder::build_decoder`]) with Llama's MLP, `model.layers.{i}.mlp.{gate,up,
//! down}_proj.weight`, gate and up stacked on the device into the fused `gate_up_proj` (vLLM's
//! `MergedColumnParallelLinear`).

use crate::config::LlamaConfig;
use crate::model::LlamaForCausalLM;
use crate::modules::LlamaMLP;
use fk_llm::decoder::{build_decoder, checkpoint_dtype, FromCheckpoint, RandomWeights, WeightSource};
use fk_runtime::linear::Linear;
use fk_runtime::safetensors::Checkpoint;
use fk_runtime::{DType, Device, Error, Result};
use std::path::Path;

fn build(cfg: &LlamaConfig, dev: &Device, dtype: DType, src: &mut dyn WeightSource) -> Result<LlamaForCausalLM> {
    if cfg.attention_bias || cfg.mlp_bias {
        return Err(Error::config("attention_bias / mlp_bias are not supported yet (no Llama checkpoint of the registry uses them)"));
    }
    let (h, i) = (cfg.hidden_size, cfg.intermediate_size);
    let inner = build_decoder("LlamaForCausalLM", &cfg.core, dev, dtype, src, |src, l| {
        let p = |s: &str| format!("model.layers.{l}.mlp.{s}");
        let gate_up = Linear::new(src.stacked(&[(p("gate_proj.weight"), i), (p("up_proj.weight"), i)], h)?, None)?;
        LlamaMLP::new(gate_up, Linear::new(src.tensor(&p("down_proj.weight"), &[h, i])?, None)?)
    })?;
    Ok(LlamaForCausalLM { config: cfg.clone(), dtype, inner })
}

impl LlamaForCausalLM {
    /// Load an HF folder (config.json + model.safetensors or a sharded index). `dtype`
    /// `None` keeps the checkpoint's dtype (that of `model.embed_tokens.weight`).
    pub fn from_pretrained(dev: &Device, dir: &Path, dtype: Option<DType>) -> Result<LlamaForCausalLM> {
        let cfg = LlamaConfig::from_file(dir)?;
        let ckpt = Checkpoint::open(dir)?;
        let dtype = checkpoint_dtype(&ckpt, dtype, "LlamaForCausalLM")?;
        build(&cfg, dev, dtype, &mut FromCheckpoint { ckpt: &ckpt, dev, dtype })
    }

    /// Random weights at `cfg`'s shapes (see [`RandomWeights`] for the distribution),
    /// reproducible from `seed`. For benchmarks at real sizes without downloading a checkpoint.
    pub fn random(dev: &Device, cfg: &LlamaConfig, dtype: DType, seed: u64) -> Result<LlamaForCausalLM> {
        build(cfg, dev, dtype, &mut RandomWeights { dev, dtype, seed })
    }
}
