//! CPU reference of `LlamaForCausalLM` with HF transformers semantics, for golden tests
//! (in CI, no GPU) and as the oracle the GPU model is checked against.
//!
//! Activations are rounded to the checkpoint dtype wherever the PyTorch module materialises a
//! tensor (linear outputs, norms, residual adds, rotary, the MLP product), so a bf16 model
//! is compared like for like; arithmetic is f64. Attention is the shared causal GQA reference
//! (`fk_baselines::reference::prefill_attention`).

use crate::config::LlamaConfig;
use crate::rope;
use fk_runtime::host::round_scalar;
use fk_runtime::safetensors::Checkpoint;
use fk_runtime::{DType, Error, Result};

struct Layer {
    q: Vec<f32>,
    k: Vec<f32>,
    v: Vec<f32>,
    o: Vec<f32>,
    gate: Vec<f32>,
    up: Vec<f32>,
    down: Vec<f32>,
    input_layernorm: Vec<f32>,
    post_attention_layernorm: Vec<f32>,
}

pub struct LlamaReference {
    pub cfg: LlamaConfig,
    /// The dtype activations are rounded to (the checkpoint's).
    pub dtype: DType,
    embed: Vec<f32>,
    layers: Vec<Layer>,
    norm: Vec<f32>,
    /// `None` when `tie_word_embeddings` (the embedding matrix is the LM head).
    lm_head: Option<Vec<f32>>,
}

/// Everything the goldens compare: each decoder layer's output, the final norm, the logits.
pub struct ReferenceOutput {
    pub tokens: usize,
    pub layer_outputs: Vec<Vec<f32>>,
    pub final_norm: Vec<f32>,
    pub logits: Vec<f32>,
}

fn load(ckpt: &Checkpoint, name: &str, shape: &[usize]) -> Result<Vec<f32>> {
    let info = ckpt.info(name)?;
    if info.shape != shape {
        return Err(Error::shape("LlamaReference", format!("{name}: checkpoint has {:?}, config implies {shape:?}", info.shape)));
    }
    ckpt.host_f32(name)
}

impl LlamaReference {
    /// Load an HF Llama checkpoint (weights keyed as `model.layers.{i}.self_attn.q_proj.weight` …).
    pub fn load(ckpt: &Checkpoint, cfg: &LlamaConfig) -> Result<LlamaReference> {
        let (h, i, v) = (cfg.hidden_size, cfg.intermediate_size, cfg.vocab_size);
        let (qd, kvd) = (cfg.num_attention_heads * cfg.head_dim, cfg.num_key_value_heads * cfg.head_dim);
        let embed_name = "model.embed_tokens.weight";
        let dtype = ckpt.info(embed_name)?.dtype;
        let mut layers = Vec::with_capacity(cfg.num_hidden_layers);
        for l in 0..cfg.num_hidden_layers {
            let p = |s: &str| format!("model.layers.{l}.{s}");
            layers.push(Layer {
                q: load(ckpt, &p("self_attn.q_proj.weight"), &[qd, h])?,
                k: load(ckpt, &p("self_attn.k_proj.weight"), &[kvd, h])?,
                v: load(ckpt, &p("self_attn.v_proj.weight"), &[kvd, h])?,
                o: load(ckpt, &p("self_attn.o_proj.weight"), &[h, qd])?,
                gate: load(ckpt, &p("mlp.gate_proj.weight"), &[i, h])?,
                up: load(ckpt, &p("mlp.up_proj.weight"), &[i, h])?,
                down: load(ckpt, &p("mlp.down_proj.weight"), &[h, i])?,
                input_layernorm: load(ckpt, &p("input_layernorm.weight"), &[h])?,
                post_attention_layernorm: load(ckpt, &p("post_attention_layernorm.weight"), &[h])?,
            });
        }
        let lm_head = if cfg.tie_word_embeddings && !ckpt.contains("lm_head.weight") {
            None
        } else {
            Some(load(ckpt, "lm_head.weight", &[v, h])?)
        };
        Ok(LlamaReference {
            cfg: cfg.clone(),
            dtype,
            embed: load(ckpt, embed_name, &[v, h])?,
            layers,
            norm: load(ckpt, "model.norm.weight", &[h])?,
            lm_head,
        })
    }

    fn round(&self, v: impl IntoIterator<Item = f64>) -> Vec<f32> {
        v.into_iter().map(|x| round_scalar(x, self.dtype) as f32).collect()
    }

