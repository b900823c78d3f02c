//! HF `Siglip2VisionTransformer` on the GPU: `Siglip2VisionEmbeddings` (the patch linear on
//! the real patches only, plus the position table resized per image with the antialiased
//! bilinear op), the shared pre-norm `fk_multimodal::gpu::VitLayer` on packed rows with
//! varlen attention, `post_layernorm`, and the attention-pool `head`. The batch is unpadded
//! on the host (only real patches are uploaded) and padded once at the end.
//!
//! Two entries: [`Siglip2VisionTransformer::forward`] takes HF's naflex inputs (patchified
//! `pixel_values` with a mask and per-image grids, any mix of sizes);
//! [`Siglip2VisionTransformer::forward_pixels`] takes same-sized NCHW images already on the GPU,
//! as the embedding engine batches them, and patchifies there: im2col rows in conv order
//! `(c, ky, kx)` times the patch weight with its columns permuted to match (done once at load),
//! so no batch is patchified or converted on the host.

use crate::config::Siglip2VisionConfig;
use crate::patches::PatchBatch;
use fk_baselines::ops::{self, PackedAttention, Padding, PatchEmbed, PosEmbedResize};
use fk_baselines::reference::modules::find_prefix;
use fk_baselines::Context;
use fk_multimodal::gpu::{load_linear, load_stacked_linear, LayerNormWeights, MultiheadAttentionPoolingHead, VitLayer, VitLayerBuffers, VitMlp};
use fk_runtime::linear::Linear;
use fk_runtime::safetensors::Checkpoint;
use fk_runtime::{DType, Device, Error, Result, Tensor};
use std::path::Path;

pub struct Siglip2VisionEmbeddings {
    /// HF's linear over `(ky, kx, c)`-ordered patches.
    pub patch_embedding: Linear,
    /// The same weight and bias with the columns in conv order `(c, ky, kx)`: the patch
    /// embedding of NCHW images through im2col ([`Siglip2VisionTransformer::forward_pixels`]).
    pub patch_embedding_conv: PatchEmbed,
    /// `[side·side, H]`.
    pub position_embedding: Tensor,
    pub side: usize,
}

pub struct Siglip2VisionTransformer {
    pub cfg: Siglip2VisionConfig,
    pub dtype: DType,
    pub prefix: String,
    pub embeddings: Siglip2VisionEmbeddings,
    pub layers: Vec<VitLayer>,
    pub post_layernorm: LayerNormWeights,
    pub head: Option<MultiheadAttentionPoolingHead>,
}

pub struct Siglip2Output {
    /// `[batch, max_patches, H]`, zeros on padding rows.
    pub last_hidden_state: Tensor,
    /// `[batch, H]` from the attention-pool head (when `vision_use_head`).
    pub pooler_output: Option<Tensor>,
    /// With `output_hidden_states`: the embeddings' output and every layer's, padded likewise.
    pub hidden_states: Vec<Tensor>,
}

fn layer_norm(ckpt: &Checkpoint, dev: &Device, prefix: &str, h: usize, eps: f32, dtype: DType) -> Result<LayerNormWeights> {
    Ok(LayerNormWeights { weight: ckpt.load_as(dev, &format!("{prefix}.weight"), &[h], dtype)?, bias: Some(ckpt.load_as(dev, &format!("{prefix}.bias"), &[h], dtype)?), eps })
}

fn mlp(ckpt: &Checkpoint, dev: &Device, prefix: &str, c: &Siglip2VisionConfig, dtype: DType) -> Result<VitMlp> {
    let (h, i) = (c.hidden_size, c.intermediate_size);
    Ok(VitMlp::Plain {
        up: load_linear(ckpt, dev, &format!("{prefix}.fc1"), h, i, dtype, true, None)?,
        down: load_linear(ckpt, dev, &format!("{prefix}.fc2"), i, h, dtype, true, None)?,
        act: VitMlp::plain_act(c.hidden_act)?,
    })
}

