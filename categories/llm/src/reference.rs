//! CPU reference of a decoder-only causal LM with HF transformers semantics (Llama, Mixtral
//! and their relatives): embeddings, then per layer RMSNorm → GQA attention with rotary →
//! residual → RMSNorm → feed-forward (dense gated MLP, or a top-k mixture of experts) →
//! residual; final norm; LM head. For golden tests (in CI, no GPU) and as the oracle the GPU
//! models are checked against.
//!
//! Activations are rounded to the checkpoint dtype wherever the PyTorch module materialises a
//! tensor (linear outputs, norms, residual adds, rotary, activations), so a bf16 model is
//! compared like for like; arithmetic is f64. Attention is the shared causal GQA reference
//! (`fk_baselines::reference::prefill_attention`).

use crate::config::RopeScaling;
use fk_runtime::host::round_scalar;
use fk_runtime::safetensors::Checkpoint;
use fk_runtime::{DType, Error, Result};

/// The geometry the reference needs from an architecture's config.
#[derive(Clone, Debug)]
pub struct DecoderDims {
    pub hidden: usize,
    pub heads: usize,
    pub kv_heads: usize,
    pub head_dim: usize,
    pub vocab: usize,
    pub max_position_embeddings: usize,
    pub rms_norm_eps: f32,
    pub rope_theta: f64,
    pub rope_scaling: RopeScaling,
    pub tie_word_embeddings: bool,
}

/// A layer's feed-forward block.
pub enum FeedForwardRef {
    /// HF `LlamaMLP`: `down(silu(gate(x)) * up(x))`; weights `[inter, hidden]`, `[inter,
    /// hidden]`, `[hidden, inter]`.
    Dense { gate: Vec<f32>, up: Vec<f32>, down: Vec<f32>, inter: usize },
    /// HF `MixtralSparseMoeBlock` (transformers 5): router logits `x · routerᵀ`, softmax in
    /// f32, top-k, weights renormalised to sum 1 (kept in f32); each selected expert's gated
    /// MLP output times its weight (promoted to f32, then rounded), accumulated into the
    /// output in expert order in the model dtype. `experts[e]` = (w1 gate, w3 up, w2 down).
    Moe { router: Vec<f32>, experts: Vec<(Vec<f32>, Vec<f32>, Vec<f32>)>, inter: usize, top_k: usize },
}

pub struct LayerRef {
    pub q: Vec<f32>,
    pub k: Vec<f32>,
    pub v: Vec<f32>,
    pub o: Vec<f32>,
    pub input_layernorm: Vec<f32>,
    pub post_attention_layernorm: Vec<f32>,
    pub ffn: FeedForwardRef,
}

pub struct DecoderReference {
    /// The model's name in errors (`LlamaReference`, `MixtralReference`).
    pub name: &'static str,
    pub dims: DecoderDims,
    /// The dtype activations are rounded to (the checkpoint's).
    pub dtype: DType,
    pub embed: Vec<f32>,
    pub layers: Vec<LayerRef>,
    pub norm: Vec<f32>,
    /// `None` when the embeddings are tied (the embedding matrix is the LM head).
    pub lm_head: Option<Vec<f32>>,
}

/// Everything the goldens compare: each decoder layer's output, the final norm, the logits,
/// and for mixture-of-experts layers the experts each token was routed to (`[T, k]` each,
/// highest probability first).
pub struct ReferenceOutput {
    pub tokens: usize,
    pub layer_outputs: Vec<Vec<f32>>,
    pub final_norm: Vec<f32>,
    pub logits: Vec<f32>,
    pub router_topk: Vec<Vec<u32>>,
}

/// Load `name` as f32 after checking its shape is `shape` (errors name the tensor).
pub fn load_tensor(ckpt: &Checkpoint, model: &str, name: &str, shape: &[usize]) -> Result<Vec<f32>> {
    let info = ckpt.info(name)?;
    if info.shape != shape {
        return Err(Error::shape(model, format!("{name}: checkpoint has {:?}, config implies {shape:?}", info.shape)));
    }
    ckpt.host_f32(name)
}

