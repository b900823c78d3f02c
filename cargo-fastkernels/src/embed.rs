//! `cargo fastkernels embed`: run an HF encoder folder (ColBERTv2 / BERT, BGE-M3 /
//! XLM-RoBERTa, SigLIP-2 vision, DINOv3; picked by `model_type`) on one batch given as
//! token ids, text (with the folder's tokenizer.json) or a pixel_values safetensors file,
//! and write `last_hidden_state`, `pooler_output` (when the model has one) and the
//! architecture's embedding (`token_embeddings`, `dense_embedding`) as f32 safetensors.
//! Inputs are checked (and the folder resolved) before a GPU is looked for.

use crate::encoders::{resolve, Loaded};
use crate::models::{gpu, parse_dtype};
use anyhow::{anyhow, bail, Context as _, Result};
use clap::Args;
use fk_baselines::{Context, OpTable};
use fk_multimodal::ImageBatch;
use fk_recsys::TokenBatch;
use fk_runtime::safetensors::{write_safetensors, Checkpoint};
use fk_runtime::{DType, Tensor};
use fk_siglip2::patches::PatchBatch;
use std::path::{Path, PathBuf};

#[derive(Args)]
pub struct EmbedArgs {
    /// HF model folder: config.json + safetensors (+ tokenizer.json for --text)
    #[arg(long, value_name = "DIR")]
    model: PathBuf,
    /// One sequence's token ids, comma separated; repeat for a batch (right-padded)
    #[arg(long = "input-ids", value_name = "IDS")]
    input_ids: Vec<String>,
    /// One 0/1 mask per --input-ids, same lengths (default: all 1)
    #[arg(long = "attention-mask", value_name = "MASK")]
    attention_mask: Vec<String>,
    /// One token-type list per --input-ids (default: zeros)
    #[arg(long = "token-type-ids", value_name = "IDS")]
    token_type_ids: Vec<String>,
    /// Texts to tokenize with DIR/tokenizer.json (special tokens added); repeat for a batch
    #[arg(long, value_name = "TEXT")]
    text: Vec<String>,
    /// safetensors with `pixel_values`: [B, C, H, W]; or SigLIP-2 NaFlex [B, P, C·p·p] with
    /// `spatial_shapes` [B, 2]
    #[arg(long, value_name = "FILE.safetensors")]
    pixel_values: Option<PathBuf>,
    /// f32, f16 or bf16 (default: the checkpoint's)
    #[arg(long)]
    dtype: Option<String>,
    /// Where to write the outputs (f32)
    #[arg(long, value_name = "FILE.safetensors")]
    out: PathBuf,
}

/// The batch to run.
enum Input {
    Text(TokenBatch),
    Images(ImageBatch),
    Patches(PatchBatch),
}

fn parse_list(what: &str, s: &str) -> Result<Vec<u32>> {
    s.split(',')
        .map(|t| {
            t.trim()
                .parse::<u32>()
                .map_err(|_| anyhow!("{what} `{s}`: `{t}` is not a non-negative integer"))
        })
        .collect()
}

