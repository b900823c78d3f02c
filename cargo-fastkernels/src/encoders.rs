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
use fk_runtime::embed::workloads::ModelShape;
use fk_runtime::embed::Encoder;
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

/// The encoder architecture of folder `dir` (checked against `--arch` when given).
pub fn resolve(dir: &Path, arch: Option<&str>) -> Result<&'static str> {
    let mt = model_type(dir)?;
    let found = match mt.as_str() {
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

/// A loaded encoder.
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
            Loaded::ColBERT(model) => f(&ColBERTEncoder { model, ctx }),
            Loaded::BgeM3(model) => f(&BgeM3Encoder { model, ctx }),
            Loaded::Siglip2(model) => f(&Siglip2Encoder { model, ctx }),
            Loaded::DINOv3(model) => f(&DINOv3Encoder { model, ctx }),
        }
    }
}
