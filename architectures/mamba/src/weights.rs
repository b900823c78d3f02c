//! Building a GPU [`MambaForCausalLM`] from an HF folder (config.json + safetensors, sharded
//! or not; keys `backbone.embeddings.weight`, `backbone.layers.{i}.norm.weight`,
//! `backbone.layers.{i}.mixer.{in_proj,conv1d,x_proj,dt_proj,out_proj}.*`, `A_log`, `D`,
//! `backbone.norm_f.weight`, `lm_head.weight` unless tied) or from random weights at a
//! config's real sizes. Matrices go through the family's [`WeightSource`] in the model dtype;
//! the SSM parameters (A = -exp(A_log), D, dt_proj.bias) are kept in f32, as the scan kernels
//! take them (and as HF computes with them: `A_log.float()`, `D.float()`, `bias.float()`).

use crate::mixer::MambaMixer;
use crate::model::{MambaBlock, MambaForCausalLM, MambaModel};
use crate::MambaConfig;
use fk_llm::decoder::{lm_head_weight, FromCheckpoint, RandomWeights, WeightSource};
use fk_runtime::linear::Linear;
use fk_runtime::safetensors::Checkpoint;
use fk_runtime::{DType, Device, Error, Result, Tensor};
use std::path::Path;

const NAME: &str = "MambaForCausalLM";

/// The f32 SSM parameters of one layer, host-side: A `[I, N]` (already -exp(A_log)), D `[I]`,
/// dt bias `[I]`.
type SsmParams = (Vec<f32>, Vec<f32>, Vec<f32>);

fn build(
    cfg: &MambaConfig,
    dev: &Device,
    dtype: DType,
    src: &mut dyn WeightSource,
    ssm: &mut dyn FnMut(usize) -> Result<SsmParams>,
) -> Result<MambaForCausalLM> {
    if !DType::FLOATS.contains(&dtype) {
        return Err(Error::dtype(
            NAME,
            format!("{dtype} weights are not supported (f32, f16, bf16)"),
        ));
    }
    let (h, i, v, n, k, r) = (
        cfg.hidden_size,
        cfg.intermediate_size,
        cfg.vocab_size,
        cfg.state_size,
        cfg.conv_kernel,
        cfg.time_step_rank,
    );
    let mut layers = Vec::with_capacity(cfg.num_hidden_layers);
    for l in 0..cfg.num_hidden_layers {
        let p = |s: &str| format!("backbone.layers.{l}.{s}");
        let mut lin = |name: &str, inp: usize, out: usize, bias: bool| -> Result<Linear> {
            let w = src.tensor(&p(&format!("mixer.{name}.weight")), &[out, inp])?;
            let b = if bias {
                Some(src.tensor(&p(&format!("mixer.{name}.bias")), &[out])?)
            } else {
                None
            };
            Linear::new(w, b)
        };
        let in_proj = lin("in_proj", h, 2 * i, cfg.use_bias)?;
        let x_proj = lin("x_proj", i, cfg.x_proj_dim(), false)?;
        // The one-kernel decode step's layout (16-bit models only: it runs nothing else).
        let x_proj_t = if matches!(x_proj.weight.dtype(), DType::BF16 | DType::F16) { Some(fk_baselines::ops::x_proj_transposed(&x_proj.weight)?) } else { None };
        let dt_proj = lin("dt_proj", r, i, false)?;
        let out_proj = lin("out_proj", i, h, cfg.use_bias)?;
        let conv_weight = src
            .tensor(&p("mixer.conv1d.weight"), &[i, 1, k])?
            .reshape(&[i, k])?;
        let conv_bias = if cfg.use_conv_bias {
            Some(src.tensor(&p("mixer.conv1d.bias"), &[i])?)
        } else {
            None
        };
        let (a, d, dt_bias) = ssm(l)?;
        let up = |vals: &[f32], shape: &[usize]| Tensor::from_f32(dev, vals, shape, DType::F32);
        let mixer = MambaMixer {
            in_proj,
            conv_weight,
            conv_bias,
            x_proj,
            x_proj_t,
            dt_proj,
            dt_bias: up(&dt_bias, &[i])?,
            a: up(&a, &[i, n])?,
            d: up(&d, &[i])?,
            out_proj,
            time_step_rank: r,
            state_size: n,
        };
        layers.push(MambaBlock {
            norm: src.norm(&p("norm.weight"), h)?,
            mixer,
        });
    }
    let embeddings = src.tensor("backbone.embeddings.weight", &[v, h])?;
    let lm_head = lm_head_weight(src, cfg.tie_word_embeddings, &embeddings, v, h)?;
    let backbone = MambaModel {
        embeddings,
        layers,
        norm_f: src.norm("backbone.norm_f.weight", h)?,
    };
    Ok(MambaForCausalLM {
        config: cfg.clone(),
        dtype,
        backbone,
        lm_head: Linear::new(lm_head, None)?,
    })
}