impl DecoderReference {
    /// Load the parts every decoder shares from an HF checkpoint with Llama's key layout
    /// (`model.embed_tokens`, `model.layers.<i>.self_attn.{q,k,v,o}_proj`, the two layer norms,
    /// `model.norm`, `lm_head`); `ffn(ckpt, layer)` loads each layer's feed-forward block.
    pub fn load(
        name: &'static str,
        ckpt: &Checkpoint,
        dims: DecoderDims,
        num_layers: usize,
        mut ffn: impl FnMut(&Checkpoint, usize) -> Result<FeedForwardRef>,
    ) -> Result<DecoderReference> {
        let (h, v) = (dims.hidden, dims.vocab);
        let (qd, kvd) = (dims.heads * dims.head_dim, dims.kv_heads * dims.head_dim);
        let embed_name = "model.embed_tokens.weight";
        let dtype = ckpt.info(embed_name)?.dtype;
        let load = |n: &str, shape: &[usize]| load_tensor(ckpt, name, n, shape);
        let mut layers = Vec::with_capacity(num_layers);
        for l in 0..num_layers {
            let p = |s: &str| format!("model.layers.{l}.{s}");
            layers.push(LayerRef {
                q: load(&p("self_attn.q_proj.weight"), &[qd, h])?,
                k: load(&p("self_attn.k_proj.weight"), &[kvd, h])?,
                v: load(&p("self_attn.v_proj.weight"), &[kvd, h])?,
                o: load(&p("self_attn.o_proj.weight"), &[h, qd])?,
                input_layernorm: load(&p("input_layernorm.weight"), &[h])?,
                post_attention_layernorm: load(&p("post_attention_layernorm.weight"), &[h])?,
                ffn: ffn(ckpt, l)?,
            });
        }
        let lm_head = if dims.tie_word_embeddings && !ckpt.contains("lm_head.weight") { None } else { Some(load("lm_head.weight", &[v, h])?) };
        Ok(DecoderReference { name, embed: load(embed_name, &[v, h])?, norm: load("model.norm.weight", &[h])?, dims, dtype, layers, lm_head })
    }

    fn round(&self, v: impl IntoIterator<Item = f64>) -> Vec<f32> {
        v.into_iter().map(|x| round_scalar(x, self.dtype) as f32).collect()
    }

    fn linear(&self, x: &[f32], rows: usize, k: usize, w: &[f32], n: usize) -> Vec<f32> {
        self.round(fk_runtime::linear::linear_reference(x, rows, k, w, n, None))
    }

    fn rms_norm(&self, x: &[f32], w: &[f32]) -> Vec<f32> {
        self.round(fk_baselines::reference::rms_norm(x, w, self.dims.rms_norm_eps, self.dtype))
    }

    fn add(&self, a: &[f32], b: &[f32]) -> Vec<f32> {
        self.round(a.iter().zip(b).map(|(&x, &y)| x as f64 + y as f64))
    }

    /// `down(silu(gate(x)) * up(x))` over `rows` rows.
    fn gated_mlp(&self, x: &[f32], rows: usize, gate: &[f32], up: &[f32], down: &[f32], inter: usize) -> Vec<f32> {
        let h = self.dims.hidden;
        let g = self.linear(x, rows, h, gate, inter);
        let u = self.linear(x, rows, h, up, inter);
        let act = self.round(g.iter().map(|&g| g as f64 / (1.0 + (-(g as f64)).exp())));
        let prod = self.round(act.iter().zip(&u).map(|(&a, &u)| a as f64 * u as f64));
        self.linear(&prod, rows, inter, down, h)
    }

