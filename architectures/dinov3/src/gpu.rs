//! HF `DINOv3ViTModel` on the GPU: `DINOv3ViTEmbeddings` (conv patch embedding as im2col +
//! GEMM, CLS and register tokens ahead of the patches), the shared pre-norm
//! `fk_multimodal::gpu::VitLayer` with 2D RoPE on the patch tokens' q/k and the layer scales
//! folded into `o_proj`/`down_proj`, and the final `norm`. Images of one batch share a size,
//! so no row is padding: the batch runs as equal-length packed sequences.

use crate::config::DINOv3ViTConfig;
use fk_baselines::ops::{self, PackedAttention, PatchEmbed, Padding, Rope2d};
use fk_baselines::reference::modules::{find_prefix, load_tensor};
use fk_baselines::Context;
use fk_multimodal::gpu::{load_linear, load_stacked_linear, LayerNormWeights, VitLayer, VitLayerBuffers, VitMlp};
use fk_multimodal::ImageBatch;
use fk_runtime::safetensors::Checkpoint;
use fk_runtime::{DType, Device, Error, Result, Tensor};
use std::path::Path;

pub struct DINOv3ViTEmbeddings {
    /// `[1 + num_register_tokens, hidden]`: `cls_token` then `register_tokens`.
    pub prefix_tokens: Tensor,
    pub patch_embeddings: PatchEmbed,
}

pub struct DINOv3ViTModel {
    pub cfg: DINOv3ViTConfig,
    pub dtype: DType,
    pub prefix: String,
    pub embeddings: DINOv3ViTEmbeddings,
    pub layers: Vec<VitLayer>,
    pub norm: LayerNormWeights,
}

/// What [`DINOv3ViTModel::forward`] returns (all `[batch·seq, hidden]` rows, seq = 1 +
/// registers + patches).
pub struct DINOv3ViTOutput {
    pub seq: usize,
    pub last_hidden_state: Tensor,
    /// `[batch, hidden]`: the CLS row of `last_hidden_state`.
    pub pooler_output: Tensor,
    /// With `output_hidden_states`: the embeddings' output and every layer's.
    pub hidden_states: Vec<Tensor>,
}

fn layer_norm(ckpt: &Checkpoint, dev: &Device, prefix: &str, h: usize, eps: f32, dtype: DType) -> Result<LayerNormWeights> {
    let bias_name = format!("{prefix}.bias");
    let bias = if ckpt.contains(&bias_name) { Some(ckpt.load_as(dev, &bias_name, &[h], dtype)?) } else { None };
    Ok(LayerNormWeights { weight: ckpt.load_as(dev, &format!("{prefix}.weight"), &[h], dtype)?, bias, eps })
}

impl DINOv3ViTModel {
    pub fn from_pretrained(dev: &Device, dir: &Path, dtype: Option<DType>) -> Result<DINOv3ViTModel> {
        let cfg = DINOv3ViTConfig::from_file(dir)?;
        DINOv3ViTModel::load(dev, &Checkpoint::open(dir)?, &cfg, dtype)
    }