/// `--input-ids` (+ mask, token types) as a right-padded batch; padding ids are `pad_id`.
fn ids_batch(a: &EmbedArgs, pad_id: u32) -> Result<TokenBatch> {
    let seqs: Vec<Vec<u32>> = a
        .input_ids
        .iter()
        .map(|s| parse_list("--input-ids", s))
        .collect::<Result<_>>()?;
    for (flag, n) in [
        ("--attention-mask", a.attention_mask.len()),
        ("--token-type-ids", a.token_type_ids.len()),
    ] {
        if n != 0 && n != seqs.len() {
            bail!(
                "{flag} given {n} times for {} --input-ids: give one per sequence",
                seqs.len()
            );
        }
    }
    let seq = seqs.iter().map(Vec::len).max().unwrap_or(0);
    let (batch, mut ids, mut mask, mut types) = (seqs.len(), Vec::new(), Vec::new(), Vec::new());
    for (b, s) in seqs.iter().enumerate() {
        let m: Vec<bool> = match a.attention_mask.get(b) {
            Some(text) => {
                let m = parse_list("--attention-mask", text)?;
                if m.len() != s.len() || m.iter().any(|&x| x > 1) {
                    bail!(
                        "--attention-mask {}: must be {} zeros/ones, like sequence {b}'s ids",
                        text,
                        s.len()
                    );
                }
                m.iter().map(|&x| x == 1).collect()
            }
            None => vec![true; s.len()],
        };
        let t = match a.token_type_ids.get(b) {
            Some(text) => {
                let t = parse_list("--token-type-ids", text)?;
                if t.len() != s.len() {
                    bail!(
                        "--token-type-ids {text}: {} values for sequence {b}'s {} ids",
                        t.len(),
                        s.len()
                    );
                }
                t
            }
            None => vec![0; s.len()],
        };
        ids.extend(
            s.iter()
                .copied()
                .chain(std::iter::repeat_n(pad_id, seq - s.len())),
        );
        mask.extend(
            m.into_iter()
                .chain(std::iter::repeat_n(false, seq - s.len())),
        );
        types.extend(t.into_iter().chain(std::iter::repeat_n(0, seq - s.len())));
    }
    let types = (!a.token_type_ids.is_empty()).then_some(types);
    Ok(TokenBatch::new(batch, seq, ids, mask, types)?)
}

/// `--text` through DIR/tokenizer.json.
fn text_batch(dir: &Path, texts: &[String], pad_id: u32) -> Result<TokenBatch> {
    let file = dir.join("tokenizer.json");
    if !file.is_file() {
        bail!("--text needs {} (or give --input-ids)", file.display());
    }
    let tok = tokenizers::Tokenizer::from_file(&file)
        .map_err(|e| anyhow!("{e}"))
        .with_context(|| format!("load {}", file.display()))?;
    let mut seqs = Vec::new();
    let mut types = Vec::new();
    for t in texts {
        let e = tok
            .encode(t.as_str(), true)
            .map_err(|e| anyhow!("tokenize {t:?}: {e}"))?;
        seqs.push(e.get_ids().to_vec());
        types.push(e.get_type_ids().to_vec());
    }
    let mut b = TokenBatch::from_sequences(&seqs, pad_id)?;
    let mut tt = vec![0u32; b.batch * b.seq];
    for (r, t) in types.iter().enumerate() {
        tt[r * b.seq..r * b.seq + t.len()].copy_from_slice(t);
    }
    b.token_type_ids = Some(tt);
    Ok(b)
}

/// `--pixel-values FILE`: NCHW images, or SigLIP-2 NaFlex patches with their shapes.
fn pixel_input(file: &Path) -> Result<Input> {
    let ck = Checkpoint::open(file)
        .with_context(|| format!("open --pixel-values {}", file.display()))?;
    let info = ck
        .info("pixel_values")
        .with_context(|| format!("{}: no `pixel_values` tensor", file.display()))?;
    let px = ck.host_f32("pixel_values")?;
    if ck.contains("spatial_shapes") {
        let shapes = ck.host_f32("spatial_shapes")?;
        let [b, p, d] = info.shape[..] else {
            bail!(
                "NaFlex pixel_values must be [batch, patches, patch_dim], got {:?}",
                info.shape
            )
        };
        if shapes.len() != 2 * b {
            bail!(
                "spatial_shapes has {} values for {b} images (want [{b}, 2])",
                shapes.len()
            );
        }
        let shapes: Vec<(usize, usize)> = shapes
            .chunks_exact(2)
            .map(|s| (s[0] as usize, s[1] as usize))
            .collect();
        let mask = shapes
            .iter()
            .flat_map(|&(h, w)| (0..p).map(move |t| t < h * w))
            .collect();
        return Ok(Input::Patches(PatchBatch::new(p, d, px, mask, shapes)?));
    }
    let [b, c, h, w] = info.shape[..] else {
        bail!(
            "pixel_values must be [batch, channels, height, width], got {:?}",
            info.shape
        )
    };
    Ok(Input::Images(ImageBatch::new(b, c, h, w, px)?))
}

