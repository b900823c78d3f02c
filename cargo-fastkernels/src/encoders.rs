//! The encoder architectures the CLI runs (`eval`, `embed`): which one an HF folder is (by
//! `model_type`, and for `bert` whether it carries ColBERT's `linear.weight`), loading it,
//! and handing it to the embedding engine as an `Encoder`.

use crate::models::model_type;
use anyhow::{bail, Context as _, Result};
use fk_baselines::Context;
use fk_bge_m3::{embed::BgeM3Encoder, gpu::BgeM3};
use fk_colbertv2::{embed::ColBERTEncoder, gpu::ColBERT};
use fk_dinov3::{embed::DINOv3Encoder, gpu::DINOv3ViTModel};
use fk_recsys::embed::BertEncoder;
use fk_recsys::gpu::BertModel;
use fk_recsys::random::bert_weight_specs;
use fk_runtime::embed::workloads::ModelShape;
use fk_runtime::embed::Encoder;
use fk_runtime::random_weights::random_checkpoint;
use fk_runtime::{DType, Device};
use fk_siglip2::{embed::Siglip2Encoder, gpu::Siglip2VisionTransformer};
use std::path::Path;

/// `--arch` names of the encoders (`bert` = a plain BertModel such as all-MiniLM).
pub const ENCODER_ARCHES: &[&str] = &["colbertv2", "bge_m3", "siglip2", "dinov3", "bert"];

/// HF `model_type`s the encoders load.
const ENCODER_MODEL_TYPES: &[&str] = &[
    "bert",
    "xlm-roberta",
    "siglip2",
    "siglip2_vision_model",
    "dinov3_vit",
];

fn normalize(a: &str) -> String {
    a.trim_start_matches("fk-").replace('-', "_")
}

/// Whether `--arch`/`--model` name an encoder (then `eval` runs the encoder workloads).
pub fn is_encoder(dir: Option<&Path>, arch: Option<&str>) -> Result<bool> {
    Ok(match (dir, arch) {
        (Some(d), _) => ENCODER_MODEL_TYPES.contains(&model_type(d)?.as_str()),
        (None, Some(a)) => ENCODER_ARCHES.contains(&normalize(a).as_str()),
        (None, None) => false,
    })
}

/// The encoder architecture `--arch` names (no folder: its shipped config, random weights).
pub fn arch_by_name(arch: &str) -> Result<&'static str> {
    let a = normalize(arch);
    match ENCODER_ARCHES.iter().find(|x| **x == a) {
        Some(x) => Ok(x),
        None => bail!("`{arch}` is not an encoder architecture ({})", ENCODER_ARCHES.join(", ")),
    }
}

/// The encoder architecture of folder `dir` (checked against `--arch` when given). A `bert`
/// folder is ColBERT when its weights hold `linear.weight`; with `random_weights` there are no
/// weights to look at, so it is plain BERT unless `--arch colbertv2` says otherwise.
pub fn resolve(dir: &Path, arch: Option<&str>, random_weights: bool) -> Result<&'static str> {
    let mt = model_type(dir)?;
    let found = match mt.as_str() {
        "bert" if random_weights && arch.is_some_and(|a| normalize(a) == "colbertv2") => "colbertv2",
        "bert" if random_weights => "bert",
        "bert" if has_tensor(dir, "linear.weight")? => "colbertv2",
        "bert" => "bert",
        "xlm-roberta" => "bge_m3",
        "siglip2" | "siglip2_vision_model" => "siglip2",
        "dinov3_vit" => "dinov3",
        other => bail!(
            "model_type `{other}` is not an encoder this build runs (supported: {})",
            ENCODER_MODEL_TYPES.join(", ")
        ),
    };
    if let Some(a) = arch {
        if normalize(a) != found {
            bail!(
                "--arch {a} but {} is a `{mt}` model ({found})",
                dir.display()
            );
        }
    }
    Ok(found)
}

/// Whether the folder's safetensors hold `name` (ColBERT's projection tells it from BERT).
fn has_tensor(dir: &Path, name: &str) -> Result<bool> {
    let ckpt = fk_runtime::Checkpoint::open(dir)
        .with_context(|| format!("open the safetensors of {}", dir.display()))?;
    Ok(ckpt.contains(name))
}