    pub fn load(dev: &Device, ckpt: &Checkpoint, cfg: &DINOv3ViTConfig, dtype: Option<DType>) -> Result<DINOv3ViTModel> {
        let prefix = find_prefix(ckpt, "embeddings.cls_token", &["", "dinov3."])?;
        let p = |s: &str| format!("{prefix}{s}");
        let dtype = match dtype {
            Some(d) => d,
            None => ckpt.info(&p("embeddings.patch_embeddings.weight"))?.dtype,
        };
        if !DType::FLOATS.contains(&dtype) {
            return Err(Error::dtype("DINOv3ViTModel", format!("{dtype} weights are not supported (f32, f16, bf16)")));
        }
        let (h, i, eps, c, ps, r) = (cfg.hidden_size, cfg.intermediate_size, cfg.layer_norm_eps, cfg.num_channels, cfg.patch_size, cfg.num_register_tokens);
        let cls = ckpt.load_as(dev, &p("embeddings.cls_token"), &[1, 1, h], dtype)?.reshape(&[1, h])?;
        let mut prefix_parts = vec![cls];
        if r > 0 {
            prefix_parts.push(ckpt.load_as(dev, &p("embeddings.register_tokens"), &[1, r, h], dtype)?.reshape(&[r, h])?);
        }
        let conv = ckpt.load_as(dev, &p("embeddings.patch_embeddings.weight"), &[h, c, ps, ps], dtype)?;
        let conv_bias = ckpt.load_as(dev, &p("embeddings.patch_embeddings.bias"), &[h], dtype)?;
        let embeddings = DINOv3ViTEmbeddings {
            prefix_tokens: Tensor::cat_rows(&prefix_parts.iter().collect::<Vec<_>>())?,
            patch_embeddings: PatchEmbed::new(&conv, Some(conv_bias))?,
        };
        let mut layers = Vec::with_capacity(cfg.num_hidden_layers);
        for l in 0..cfg.num_hidden_layers {
            let lp = |s: &str| p(&format!("model.layer.{l}.{s}"));
            let scale1 = load_tensor(ckpt, &lp("layer_scale1.lambda1"), &[h])?;
            let scale2 = load_tensor(ckpt, &lp("layer_scale2.lambda1"), &[h])?;
            let qkv = load_stacked_linear(
                ckpt,
                dev,
                &[(lp("attention.q_proj"), h, cfg.query_bias), (lp("attention.k_proj"), h, cfg.key_bias), (lp("attention.v_proj"), h, cfg.value_bias)],
                h,
                dtype,
            )?;
            let o_proj = load_linear(ckpt, dev, &lp("attention.o_proj"), h, h, dtype, cfg.proj_bias, Some(&scale1))?;
            let down = load_linear(ckpt, dev, &lp("mlp.down_proj"), i, h, dtype, cfg.mlp_bias, Some(&scale2))?;
            let mlp = if cfg.use_gated_mlp {
                let gate_up = load_stacked_linear(ckpt, dev, &[(lp("mlp.gate_proj"), i, cfg.mlp_bias), (lp("mlp.up_proj"), i, cfg.mlp_bias)], h, dtype)?;
                VitMlp::Gated { gate_up, down, act: VitMlp::gated_act(cfg.hidden_act)? }
            } else {
                VitMlp::Plain { up: load_linear(ckpt, dev, &lp("mlp.up_proj"), h, i, dtype, cfg.mlp_bias, None)?, down, act: VitMlp::plain_act(cfg.hidden_act)? }
            };
            let layer = VitLayer {
                norm1: layer_norm(ckpt, dev, &lp("norm1"), h, eps, dtype)?,
                qkv,
                o_proj,
                norm2: layer_norm(ckpt, dev, &lp("norm2"), h, eps, dtype)?,
                mlp,
                heads: cfg.num_attention_heads,
                head_dim: cfg.head_dim,
            };
            layer.check()?;
            layers.push(layer);
        }
        let norm = layer_norm(ckpt, dev, &p("norm"), h, eps, dtype)?;
        dev.synchronize()?;
        Ok(DINOv3ViTModel { cfg: cfg.clone(), dtype, prefix, embeddings, layers, norm })
    }

    /// Forward same-sized images (any multiple of `patch_size`; other sizes and channel counts
    /// are named errors).
    pub fn forward(&self, ctx: &Context, images: &ImageBatch, output_hidden_states: bool) -> Result<DINOv3ViTOutput> {
        images.patches(self.cfg.patch_size, self.cfg.num_channels)?;
        // Uploaded as f32: the patch embedding's im2col rounds to the model dtype on the GPU.
        let pixels = Tensor::from_f32(&ctx.device, &images.pixels, &[images.batch, images.channels, images.height, images.width], DType::F32)?;
        self.forward_pixels(ctx, &pixels, output_hidden_states)
    }