impl Siglip2VisionTransformer {
    pub fn from_pretrained(dev: &Device, dir: &Path, dtype: Option<DType>) -> Result<Siglip2VisionTransformer> {
        let cfg = Siglip2VisionConfig::from_file(dir)?;
        Siglip2VisionTransformer::load(dev, &Checkpoint::open(dir)?, &cfg, dtype)
    }

    pub fn load(dev: &Device, ckpt: &Checkpoint, cfg: &Siglip2VisionConfig, dtype: Option<DType>) -> Result<Siglip2VisionTransformer> {
        let prefix = find_prefix(ckpt, "embeddings.patch_embedding.weight", &["", "vision_model."])?;
        let p = |s: &str| format!("{prefix}{s}");
        let dtype = match dtype {
            Some(d) => d,
            None => ckpt.info(&p("embeddings.patch_embedding.weight"))?.dtype,
        };
        if !DType::FLOATS.contains(&dtype) {
            return Err(Error::dtype("Siglip2VisionTransformer", format!("{dtype} weights are not supported (f32, f16, bf16)")));
        }
        let (h, eps) = (cfg.hidden_size, cfg.layer_norm_eps);
        let patch_embedding = load_linear(ckpt, dev, &p("embeddings.patch_embedding"), cfg.patch_dim(), h, dtype, true, None)?;
        let patch_embedding_conv = conv_order_patch_embedding(ckpt, dev, &p("embeddings.patch_embedding.weight"), &patch_embedding, cfg, dtype)?;
        let embeddings = Siglip2VisionEmbeddings {
            patch_embedding,
            patch_embedding_conv,
            position_embedding: ckpt.load_as(dev, &p("embeddings.position_embedding.weight"), &[cfg.num_patches, h], dtype)?,
            side: cfg.position_embedding_size,
        };
        let mut layers = Vec::with_capacity(cfg.num_hidden_layers);
        for l in 0..cfg.num_hidden_layers {
            let lp = |s: &str| p(&format!("encoder.layers.{l}.{s}"));
            let qkv = load_stacked_linear(ckpt, dev, &[(lp("self_attn.q_proj"), h, true), (lp("self_attn.k_proj"), h, true), (lp("self_attn.v_proj"), h, true)], h, dtype)?;
            let layer = VitLayer {
                norm1: layer_norm(ckpt, dev, &lp("layer_norm1"), h, eps, dtype)?,
                qkv,
                o_proj: load_linear(ckpt, dev, &lp("self_attn.out_proj"), h, h, dtype, true, None)?,
                norm2: layer_norm(ckpt, dev, &lp("layer_norm2"), h, eps, dtype)?,
                mlp: mlp(ckpt, dev, &lp("mlp"), cfg, dtype)?,
                heads: cfg.num_attention_heads,
                head_dim: cfg.head_dim,
            };
            layer.check()?;
            layers.push(layer);
        }
        let head = if cfg.vision_use_head {
            let hp = |s: &str| p(&format!("head.{s}"));
            Some(MultiheadAttentionPoolingHead::new(
                ckpt.load_as(dev, &hp("probe"), &[1, 1, h], dtype)?,
                &ckpt.load_as(dev, &hp("attention.in_proj_weight"), &[3 * h, h], dtype)?,
                &ckpt.load_as(dev, &hp("attention.in_proj_bias"), &[3 * h], dtype)?,
                load_linear(ckpt, dev, &hp("attention.out_proj"), h, h, dtype, true, None)?,
                layer_norm(ckpt, dev, &hp("layernorm"), h, eps, dtype)?,
                mlp(ckpt, dev, &hp("mlp"), cfg, dtype)?,
                cfg.num_attention_heads,
            )?)
        } else {
            None
        };
        let post_layernorm = layer_norm(ckpt, dev, &p("post_layernorm"), h, eps, dtype)?;
        dev.synchronize()?;
        Ok(Siglip2VisionTransformer { cfg: cfg.clone(), dtype, prefix, embeddings, layers, post_layernorm, head })
    }