/// A loaded encoder. One per process, so the variants' size difference costs nothing.
#[allow(clippy::large_enum_variant)]
pub enum Loaded {
    Bert(BertModel),
    ColBERT(ColBERT),
    BgeM3(BgeM3),
    Siglip2(Siglip2VisionTransformer),
    DINOv3(DINOv3ViTModel),
}

impl Loaded {
    pub fn load(dev: &Device, arch: &str, dir: &Path, dtype: Option<DType>) -> Result<Loaded> {
        let what = || format!("load {} as {arch}", dir.display());
        Ok(match arch {
            "bert" => Loaded::Bert(BertModel::from_pretrained(dev, dir, dtype).with_context(what)?),
            "colbertv2" => {
                Loaded::ColBERT(ColBERT::from_pretrained(dev, dir, dtype).with_context(what)?)
            }
            "bge_m3" => Loaded::BgeM3(BgeM3::from_pretrained(dev, dir, dtype).with_context(what)?),
            "siglip2" => Loaded::Siglip2(
                Siglip2VisionTransformer::from_pretrained(dev, dir, dtype).with_context(what)?,
            ),
            "dinov3" => {
                Loaded::DINOv3(DINOv3ViTModel::from_pretrained(dev, dir, dtype).with_context(what)?)
            }
            other => bail!(
                "`{other}` is not an encoder architecture ({})",
                ENCODER_ARCHES.join(", ")
            ),
        })
    }

    /// Random weights (`fk_runtime::random_weights`, seeded) at `dir`'s config.json, or at the
    /// architecture's shipped real config when `dir` is `None`; loaded through the same
    /// loaders as a checkpoint. ColBERT's projection is 128 wide (colbertv2.0's `dim`).
    pub fn random(dev: &Device, arch: &str, dir: Option<&Path>, dtype: DType, seed: u64) -> Result<Loaded> {
        let bert_cfg = |shipped: fn() -> fk_recsys::BertConfig| -> Result<fk_recsys::BertConfig> {
            Ok(match dir {
                Some(d) => fk_recsys::BertConfig::from_file(d)?,
                None => shipped(),
            })
        };
        let ckpt = |specs: &[(String, Vec<usize>)]| random_checkpoint(arch, specs, dtype, seed);
        Ok(match arch {
            "bert" | "colbertv2" => {
                let cfg = bert_cfg(fk_colbertv2::colbertv2_config)?;
                if arch == "bert" {
                    Loaded::Bert(BertModel::load(dev, &ckpt(&bert_weight_specs(&cfg, true))?, &cfg, Some(dtype))?)
                } else {
                    let mut specs: Vec<(String, Vec<usize>)> = bert_weight_specs(&cfg, false).into_iter().map(|(n, s)| (format!("bert.{n}"), s)).collect();
                    specs.push(("linear.weight".into(), vec![128, cfg.hidden_size]));
                    Loaded::ColBERT(ColBERT::load(dev, &ckpt(&specs)?, &cfg, Some(dtype))?)
                }
            }
            "bge_m3" => {
                let cfg = bert_cfg(fk_bge_m3::bge_m3_config)?;
                Loaded::BgeM3(BgeM3::load(dev, &ckpt(&bert_weight_specs(&cfg, false))?, &cfg, Some(dtype))?)
            }
            "siglip2" => {
                let cfg = match dir {
                    Some(d) => fk_siglip2::config::Siglip2VisionConfig::from_file(d)?,
                    None => fk_siglip2::config::siglip2_so400m_naflex(),
                };
                Loaded::Siglip2(Siglip2VisionTransformer::load(dev, &ckpt(&fk_siglip2::random::weight_specs(&cfg))?, &cfg, Some(dtype))?)
            }
            "dinov3" => {
                let cfg = match dir {
                    Some(d) => fk_dinov3::config::DINOv3ViTConfig::from_file(d)?,
                    None => fk_dinov3::config::dinov3_vit7b16(),
                };
                Loaded::DINOv3(DINOv3ViTModel::load(dev, &ckpt(&fk_dinov3::random::weight_specs(&cfg))?, &cfg, Some(dtype))?)
            }
            other => bail!("`{other}` is not an encoder architecture ({})", ENCODER_ARCHES.join(", ")),
        })
    }

    pub fn dtype(&self) -> DType {
        match self {
            Loaded::Bert(m) => m.dtype,
            Loaded::ColBERT(m) => m.bert.dtype,
            Loaded::BgeM3(m) => m.model.dtype,
            Loaded::Siglip2(m) => m.dtype,
            Loaded::DINOv3(m) => m.dtype,
        }
    }