    /// [`Self::forward`] of images already on the GPU: `[batch, num_channels, height, width]`,
    /// f32 or the model dtype.
    pub fn forward_pixels(&self, ctx: &Context, pixels: &Tensor, output_hidden_states: bool) -> Result<DINOv3ViTOutput> {
        let c = &self.cfg;
        let dev = &ctx.device;
        self.embeddings.patch_embeddings.cols_shape(pixels)?; // names a bad rank or a size the patch does not divide
        if pixels.dim(1) != c.num_channels {
            return Err(Error::bad_input("DINOv3ViTModel", format!("pixels {pixels:?} have {} channels, the model takes num_channels {}", pixels.dim(1), c.num_channels)));
        }
        let (gh, gw) = (pixels.dim(2) / c.patch_size, pixels.dim(3) / c.patch_size);
        let (b, n, h, prefix) = (pixels.dim(0), gh * gw, c.hidden_size, c.num_prefix_tokens());
        let seq = prefix + n;
        let t = b * seq;
        // Tables first: an unsupported head_dim fails before any work is enqueued.
        let padding = Padding::from_mask(dev, &vec![true; t], b, seq)?;
        let attention = PackedAttention::new(&padding, c.num_attention_heads, c.num_attention_heads, c.head_dim, 1.0 / (c.head_dim as f32).sqrt(), self.dtype)?;
        let cache = ops::rope_2d_cache(dev, gh, gw, c.head_dim, c.rope_theta)?;
        let rope = Rope2d { head_dim: c.head_dim, prefix, cos_sin_cache: &cache };

        let x = Tensor::empty(dev, &[t, h], self.dtype)?;
        self.embed(ctx, pixels, (gh, gw), &x)?;
        let mut hidden_states = Vec::new();
        if output_hidden_states {
            hidden_states.push(x.duplicate()?);
        }
        let normed = Tensor::empty(dev, &[t, h], self.dtype)?;
        if let Some(first) = self.layers.first() {
            first.norm1.forward(ctx, &x, &normed)?;
            let buf = VitLayerBuffers::new(dev, first, t, self.dtype)?;
            for (l, layer) in self.layers.iter().enumerate() {
                let next = self.layers.get(l + 1).map_or(&self.norm, |n| &n.norm1);
                layer.forward(ctx, &padding, &attention, Some(&rope), &x, &normed, next, &buf)?;
                if output_hidden_states {
                    hidden_states.push(x.duplicate()?);
                }
            }
        } else {
            self.norm.forward(ctx, &x, &normed)?;
        }
        let cls: Vec<i32> = (0..b).map(|i| (i * seq) as i32).collect();
        let pooler_output = Tensor::empty(dev, &[b, h], self.dtype)?;
        ops::gather_rows(&ctx.ops, &normed, &Tensor::from_i32(dev, &cls, &[b])?, &pooler_output, None)?;
        Ok(DINOv3ViTOutput { seq, last_hidden_state: normed, pooler_output, hidden_states })
    }

    /// `x` `[batch·seq, hidden]` = per image `[CLS, registers…, patches…]`: the patches are
    /// embedded into their own buffer, then one row gather places them and the prefix tokens.
    fn embed(&self, ctx: &Context, pixels: &Tensor, (gh, gw): (usize, usize), x: &Tensor) -> Result<()> {
        let dev = &ctx.device;
        let e = &self.embeddings;
        let (b, n, h) = (pixels.dim(0), gh * gw, self.cfg.hidden_size);
        let prefix = e.prefix_tokens.dim(0);
        let cols = Tensor::empty(dev, &e.patch_embeddings.cols_shape(pixels)?, self.dtype)?;
        let patches = Tensor::empty(dev, &[b * n, h], self.dtype)?;
        e.patch_embeddings.forward(ctx, pixels, &cols, &patches)?;
        let source = Tensor::cat_rows(&[&e.prefix_tokens, &patches])?;
        let seq = prefix + n;
        let index: Vec<i32> = (0..b * seq).map(|r| if r % seq < prefix { (r % seq) as i32 } else { (prefix + (r / seq) * n + r % seq - prefix) as i32 }).collect();
        ops::gather_rows(&ctx.ops, &source, &Tensor::from_i32(dev, &index, &[b * seq])?, x, None)
    }
}