    pub fn forward(&self, ctx: &Context, b: &PatchBatch, output_hidden_states: bool) -> Result<Siglip2Output> {
        let c = &self.cfg;
        if b.patch_dim != c.patch_dim() {
            return Err(Error::bad_input(
                "Siglip2VisionTransformer",
                format!("patches have {} values, the model takes num_channels·patch_size² = {}", b.patch_dim, c.patch_dim()),
            ));
        }
        let padding = Padding::from_mask(&ctx.device, &b.mask, b.batch, b.max_patches)?;
        // Before any work is enqueued: an unsupported head_dim is a named error here.
        let attention = self.attention(&padding)?;
        let x = self.embed_patches(ctx, b, &padding)?;
        self.encode(ctx, &padding, &attention, &x, &b.spatial_shapes, output_hidden_states)
    }

    /// Same-sized images `[batch, num_channels, height, width]` on the GPU (f32 as uploaded,
    /// or the model dtype; sides multiples of `patch_size`), each its own `height/p × width/p`
    /// grid with no padding: what [`Self::forward`] gives for the same images patchified.
    pub fn forward_pixels(&self, ctx: &Context, pixels: &Tensor, output_hidden_states: bool) -> Result<Siglip2Output> {
        let c = &self.cfg;
        let conv = &self.embeddings.patch_embedding_conv;
        let [rows, _] = conv.cols_shape(pixels)?; // names a bad rank or a size the patch does not divide
        if pixels.dim(1) != c.num_channels {
            return Err(Error::bad_input("Siglip2VisionTransformer", format!("pixels {pixels:?} have {} channels, the model takes num_channels {}", pixels.dim(1), c.num_channels)));
        }
        let (batch, grid) = (pixels.dim(0), (pixels.dim(2) / c.patch_size, pixels.dim(3) / c.patch_size));
        let padding = Padding::from_mask(&ctx.device, &vec![true; rows], batch, rows / batch.max(1))?;
        let attention = self.attention(&padding)?;
        let cols = Tensor::empty(&ctx.device, &[rows, c.patch_dim()], self.dtype)?;
        let x = Tensor::empty(&ctx.device, &[rows, c.hidden_size], self.dtype)?;
        conv.forward(ctx, pixels, &cols, &x)?;
        self.encode(ctx, &padding, &attention, &x, &vec![grid; batch], output_hidden_states)
    }

    fn attention(&self, padding: &Padding) -> Result<PackedAttention> {
        let c = &self.cfg;
        PackedAttention::new(padding, c.num_attention_heads, c.num_attention_heads, c.head_dim, 1.0 / (c.head_dim as f32).sqrt(), self.dtype)
    }

    /// Everything after the patch linear: `x` `[total, H]` holds the packed patch embeddings
    /// (and becomes the last layer's output); `grids` are the images' patch grids in order.
    fn encode(&self, ctx: &Context, padding: &Padding, attention: &PackedAttention, x: &Tensor, grids: &[(usize, usize)], output_hidden_states: bool) -> Result<Siglip2Output> {
        let (dev, h, dtype) = (&ctx.device, self.cfg.hidden_size, self.dtype);
        let (t, batch, max_patches) = (padding.total, padding.batch, padding.seq);
        let pos = self.positions(ctx, grids, t)?;
        let normed = Tensor::empty(dev, &[t, h], dtype)?;
        // embeddings = patches + positions, added in place by the first norm that follows.
        let first_norm = self.layers.first().map_or(&self.post_layernorm, |l| &l.norm1);
        first_norm.forward_residual(ctx, &pos, x, &normed)?;
        let mut kept = Vec::new();
        if output_hidden_states {
            kept.push(x.duplicate()?);
        }
        if let Some(first) = self.layers.first() {
            let buf = VitLayerBuffers::new(dev, first, t, dtype)?;
            for (l, layer) in self.layers.iter().enumerate() {
                let next = self.layers.get(l + 1).map_or(&self.post_layernorm, |n| &n.norm1);
                layer.forward(ctx, padding, attention, None, x, &normed, next, &buf)?;
                if output_hidden_states {
                    kept.push(x.duplicate()?);
                }
            }
        }
        let pad = |t: &Tensor| -> Result<Tensor> {
            let out = Tensor::empty(dev, &[batch * max_patches, h], dtype)?;
            padding.pad(&ctx.ops, t, &out)?;
            out.reshape(&[batch, max_patches, h])
        };
        let pooler_output = match &self.head {
            Some(head) => Some(head.forward(ctx, padding, &normed)?),
            None => None,
        };
        Ok(Siglip2Output { last_hidden_state: pad(&normed)?, pooler_output, hidden_states: kept.iter().map(pad).collect::<Result<Vec<_>>>()? })
    }