    /// What the workload generator needs: text limits, or the native image size (SigLIP-2:
    /// the position grid at full size, `sqrt(num_patches)·patch`; DINOv3: `image_size`).
    pub fn shape(&self) -> ModelShape {
        let text = |c: &fk_recsys::BertConfig| ModelShape::Text {
            max_len: c.max_sequence_length(),
            vocab: c.vocab_size,
        };
        match self {
            Loaded::Bert(m) => text(&m.cfg),
            Loaded::ColBERT(m) => text(&m.bert.cfg),
            Loaded::BgeM3(m) => text(&m.model.cfg),
            Loaded::Siglip2(m) => {
                let side = m.cfg.position_embedding_size * m.cfg.patch_size;
                ModelShape::Image {
                    channels: m.cfg.num_channels,
                    height: side,
                    width: side,
                }
            }
            Loaded::DINOv3(m) => ModelShape::Image {
                channels: m.cfg.num_channels,
                height: m.cfg.image_size,
                width: m.cfg.image_size,
            },
        }
    }

    /// Run `f` with this model as the engine's encoder on `ctx`.
    pub fn with_encoder<R>(&self, ctx: &Context, f: impl FnOnce(&dyn Encoder) -> R) -> R {
        match self {
            Loaded::Bert(model) => f(&BertEncoder { model, ctx }),
            Loaded::ColBERT(model) => f(&ColBERTEncoder::new(model, ctx)),
            Loaded::BgeM3(model) => f(&BgeM3Encoder::new(model, ctx)),
            Loaded::Siglip2(model) => f(&Siglip2Encoder::new(model, ctx)),
            Loaded::DINOv3(model) => f(&DINOv3Encoder::new(model, ctx)),
        }
    }
}

#[cfg(test)]
mod tests {
    use fk_recsys::random::bert_weight_specs;
    use fk_runtime::random_weights::random_checkpoint;
    use fk_runtime::DType;
    use std::path::PathBuf;

    fn golden(arch: &str, case: &str) -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/goldens").join(arch).join(case)
    }

    /// The random checkpoints hold exactly the keys HF checkpoints hold: the CPU references,
    /// which load the transformers goldens by HF's names, load them too (at the goldens'
    /// small configs; the GPU loaders ask for the same names).
    #[test]
    fn random_weights_carry_the_hf_keys() {
        let d = golden("colbertv2", "hd64-padded-f32");
        let cfg = fk_recsys::BertConfig::from_file(&d).unwrap();
        let mut specs: Vec<(String, Vec<usize>)> = bert_weight_specs(&cfg, false).into_iter().map(|(n, s)| (format!("bert.{n}"), s)).collect();
        specs.push(("linear.weight".into(), vec![128, cfg.hidden_size]));
        let ck = random_checkpoint("colbertv2", &specs, DType::F32, 0).unwrap();
        let m = fk_colbertv2::reference::ColBERT::load(&ck, &cfg).unwrap();
        let out = m.forward(&fk_recsys::TokenBatch::from_sequences(&[vec![5, 6, 7]], 0).unwrap()).unwrap();
        assert!(out.token_embeddings.iter().all(|x| x.is_finite()));

        let d = golden("bge_m3", "hd64-padded-f32");
        let cfg = fk_recsys::BertConfig::from_file(&d).unwrap();
        fk_bge_m3::reference::BgeM3::load(&random_checkpoint("bge_m3", &bert_weight_specs(&cfg, false), DType::F32, 0).unwrap(), &cfg).unwrap();

        let d = golden("siglip2", "hd64-naflex-f32");
        let cfg = fk_siglip2::config::Siglip2VisionConfig::from_file(&d).unwrap();
        fk_siglip2::reference::Siglip2VisionTransformer::load(&random_checkpoint("siglip2", &fk_siglip2::random::weight_specs(&cfg), DType::F32, 0).unwrap(), &cfg).unwrap();

        for case in ["hd64-gated-f32", "hd64-plain-f32"] {
            let d = golden("dinov3", case);
            let cfg = fk_dinov3::config::DINOv3ViTConfig::from_file(&d).unwrap();
            fk_dinov3::reference::DINOv3ViTModel::load(&random_checkpoint("dinov3", &fk_dinov3::random::weight_specs(&cfg), DType::F32, 0).unwrap(), &cfg).unwrap();
        }
    }
}