impl MambaForCausalLM {
    /// Load an HF folder. `dtype` `None` keeps the checkpoint's (that of the embedding table).
    pub fn from_pretrained(
        dev: &Device,
        dir: &Path,
        dtype: Option<DType>,
    ) -> Result<MambaForCausalLM> {
        let cfg = MambaConfig::from_file(dir)?;
        let ckpt = Checkpoint::open(dir)?;
        let dtype = match dtype {
            Some(d) => d,
            None => ckpt.info("backbone.embeddings.weight")?.dtype,
        };
        let (i, n) = (cfg.intermediate_size, cfg.state_size);
        let f32_of = |name: String, shape: &[usize]| -> Result<Vec<f32>> {
            let info = ckpt.info(&name)?;
            if info.shape != shape {
                return Err(Error::shape(
                    NAME,
                    format!(
                        "{name}: checkpoint has {:?}, config implies {shape:?}",
                        info.shape
                    ),
                ));
            }
            ckpt.host_f32(&name)
        };
        let mut ssm = |l: usize| -> Result<SsmParams> {
            let p = |s: &str| format!("backbone.layers.{l}.mixer.{s}");
            let a = f32_of(p("A_log"), &[i, n])?
                .iter()
                .map(|&x| -x.exp())
                .collect();
            Ok((a, f32_of(p("D"), &[i])?, f32_of(p("dt_proj.bias"), &[i])?))
        };
        build(
            &cfg,
            dev,
            dtype,
            &mut FromCheckpoint {
                ckpt: &ckpt,
                dev,
                dtype,
            },
            &mut ssm,
        )
    }

    /// Random weights at `cfg`'s sizes, reproducible from `seed`: matrices N(0, 0.02), norms 1,
    /// and the SSM parameters as HF initialises them (A_log = log(1..=N) per channel, D = 1,
    /// dt_proj.bias the inverse softplus of dt log-uniform in [1e-3, 1e-1]) so the recurrence
    /// has realistic decay rates.
    pub fn random(
        dev: &Device,
        cfg: &MambaConfig,
        dtype: DType,
        seed: u64,
    ) -> Result<MambaForCausalLM> {
        let (i, n) = (cfg.intermediate_size, cfg.state_size);
        let mut rng = fk_runtime::rng::Rng::new(seed ^ 0x5eed_55a1);
        let mut ssm = |_l: usize| -> Result<SsmParams> {
            let a = (0..i).flat_map(|_| (1..=n).map(|j| -(j as f32))).collect();
            let (lo, hi) = (1e-3f32.ln(), 1e-1f32.ln());
            let dt_bias = rng
                .uniform_vec(i, 0.0, 1.0)
                .into_iter()
                .map(|u| {
                    let dt = (lo + u * (hi - lo)).exp();
                    dt + (-(-dt).exp_m1()).ln()
                })
                .collect();
            Ok((a, vec![1.0; i], dt_bias))
        };
        build(
            cfg,
            dev,
            dtype,
            &mut RandomWeights { dev, dtype, seed },
            &mut ssm,
        )
    }
}