    /// The packed patch embeddings `[total, H]` of the real patches.
    fn embed_patches(&self, ctx: &Context, b: &PatchBatch, padding: &Padding) -> Result<Tensor> {
        let (dev, h, dtype, t) = (&ctx.device, self.cfg.hidden_size, self.dtype, padding.total);
        let pd = b.patch_dim;
        // Only real patches go up; a batch without padding is sent as it is, without another
        // host copy.
        let pixels = if b.mask.iter().all(|&m| m) {
            Tensor::from_f32(dev, &b.pixel_values, &[t, pd], dtype)?
        } else {
            let real: Vec<f32> = b.pixel_values.chunks_exact(pd).zip(&b.mask).filter(|(_, &m)| m).flat_map(|(r, _)| r.iter().copied()).collect();
            Tensor::from_f32(dev, &real, &[t, pd], dtype)?
        };
        let x = Tensor::empty(dev, &[t, h], dtype)?;
        ops::linear(ctx, &pixels, &self.embeddings.patch_embedding, &x)?;
        Ok(x)
    }

    /// Each image's position rows in the packing (`F.interpolate(bilinear, antialias)` of the
    /// `side × side` table to the image's grid; padding rows get none: they are not computed
    /// at all).
    fn positions(&self, ctx: &Context, grids: &[(usize, usize)], total: usize) -> Result<Tensor> {
        let e = &self.embeddings;
        let pos = Tensor::empty(&ctx.device, &[total, self.cfg.hidden_size], self.dtype)?;
        let mut start = 0;
        for &(gh, gw) in grids {
            let rows = pos.narrow(0, start, gh * gw)?;
            ops::interpolate_pos_embed(&ctx.ops, &e.position_embedding, (e.side, e.side), &rows, (gh, gw), PosEmbedResize::BilinearAntialias)?;
            start += gh * gw;
        }
        Ok(pos)
    }
}

/// The patch linear's weight with its columns reordered from HF's `(ky, kx, c)` to the conv
/// order `(c, ky, kx)` that im2col rows of NCHW images have, as a `[H, C, p, p]` conv weight
/// (permuted on the host, once); the bias is shared with `linear`.
fn conv_order_patch_embedding(ckpt: &Checkpoint, dev: &Device, name: &str, linear: &Linear, cfg: &Siglip2VisionConfig, dtype: DType) -> Result<PatchEmbed> {
    let (h, c, p) = (cfg.hidden_size, cfg.num_channels, cfg.patch_size);
    let w = ckpt.host_f32(name)?;
    if w.len() != h * c * p * p {
        return Err(Error::shape("Siglip2VisionEmbeddings", format!("{name} has {} values, expected {h}×{}", w.len(), c * p * p)));
    }
    let mut conv = vec![0f32; w.len()];
    for o in 0..h {
        for ky in 0..p {
            for kx in 0..p {
                for ch in 0..c {
                    conv[((o * c + ch) * p + ky) * p + kx] = w[((o * p + ky) * p + kx) * c + ch];
                }
            }
        }
    }
    PatchEmbed::new(&Tensor::from_f32(dev, &conv, &[h, c, p, p], dtype)?, linear.bias.clone())
}