    fn linear(&self, x: &[f32], rows: usize, k: usize, w: &[f32], n: usize) -> Vec<f32> {
        self.round(fk_runtime::linear::linear_reference(x, rows, k, w, n, None))
    }

    fn rms_norm(&self, x: &[f32], w: &[f32]) -> Vec<f32> {
        self.round(fk_baselines::reference::rms_norm(x, w, self.cfg.rms_norm_eps, self.dtype))
    }

    fn add(&self, a: &[f32], b: &[f32]) -> Vec<f32> {
        self.round(a.iter().zip(b).map(|(&x, &y)| x as f64 + y as f64))
    }

    /// Full forward over `ids` (positions 0..len): what HF computes for one sequence.
    pub fn forward(&self, ids: &[u32]) -> Result<ReferenceOutput> {
        let c = &self.cfg;
        let (t, h, hd) = (ids.len(), c.hidden_size, c.head_dim);
        let (nh, nkv) = (c.num_attention_heads, c.num_key_value_heads);
        if t > c.max_position_embeddings {
            return Err(Error::bad_input("LlamaReference", format!("{t} tokens exceed max_position_embeddings {}", c.max_position_embeddings)));
        }
        let mut x = Vec::with_capacity(t * h);
        for (pos, &id) in ids.iter().enumerate() {
            if id as usize >= c.vocab_size {
                return Err(Error::bad_input("LlamaReference", format!("token {pos} has id {id}, vocab_size is {}", c.vocab_size)));
            }
            x.extend_from_slice(&self.embed[id as usize * h..][..h]);
        }
        let cache = rope::cos_sin_cache(c, t);
        let positions: Vec<i64> = (0..t as i64).collect();
        let scale = 1.0 / (hd as f64).sqrt();
        let mut layer_outputs = Vec::with_capacity(self.layers.len());
        for l in &self.layers {
            let hn = self.rms_norm(&x, &l.input_layernorm);
            let q = self.linear(&hn, t, h, &l.q, nh * hd);
            let k = self.linear(&hn, t, h, &l.k, nkv * hd);
            let v = self.linear(&hn, t, h, &l.v, nkv * hd);
            let q = self.round(fk_baselines::reference::rotary_embedding(&positions, &q, nh, hd, &cache, hd, true));
            let k = self.round(fk_baselines::reference::rotary_embedding(&positions, &k, nkv, hd, &cache, hd, true));
            let shape = fk_baselines::reference::AttnShape { heads: nh, kv_heads: nkv, head_dim: hd, scale };
            let attn = fk_baselines::reference::prefill_attention(&q, &k, &v, &[0, t], &[0, t], &shape, true);
            let attn = self.round(attn);
            let o = self.linear(&attn, t, nh * hd, &l.o, h);
            x = self.add(&x, &o);
            let hn = self.rms_norm(&x, &l.post_attention_layernorm);
            let i_sz = c.intermediate_size;
            let gate = self.linear(&hn, t, h, &l.gate, i_sz);
            let up = self.linear(&hn, t, h, &l.up, i_sz);
            let act = self.round(gate.iter().map(|&g| g as f64 / (1.0 + (-(g as f64)).exp())));
            let prod = self.round(act.iter().zip(&up).map(|(&a, &u)| a as f64 * u as f64));
            let down = self.linear(&prod, t, i_sz, &l.down, h);
            x = self.add(&x, &down);
            layer_outputs.push(x.clone());
        }
        let final_norm = self.rms_norm(&x, &self.norm);
        let head = self.lm_head.as_deref().unwrap_or(&self.embed);
        let logits = self.linear(&final_norm, t, h, head, c.vocab_size);
        Ok(ReferenceOutput { tokens: t, layer_outputs, final_norm, logits })
    }

    /// Greedy continuation of `prompt` by `n` tokens (argmax, first index on ties, as torch).
    pub fn greedy(&self, prompt: &[u32], n: usize) -> Result<Vec<u32>> {
        let mut ids = prompt.to_vec();
        let v = self.cfg.vocab_size;
        for _ in 0..n {
            let out = self.forward(&ids)?;
            let last = &out.logits[(out.tokens - 1) * v..][..v];
            let mut best = 0;
            for (j, &x) in last.iter().enumerate() {
                if x > last[best] {
                    best = j;
                }
            }
            ids.push(best as u32);
        }
        Ok(ids[prompt.len()..].to_vec())
    }
}