/// Image sizes and channels against the config (named errors before a GPU is looked for).
fn check_pixels(dir: &Path, arch: &str, input: &Input) -> Result<()> {
    let (channels, patch, patch_dim) = match arch {
        "dinov3" => {
            let c = fk_dinov3::config::DINOv3ViTConfig::from_file(dir)?;
            (c.num_channels, c.patch_size, None)
        }
        _ => {
            let c = fk_siglip2::config::Siglip2VisionConfig::from_file(dir)?;
            (c.num_channels, c.patch_size, Some(c.patch_dim()))
        }
    };
    match input {
        Input::Images(i) => {
            // The check reads only the geometry, so no pixels are copied for it.
            let shape = fk_runtime::embed::EmbedInput::Image { channels: i.channels, height: i.height, width: i.width, pixels: Vec::new() };
            fk_multimodal::embed::check_image(&shape, channels, patch)?;
        }
        Input::Patches(p) => match patch_dim {
            Some(d) if d == p.patch_dim => {}
            Some(d) => bail!("NaFlex patches have {} values, the model takes num_channels·patch_size² = {d}", p.patch_dim),
            None => bail!("DINOv3 takes pixel_values [B, C, H, W], not NaFlex patches"),
        },
        Input::Text(_) => {}
    }
    Ok(())
}

fn gather_input(a: &EmbedArgs, dir: &Path, arch: &str) -> Result<Input> {
    let given = [
        !a.input_ids.is_empty(),
        !a.text.is_empty(),
        a.pixel_values.is_some(),
    ]
    .iter()
    .filter(|&&g| g)
    .count();
    if given != 1 {
        bail!("give exactly one input: --input-ids (repeatable), --text (repeatable) or --pixel-values FILE");
    }
    if (!a.attention_mask.is_empty() || !a.token_type_ids.is_empty()) && a.input_ids.is_empty() {
        bail!("--attention-mask and --token-type-ids go with --input-ids");
    }
    let text_model = matches!(arch, "bert" | "colbertv2" | "bge_m3");
    if text_model == a.pixel_values.is_some() {
        bail!(
            "{} is a {} model",
            dir.display(),
            if text_model {
                "text: give --input-ids or --text"
            } else {
                "vision: give --pixel-values"
            }
        );
    }
    if let Some(f) = &a.pixel_values {
        let input = pixel_input(f)?;
        check_pixels(dir, arch, &input)?;
        return Ok(input);
    }
    let cfg = fk_recsys::BertConfig::from_file(dir)?;
    let pad = cfg.pad_token_id as u32;
    let b = if a.text.is_empty() {
        ids_batch(a, pad)?
    } else {
        text_batch(dir, &a.text, pad)?
    };
    // Named errors (too long, ids out of range) before a GPU is looked for.
    fk_recsys::bert::check_batch(&cfg, &b)?;
    Ok(Input::Text(b))
}

pub fn run(a: EmbedArgs) -> Result<i32> {
    let dtype = a.dtype.as_deref().map(parse_dtype).transpose()?;
    let arch = resolve(&a.model, None, false)?;
    let input = gather_input(&a, &a.model, arch)?;
    if let Some(d) = a.out.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(d).with_context(|| format!("create {}", d.display()))?;
    }
    let dev = gpu("embed")?;
    let model = Loaded::load(&dev, arch, &a.model, dtype)?;
    let ctx = Context::new(&dev, OpTable::baseline())?;
    let outputs = forward(&model, &ctx, &input)?;
    let mut tensors: Vec<(String, Vec<usize>, Vec<u8>)> = Vec::new();
    for (name, t) in &outputs {
        let bytes: Vec<u8> = t.to_f32()?.iter().flat_map(|v| v.to_le_bytes()).collect();
        tensors.push((name.to_string(), t.shape().to_vec(), bytes));
    }
    if let Input::Text(b) = &input {
        let ids: Vec<u8> = b
            .input_ids
            .iter()
            .flat_map(|&v| (v as i64).to_le_bytes())
            .collect();
        let mask: Vec<u8> = b
            .attention_mask
            .iter()
            .flat_map(|&v| (v as i64).to_le_bytes())
            .collect();
        tensors.push(("input_ids".into(), vec![b.batch, b.seq], ids));
        tensors.push(("attention_mask".into(), vec![b.batch, b.seq], mask));
    }
    let views: Vec<(&str, DType, &[usize], &[u8])> = tensors
        .iter()
        .map(|(n, s, b)| {
            (
                n.as_str(),
                if n == "input_ids" || n == "attention_mask" {
                    DType::I64
                } else {
                    DType::F32
                },
                s.as_slice(),
                b.as_slice(),
            )
        })
        .collect();
    write_safetensors(&a.out, &views)?;
    let names: Vec<String> = tensors
        .iter()
        .map(|(n, s, _)| format!("{n} {s:?}"))
        .collect();
    eprintln!(
        "{arch} ({}) → {}: {}",
        model.dtype(),
        a.out.display(),
        names.join(", ")
    );
    Ok(0)
}

