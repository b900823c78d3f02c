//! CPU reference of HF `Siglip2VisionTransformer` (what `Siglip2VisionModel` runs), weight keys
//! as upstream: `embeddings.patch_embedding` (an `nn.Linear` over flattened patches),
//! `embeddings.position_embedding.weight [num_patches, H]`, `encoder.layers.{i}.{layer_norm1,
//! self_attn.{q,k,v,out}_proj, layer_norm2, mlp.fc1, mlp.fc2}`, `post_layernorm`, `head.…`.
//! A full `Siglip2Model` checkpoint keeps them under `vision_model.`.

use crate::config::Siglip2VisionConfig;
use crate::patches::PatchBatch;
use fk_baselines::reference::bilinear_antialias_resize;
use fk_baselines::reference::modules::{find_prefix, load_tensor, no_rotation, EncoderOutput, LayerNorm, Linear, Padded, Rounding, SelfAttention};
use fk_multimodal::{Mlp, MultiheadAttentionPoolingHead, VitLayer};
use fk_runtime::safetensors::Checkpoint;
use fk_runtime::{Error, Result};

pub struct Siglip2VisionEmbeddings {
    pub patch_embedding: Linear,
    /// `[side·side, H]`, row-major over the (row, column) grid.
    pub position_embedding: Vec<f32>,
    pub side: usize,
}

impl Siglip2VisionEmbeddings {
    /// The position table resized to an `h × w` grid (`F.interpolate(bilinear, antialias)` on
    /// the `[H, side, side]` grid, in f32 as upstream, then cast to the model dtype): `[h·w, H]`.
    pub fn resized_positions(&self, r: Rounding, h: usize, w: usize) -> Vec<f32> {
        let hidden = self.patch_embedding.out_features;
        let s = self.side;
        // [side·side, H] → [H, side, side]
        let mut planes = vec![0f32; hidden * s * s];
        for (p, row) in self.position_embedding.chunks_exact(hidden).enumerate() {
            for (c, &v) in row.iter().enumerate() {
                planes[c * s * s + p] = v;
            }
        }
        let resized = bilinear_antialias_resize(&planes, hidden, (s, s), (h, w));
        // [H, h, w] → [h·w, H]
        r.round((0..h * w).flat_map(|p| (0..hidden).map(move |c| (p, c))).map(|(p, c)| resized[c * h * w + p] as f32 as f64))
    }

    /// `patch_embedding(pixel_values) + resized positions`; padding rows take the first
    /// position row, as upstream.
    pub fn forward(&self, r: Rounding, b: &PatchBatch) -> Vec<f32> {
        let hidden = self.patch_embedding.out_features;
        let patches = self.patch_embedding.forward(r, &b.pixel_values);
        let mut pos = Vec::with_capacity(patches.len());
        for &(h, w) in &b.spatial_shapes {
            let grid = self.resized_positions(r, h, w);
            let first = grid[..hidden].to_vec();
            pos.extend(grid);
            for _ in h * w..b.max_patches {
                pos.extend_from_slice(&first);
            }
        }
        r.add(&patches, &pos)
    }
}

pub struct Siglip2VisionTransformer {
    pub cfg: Siglip2VisionConfig,
    pub rounding: Rounding,
    pub prefix: String,
    pub embeddings: Siglip2VisionEmbeddings,
    pub layers: Vec<VitLayer>,
    pub post_layernorm: LayerNorm,
    pub head: Option<MultiheadAttentionPoolingHead>,
}

fn mlp(ckpt: &Checkpoint, prefix: &str, c: &Siglip2VisionConfig) -> Result<Mlp> {
    Ok(Mlp::Plain {
        up: Linear::load(ckpt, &format!("{prefix}.fc1"), c.hidden_size, c.intermediate_size, true)?,
        down: Linear::load(ckpt, &format!("{prefix}.fc2"), c.intermediate_size, c.hidden_size, true)?,
        act: c.hidden_act,
    })
}

impl Siglip2VisionTransformer {
    pub fn load(ckpt: &Checkpoint, cfg: &Siglip2VisionConfig) -> Result<Self> {
        let prefix = find_prefix(ckpt, "embeddings.patch_embedding.weight", &["", "vision_model."])?;
        let p = |s: &str| format!("{prefix}{s}");
        let (h, eps) = (cfg.hidden_size, cfg.layer_norm_eps);
        let pe_name = p("embeddings.patch_embedding.weight");
        let rounding = Rounding(ckpt.info(&pe_name)?.dtype);
        let embeddings = Siglip2VisionEmbeddings {
            patch_embedding: Linear::load(ckpt, &p("embeddings.patch_embedding"), cfg.patch_dim(), h, true)?,
            position_embedding: load_tensor(ckpt, &p("embeddings.position_embedding.weight"), &[cfg.num_patches, h])?,
            side: cfg.position_embedding_size,
        };
        let mut layers = Vec::with_capacity(cfg.num_hidden_layers);
        for l in 0..cfg.num_hidden_layers {
            let lp = |s: &str| p(&format!("encoder.layers.{l}.{s}"));
            layers.push(VitLayer {
                norm1: LayerNorm::load(ckpt, &lp("layer_norm1"), h, eps)?,
                attention: SelfAttention {
                    q: Linear::load(ckpt, &lp("self_attn.q_proj"), h, h, true)?,
                    k: Linear::load(ckpt, &lp("self_attn.k_proj"), h, h, true)?,
                    v: Linear::load(ckpt, &lp("self_attn.v_proj"), h, h, true)?,
                    o: Linear::load(ckpt, &lp("self_attn.out_proj"), h, h, true)?,
                    heads: cfg.num_attention_heads,
                    head_dim: cfg.head_dim,
                },
                layer_scale1: None,
                norm2: LayerNorm::load(ckpt, &lp("layer_norm2"), h, eps)?,
                mlp: mlp(ckpt, &lp("mlp"), cfg)?,
                layer_scale2: None,
            });
        }
        let head = if cfg.vision_use_head {
            Some(MultiheadAttentionPoolingHead::load(ckpt, &p("head"), h, cfg.num_attention_heads, eps, mlp(ckpt, &p("head.mlp"), cfg)?)?)
        } else {
            None
        };
        let post_layernorm = LayerNorm::load(ckpt, &p("post_layernorm"), h, eps)?;
        Ok(Siglip2VisionTransformer { cfg: cfg.clone(), rounding, prefix, embeddings, layers, post_layernorm, head })
    }

    pub fn forward(&self, b: &PatchBatch) -> Result<EncoderOutput> {
        if b.patch_dim != self.cfg.patch_dim() {
            return Err(Error::bad_input(
                "Siglip2VisionTransformer",
                format!("patches have {} values, the model takes num_channels·patch_size² = {}", b.patch_dim, self.cfg.patch_dim()),
            ));
        }
        let r = self.rounding;
        let mut x = self.embeddings.forward(r, b);
        let padded = Padded { batch: b.batch, seq: b.max_patches, mask: &b.mask };
        let mut hidden_states = vec![x.clone()];
        for l in &self.layers {
            x = l.forward(r, &x, padded, &no_rotation);
            hidden_states.push(x.clone());
        }
        let last = self.post_layernorm.forward(r, &x);
        let pooler_output = self.head.as_ref().map(|h| h.forward(r, &last, padded));
        Ok(EncoderOutput { batch: b.batch, seq: b.max_patches, hidden: self.cfg.hidden_size, hidden_states, last_hidden_state: last, pooler_output })
    }
}
