//! CPU reference of HF `DINOv3ViTModel`, weight keys as upstream: `embeddings.{cls_token,
//! register_tokens, patch_embeddings}`, `model.layer.{i}.{norm1, attention.{q,k,v,o}_proj,
//! layer_scale1.lambda1, norm2, mlp.{gate,up,down}_proj, layer_scale2.lambda1}`, `norm`.
//! (`embeddings.mask_token` is for masked pretraining only.)

use crate::config::DINOv3ViTConfig;
use fk_baselines::reference::modules::{find_prefix, load_tensor, EncoderOutput, LayerNorm, Linear, Padded, Rounding, SelfAttention};
use fk_baselines::reference::{dinov3_rope_cache, patch_embed, rope_2d};
use fk_multimodal::{ImageBatch, LayerScale, Mlp, VitLayer};
use fk_runtime::safetensors::Checkpoint;
use fk_runtime::Result;

pub struct DINOv3ViTEmbeddings {
    pub cls_token: Vec<f32>,
    /// `[num_register_tokens, H]`.
    pub register_tokens: Vec<f32>,
    /// `nn.Conv2d(C, H, p, stride=p)`: weight `[H, C, p, p]`, bias `[H]`.
    pub patch_weight: Vec<f32>,
    pub patch_bias: Vec<f32>,
}

pub struct DINOv3ViTModel {
    pub cfg: DINOv3ViTConfig,
    pub rounding: Rounding,
    pub prefix: String,
    pub embeddings: DINOv3ViTEmbeddings,
    pub layers: Vec<VitLayer>,
    pub norm: LayerNorm,
}

impl DINOv3ViTModel {
    pub fn load(ckpt: &Checkpoint, cfg: &DINOv3ViTConfig) -> Result<Self> {
        let prefix = find_prefix(ckpt, "embeddings.cls_token", &["", "dinov3."])?;
        let p = |s: &str| format!("{prefix}{s}");
        let (h, i, eps, c, ps) = (cfg.hidden_size, cfg.intermediate_size, cfg.layer_norm_eps, cfg.num_channels, cfg.patch_size);
        let rounding = Rounding(ckpt.info(&p("embeddings.patch_embeddings.weight"))?.dtype);
        let embeddings = DINOv3ViTEmbeddings {
            cls_token: load_tensor(ckpt, &p("embeddings.cls_token"), &[1, 1, h])?,
            register_tokens: load_tensor(ckpt, &p("embeddings.register_tokens"), &[1, cfg.num_register_tokens, h])?,
            patch_weight: load_tensor(ckpt, &p("embeddings.patch_embeddings.weight"), &[h, c, ps, ps])?,
            patch_bias: load_tensor(ckpt, &p("embeddings.patch_embeddings.bias"), &[h])?,
        };
        let mut layers = Vec::with_capacity(cfg.num_hidden_layers);
        for l in 0..cfg.num_hidden_layers {
            let lp = |s: &str| p(&format!("model.layer.{l}.{s}"));
            let lin = |name: &str, n_in: usize, n_out: usize, bias: bool| Linear::load(ckpt, &lp(name), n_in, n_out, bias);
            let mlp = if cfg.use_gated_mlp {
                Mlp::Gated {
                    gate: lin("mlp.gate_proj", h, i, cfg.mlp_bias)?,
                    up: lin("mlp.up_proj", h, i, cfg.mlp_bias)?,
                    down: lin("mlp.down_proj", i, h, cfg.mlp_bias)?,
                    act: cfg.hidden_act,
                }
            } else {
                Mlp::Plain { up: lin("mlp.up_proj", h, i, cfg.mlp_bias)?, down: lin("mlp.down_proj", i, h, cfg.mlp_bias)?, act: cfg.hidden_act }
            };
            layers.push(VitLayer {
                norm1: LayerNorm::load(ckpt, &lp("norm1"), h, eps)?,
                attention: SelfAttention {
                    q: lin("attention.q_proj", h, h, cfg.query_bias)?,
                    k: lin("attention.k_proj", h, h, cfg.key_bias)?,
                    v: lin("attention.v_proj", h, h, cfg.value_bias)?,
                    o: lin("attention.o_proj", h, h, cfg.proj_bias)?,
                    heads: cfg.num_attention_heads,
                    head_dim: cfg.head_dim,
                },
                layer_scale1: Some(LayerScale { lambda1: load_tensor(ckpt, &lp("layer_scale1.lambda1"), &[h])? }),
                norm2: LayerNorm::load(ckpt, &lp("norm2"), h, eps)?,
                mlp,
                layer_scale2: Some(LayerScale { lambda1: load_tensor(ckpt, &lp("layer_scale2.lambda1"), &[h])? }),
            });
        }
        let norm = LayerNorm::load(ckpt, &p("norm"), h, eps)?;
        Ok(DINOv3ViTModel { cfg: cfg.clone(), rounding, prefix, embeddings, layers, norm })
    }

    /// `[CLS, registers…, patches…]` per image: `[batch·(1 + R + gh·gw), H]`.
    fn embed(&self, images: &ImageBatch) -> Result<(Vec<f32>, (usize, usize))> {
        let r = self.rounding;
        let g = images.patches(self.cfg.patch_size, self.cfg.num_channels)?;
        let grid = g.grid()?;
        let e = &self.embeddings;
        let pixels = r.round(images.pixels.iter().map(|&v| v as f64));
        let patches = r.round(patch_embed(&pixels, &g, &e.patch_weight, Some(&e.patch_bias))?);
        let (h, n) = (self.cfg.hidden_size, grid.0 * grid.1);
        let mut x = Vec::with_capacity(images.batch * (self.cfg.num_prefix_tokens() + n) * h);
        for b in 0..images.batch {
            x.extend_from_slice(&e.cls_token);
            x.extend_from_slice(&e.register_tokens);
            x.extend_from_slice(&patches[b * n * h..(b + 1) * n * h]);
        }
        Ok((x, grid))
    }

    /// Forward over same-sized images. The image size must be a multiple of `patch_size`
    /// (a named error otherwise); it need not be `image_size`.
    pub fn forward(&self, images: &ImageBatch) -> Result<EncoderOutput> {
        let (mut x, (gh, gw)) = self.embed(images)?;
        let r = self.rounding;
        let c = &self.cfg;
        let seq = c.num_prefix_tokens() + gh * gw;
        let cache = dinov3_rope_cache(gh, gw, c.head_dim, c.rope_theta);
        let rotate = |t: &[f32], _b: usize| r.round(rope_2d(t, c.num_attention_heads, c.head_dim, c.num_prefix_tokens(), &cache));
        let mask = vec![true; images.batch * seq];
        let padded = Padded { batch: images.batch, seq, mask: &mask };
        let mut hidden_states = vec![x.clone()];
        for l in &self.layers {
            x = l.forward(r, &x, padded, &rotate);
            hidden_states.push(x.clone());
        }
        let last = self.norm.forward(r, &x);
        let h = c.hidden_size;
        let pooled = (0..images.batch).flat_map(|b| last[b * seq * h..b * seq * h + h].to_vec()).collect();
        Ok(EncoderOutput { batch: images.batch, seq, hidden: h, hidden_states, last_hidden_state: last, pooler_output: Some(pooled) })
    }
}