/// One forward of `input`; `(HF output name, tensor)` pairs.
fn forward(model: &Loaded, ctx: &Context, input: &Input) -> Result<Vec<(&'static str, Tensor)>> {
    let mut out = Vec::new();
    match (model, input) {
        (Loaded::Bert(m), Input::Text(b)) => {
            let o = m.forward(ctx, b, false)?;
            out.push(("last_hidden_state", o.last_hidden_state));
            out.extend(o.pooler_output.map(|p| ("pooler_output", p)));
        }
        (Loaded::ColBERT(m), Input::Text(b)) => {
            let o = m.forward(ctx, b, false)?;
            out.push(("last_hidden_state", o.encoder.last_hidden_state));
            out.extend(o.encoder.pooler_output.map(|p| ("pooler_output", p)));
            out.push(("token_embeddings", o.token_embeddings));
        }
        (Loaded::BgeM3(m), Input::Text(b)) => {
            let o = m.forward(ctx, b, false)?;
            out.push(("last_hidden_state", o.encoder.last_hidden_state));
            out.extend(o.encoder.pooler_output.map(|p| ("pooler_output", p)));
            out.push(("dense_embedding", o.dense_embedding));
        }
        (Loaded::Siglip2(m), Input::Patches(p)) => siglip2(m, ctx, p, &mut out)?,
        (Loaded::Siglip2(m), Input::Images(i)) => {
            let n = i.channels * i.height * i.width;
            let images: Vec<(usize, usize, Vec<f32>)> = i
                .pixels
                .chunks_exact(n)
                .map(|p| (i.height, i.width, p.to_vec()))
                .collect();
            let ps = m.cfg.patch_size;
            let p = PatchBatch::from_images(
                &images,
                i.channels,
                ps,
                (i.height / ps.max(1)) * (i.width / ps.max(1)),
            )?;
            siglip2(m, ctx, &p, &mut out)?
        }
        (Loaded::DINOv3(m), Input::Images(i)) => {
            let o = m.forward(ctx, i, false)?;
            let h = m.cfg.hidden_size;
            out.push((
                "last_hidden_state",
                o.last_hidden_state.reshape(&[i.batch, o.seq, h])?,
            ));
            out.push(("pooler_output", o.pooler_output));
        }
        (Loaded::DINOv3(_), Input::Patches(_)) => {
            bail!("DINOv3 takes pixel_values [B, C, H, W], not NaFlex patches")
        }
        _ => bail!(
            "the input does not fit the model (text for a vision model or images for a text model)"
        ),
    }
    Ok(out)
}

fn siglip2(
    m: &fk_siglip2::gpu::Siglip2VisionTransformer,
    ctx: &Context,
    p: &PatchBatch,
    out: &mut Vec<(&'static str, Tensor)>,
) -> Result<()> {
    let o = m.forward(ctx, p, false)?;
    out.push(("last_hidden_state", o.last_hidden_state));
    out.extend(o.pooler_output.map(|t| ("pooler_output", t)));
    Ok(())
}
