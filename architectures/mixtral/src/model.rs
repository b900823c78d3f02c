//! HF `MixtralModel` / `MixtralForCausalLM`: the family's decoder
//! ([`fk_llm::decoder::DecoderForCausalLM`]) with [`MixtralSparseMoeBlock`] as each layer's
//! feed-forward (HF `MixtralDecoderLayer`'s `block_sparse_moe`), loaded from an HF folder with
//! the hub's keys or drawn at random from a config.

use crate::config::MixtralConfig;
use crate::moe_block::{MixtralSparseMoeBlock, MoeScratch};
use fk_llm::decoder::{build_decoder, checkpoint_dtype, DecoderForCausalLM, DecoderLayer, DecoderModel, DecoderScratch, FromCheckpoint, RandomWeights, WeightSource};
use fk_runtime::linear::Linear;
use fk_runtime::safetensors::Checkpoint;
use fk_runtime::{DType, Device, Error, Result, Tensor};
use std::path::Path;

/// HF `MixtralDecoderLayer`.
pub type MixtralDecoderLayer = DecoderLayer<MixtralSparseMoeBlock>;
/// HF `MixtralModel`.
pub type MixtralModel = DecoderModel<MixtralSparseMoeBlock>;
pub type MixtralScratch = DecoderScratch<MoeScratch>;

pub struct MixtralForCausalLM {
    pub config: MixtralConfig,
    pub dtype: DType,
    /// The decoder (`model`, `lm_head`): reachable directly through `Deref`.
    pub inner: DecoderForCausalLM<MixtralSparseMoeBlock>,
}

impl std::ops::Deref for MixtralForCausalLM {
    type Target = DecoderForCausalLM<MixtralSparseMoeBlock>;
    fn deref(&self) -> &Self::Target {
        &self.inner
    }
}

/// Stack per-expert matrices (`block_sparse_moe.experts.<j>.<name>.weight`, each `[rows,
/// cols]`, names in order per expert) into `[E, names·rows, cols]`, the grouped GEMM's layout.
fn stacked(src: &mut dyn WeightSource, layer: usize, experts: usize, names: &[&str], rows: usize, cols: usize) -> Result<Tensor> {
    let parts: Vec<(String, usize)> =
        (0..experts).flat_map(|j| names.iter().map(move |n| (format!("model.layers.{layer}.block_sparse_moe.experts.{j}.{n}.weight"), rows))).collect();
    src.stacked(&parts, cols)?.reshape(&[experts, names.len() * rows, cols])
}

fn build(cfg: &MixtralConfig, dev: &Device, dtype: DType, src: &mut dyn WeightSource) -> Result<MixtralForCausalLM> {
    if cfg.sliding_window.is_some_and(|w| w < cfg.max_position_embeddings) {
        return Err(Error::config(format!(
            "sliding_window {:?} is not supported yet (Mixtral-8x7B-v0.1 sets none); attention would differ beyond the window",
            cfg.sliding_window
        )));
    }
    let inner = build_decoder("MixtralForCausalLM", &cfg.core, dev, dtype, src, |src, l| sparse_moe_block(cfg, src, l))?;
    Ok(MixtralForCausalLM { config: cfg.clone(), dtype, inner })
}

/// Layer `layer`'s `block_sparse_moe` (router + stacked experts) from `src`.
pub fn sparse_moe_block(cfg: &MixtralConfig, src: &mut dyn WeightSource, layer: usize) -> Result<MixtralSparseMoeBlock> {
    let (h, i, e) = (cfg.hidden_size, cfg.intermediate_size, cfg.num_local_experts);
    let gate = Linear::new(src.tensor(&format!("model.layers.{layer}.block_sparse_moe.gate.weight"), &[e, h])?, None)?;
    let w13 = stacked(src, layer, e, &["w1", "w3"], i, h)?;
    let w2 = stacked(src, layer, e, &["w2"], h, i)?;
    MixtralSparseMoeBlock::new(gate, w13, w2, cfg.num_experts_per_tok)
}

impl MixtralForCausalLM {
    /// Load an HF folder (hub key layout). `dtype` `None` keeps the checkpoint's; the experts
    /// run on tensor cores, so it must be bf16 or f16.
    pub fn from_pretrained(dev: &Device, dir: &Path, dtype: Option<DType>) -> Result<MixtralForCausalLM> {
        let cfg = MixtralConfig::from_file(dir)?;
        let ckpt = Checkpoint::open(dir)?;
        let dtype = checkpoint_dtype(&ckpt, dtype, "MixtralForCausalLM")?;
        build(&cfg, dev, dtype, &mut FromCheckpoint { ckpt: &ckpt, dev, dtype })
    }

    /// Random weights at `cfg`'s shapes, reproducible from `seed`.
    pub fn random(dev: &Device, cfg: &MixtralConfig, dtype: DType, seed: u64) -> Result<MixtralForCausalLM> {
        build(cfg, dev, dtype, &mut RandomWeights { dev, dtype, seed })
    }
}

fk_llm::causal_lm_via_decoder!(MixtralForCausalLM, MixtralSparseMoeBlock);
