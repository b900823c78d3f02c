//! Building a GPU [`Mamba2ForCausalLM`] from an HF folder (config.json + safetensors, sharded
//! or not; keys `backbone.embeddings.weight`, `backbone.layers.{i}.norm.weight`,
//! `backbone.layers.{i}.mixer.{in_proj,conv1d,out_proj}.*`, `.mixer.{dt_bias,A_log,D}`,
//! `.mixer.norm.weight`, `backbone.norm_f.weight`, `lm_head.weight` unless tied) or from random
//! weights at a config's real sizes. Matrices and norms go through the family's
//! [`WeightSource`] in the model dtype; the per-head SSM parameters (A = -exp(A_log), D,
//! dt_bias) are kept in f32, as the scan kernels take them (and as HF computes with them:
//! `A_log.float()`, and D and dt_bias promoted against f32 activations).

use crate::mixer::Mamba2Mixer;
use crate::model::{Mamba2Block, Mamba2ForCausalLM, Mamba2Model};
use crate::Mamba2Config;
use fk_llm::decoder::{lm_head_weight, FromCheckpoint, RandomWeights, WeightSource};
use fk_runtime::linear::Linear;
use fk_runtime::safetensors::Checkpoint;
use fk_runtime::{DType, Device, Error, Result, Tensor};
use std::path::Path;

const NAME: &str = "Mamba2ForCausalLM";

/// One layer's f32 SSM parameters, host-side, each `[num_heads]`: A (already -exp(A_log)),
/// D, dt_bias.
struct SsmParams {
    a: Vec<f32>,
    d: Vec<f32>,
    dt_bias: Vec<f32>,
}

fn build(cfg: &Mamba2Config, dev: &Device, dtype: DType, src: &mut dyn WeightSource, ssm: &mut dyn FnMut(usize) -> Result<SsmParams>) -> Result<Mamba2ForCausalLM> {
    if !DType::FLOATS.contains(&dtype) {
        return Err(Error::dtype(NAME, format!("{dtype} weights are not supported (f32, f16, bf16)")));
    }
    let (h, i, v, heads, k, cd) = (cfg.hidden_size, cfg.intermediate_size, cfg.vocab_size, cfg.num_heads, cfg.conv_kernel, cfg.conv_dim());
    let mut layers = Vec::with_capacity(cfg.num_hidden_layers);
    for l in 0..cfg.num_hidden_layers {
        let p = |s: &str| format!("backbone.layers.{l}.{s}");
        let mut lin = |name: &str, inp: usize, out: usize| -> Result<Linear> {
            let w = src.tensor(&p(&format!("mixer.{name}.weight")), &[out, inp])?;
            let b = if cfg.use_bias { Some(src.tensor(&p(&format!("mixer.{name}.bias")), &[out])?) } else { None };
            Linear::new(w, b)
        };
        let in_proj = lin("in_proj", h, cfg.in_proj_dim())?;
        let out_proj = lin("out_proj", i, h)?;
        let conv_weight = src.tensor(&p("mixer.conv1d.weight"), &[cd, 1, k])?.reshape(&[cd, k])?;
        let conv_bias = if cfg.use_conv_bias { Some(src.tensor(&p("mixer.conv1d.bias"), &[cd])?) } else { None };
        let s = ssm(l)?;
        let up = |vals: &[f32]| Tensor::from_f32(dev, vals, &[heads], DType::F32);
        let mixer = Mamba2Mixer {
            in_proj,
            conv_weight,
            conv_bias,
            dt_bias: up(&s.dt_bias)?,
            a: up(&s.a)?,
            d: up(&s.d)?,
            norm: src.norm(&p("mixer.norm.weight"), i)?,
            out_proj,
            head_dim: cfg.head_dim,
            n_groups: cfg.n_groups,
            state_size: cfg.state_size,
            time_step_limit: cfg.time_step_limit,
            eps: cfg.layer_norm_epsilon,
        };
        layers.push(Mamba2Block { norm: src.norm(&p("norm.weight"), h)?, mixer });
    }
    let embeddings = src.tensor("backbone.embeddings.weight", &[v, h])?;
    let lm_head = lm_head_weight(src, cfg.tie_word_embeddings, &embeddings, v, h)?;
    let backbone = Mamba2Model { embeddings, layers, norm_f: src.norm("backbone.norm_f.weight", h)? };
    Ok(Mamba2ForCausalLM { config: cfg.clone(), dtype, backbone, lm_head: Linear::new(lm_head, None)? })
}

impl Mamba2ForCausalLM {
    /// Load an HF folder. `dtype` `None` keeps the checkpoint's (that of the embedding table).
    pub fn from_pretrained(dev: &Device, dir: &Path, dtype: Option<DType>) -> Result<Mamba2ForCausalLM> {
        let cfg = Mamba2Config::from_file(dir)?;
        let ckpt = Checkpoint::open(dir)?;
        let dtype = match dtype {
            Some(d) => d,
            None => ckpt.info("backbone.embeddings.weight")?.dtype,
        };
        let heads = cfg.num_heads;
        let f32_of = |name: String| -> Result<Vec<f32>> {
            let info = ckpt.info(&name)?;
            if info.shape != [heads] {
                return Err(Error::shape(NAME, format!("{name}: checkpoint has {:?}, config implies [{heads}] (num_heads)", info.shape)));
            }
            ckpt.host_f32(&name)
        };
        let mut ssm = |l: usize| -> Result<SsmParams> {
            let p = |s: &str| format!("backbone.layers.{l}.mixer.{s}");
            // HF: A = -torch.exp(A_log.float()), in f32.
            let a = f32_of(p("A_log"))?.iter().map(|&x| -x.exp()).collect();
            Ok(SsmParams { a, d: f32_of(p("D"))?, dt_bias: f32_of(p("dt_bias"))? })
        };
        build(&cfg, dev, dtype, &mut FromCheckpoint { ckpt: &ckpt, dev, dtype }, &mut ssm)
    }

    /// Random weights at `cfg`'s sizes, reproducible from `seed`: matrices N(0, 0.02), norms 1,
    /// and the SSM parameters as HF initialises them (A_log = log(1..=num_heads), D = 1,
    /// dt_bias the inverse softplus of dt log-uniform in [1e-3, 1e-1]) so the recurrence has
    /// realistic decay rates.
    pub fn random(dev: &Device, cfg: &Mamba2Config, dtype: DType, seed: u64) -> Result<Mamba2ForCausalLM> {
        let heads = cfg.num_heads;
        let mut rng = fk_runtime::rng::Rng::new(seed ^ 0x5eed_55a2);
        let mut ssm = |_l: usize| -> Result<SsmParams> {
            let (lo, hi) = (1e-3f32.ln(), 1e-1f32.ln());
            let dt_bias = rng
                .uniform_vec(heads, 0.0, 1.0)
                .into_iter()
                .map(|u| {
                    let dt = (lo + u * (hi - lo)).exp().max(1e-4);
                    dt + (-(-dt).exp_m1()).ln()
                })
                .collect();
            Ok(SsmParams { a: (1..=heads).map(|j| -(j as f32)).collect(), d: vec![1.0; heads], dt_bias })
        };
        build(cfg, dev, dtype, &mut RandomWeights { dev, dtype, seed }, &mut ssm)
    }
}