    /// The MoE block over `t` rows; also returns each row's experts.
    fn moe(&self, x: &[f32], t: usize, ffn: &FeedForwardRef) -> (Vec<f32>, Vec<u32>) {
        let FeedForwardRef::Moe { router, experts, inter, top_k } = ffn else { unreachable!("moe() takes a Moe block") };
        let (h, e, k) = (self.dims.hidden, experts.len(), *top_k);
        let logits = self.linear(x, t, h, router, e);
        // The router as the kernels' reference computes it; HF keeps the renormalised weights
        // in f32, so they are rounded there.
        let f32r = |v: f64| v as f32 as f64;
        let topk = fk_baselines::reference::moe::topk_softmax(&logits, e, k, true);
        let ids: Vec<u32> = topk.ids.iter().map(|&i| i as u32).collect();
        let weights: Vec<f64> = topk.weights.iter().map(|&w| f32r(w)).collect();
        let mut out = vec![0f32; t * h];
        for (ex, (w1, w3, w2)) in experts.iter().enumerate() {
            // The rows routed to this expert, in token order (as torch.where yields them).
            let mut rows: Vec<(usize, f64)> = Vec::new();
            for r in 0..t {
                for j in 0..k {
                    if ids[r * k + j] as usize == ex {
                        rows.push((r, weights[r * k + j]));
                    }
                }
            }
            if rows.is_empty() {
                continue;
            }
            let xs: Vec<f32> = rows.iter().flat_map(|&(r, _)| x[r * h..][..h].iter().copied()).collect();
            let y = self.gated_mlp(&xs, rows.len(), w1, w3, w2, *inter);
            for (i, &(r, w)) in rows.iter().enumerate() {
                for c in 0..h {
                    let contrib = round_scalar(f32r(y[i * h + c] as f64 * w), self.dtype);
                    out[r * h + c] = round_scalar(out[r * h + c] as f64 + contrib, self.dtype) as f32;
                }
            }
        }
        (out, ids)
    }

    /// Full forward over `ids` (positions 0..len): what HF computes for one sequence.
    pub fn forward(&self, ids: &[u32]) -> Result<ReferenceOutput> {
        let c = &self.dims;
        let (t, h, hd) = (ids.len(), c.hidden, c.head_dim);
        let (nh, nkv) = (c.heads, c.kv_heads);
        if t > c.max_position_embeddings {
            return Err(Error::bad_input(self.name, format!("{t} tokens exceed max_position_embeddings {}", c.max_position_embeddings)));
        }
        let mut x = Vec::with_capacity(t * h);
        for (pos, &id) in ids.iter().enumerate() {
            if id as usize >= c.vocab {
                return Err(Error::bad_input(self.name, format!("token {pos} has id {id}, vocab_size is {}", c.vocab)));
            }
            x.extend_from_slice(&self.embed[id as usize * h..][..h]);
        }
        let cache = crate::rope::cos_sin_cache(c.rope_theta, hd, &c.rope_scaling, t);
        let positions: Vec<i64> = (0..t as i64).collect();
        let scale = 1.0 / (hd as f64).sqrt();
        let mut layer_outputs = Vec::with_capacity(self.layers.len());
        let mut router_topk = Vec::new();
        for l in &self.layers {
            let hn = self.rms_norm(&x, &l.input_layernorm);
            let q = self.linear(&hn, t, h, &l.q, nh * hd);
            let k = self.linear(&hn, t, h, &l.k, nkv * hd);
            let v = self.linear(&hn, t, h, &l.v, nkv * hd);
            let q = self.round(fk_baselines::reference::rotary_embedding(&positions, &q, nh, hd, &cache, hd, true));
            let k = self.round(fk_baselines::reference::rotary_embedding(&positions, &k, nkv, hd, &cache, hd, true));
            let shape = fk_baselines::reference::AttnShape { heads: nh, kv_heads: nkv, head_dim: hd, scale };
            let attn = self.round(fk_baselines::reference::prefill_attention(&q, &k, &v, &[0, t], &[0, t], &shape, true));
            let o = self.linear(&attn, t, nh * hd, &l.o, h);
            x = self.add(&x, &o);
            let hn = self.rms_norm(&x, &l.post_attention_layernorm);
            let y = match &l.ffn {
                FeedForwardRef::Dense { gate, up, down, inter } => self.gated_mlp(&hn, t, gate, up, down, *inter),
                moe @ FeedForwardRef::Moe { .. } => {
                    let (y, ids) = self.moe(&hn, t, moe);
                    router_topk.push(ids);
                    y
                }
            };
            x = self.add(&x, &y);
            layer_outputs.push(x.clone());
        }
        let final_norm = self.rms_norm(&x, &self.norm);
        let head = self.lm_head.as_deref().unwrap_or(&self.embed);
        let logits = self.linear(&final_norm, t, h, head, c.vocab);
        Ok(ReferenceOutput { tokens: t, layer_outputs, final_norm, logits, router_topk })
    }

    /// Greedy continuation of `prompt` by `n` tokens (argmax, first index on ties, as torch).
    pub fn greedy(&self, prompt: &[u32], n: usize) -> Result<Vec<u32>> {
        let mut ids = prompt.to_vec();
        let v = self.dims.vocab;
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
