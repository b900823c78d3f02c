//! Device instances of the encoder cases ([`super::encoder::EncoderCase`]). Every op fits one
//! shape: inputs uploaded once and restored before each run (several ops work in place),
//! outputs poisoned, a closure that enqueues the op, and a lazily computed CPU reference.

use super::encoder::{EncoderCase, MaskKind};
use super::instances::{random, upload, Checked};
use super::Workload;
use crate::ops::{self, GeluMode, Pooling, PosEmbedResize, Rope2d};
use crate::reference;
use crate::table::OpTable;
use fk_runtime::compare::{compare, Tolerance};
use fk_runtime::host::round_trip;
use fk_runtime::rng::Rng;
use fk_runtime::{DType, Device, Result, Tensor};

type RunFn = Box<dyn FnMut(&OpTable) -> Result<()>>;
type RefFn = Box<dyn FnOnce() -> Vec<Vec<f64>>>;

pub(super) struct EncInst {
    tol: Tolerance,
    /// (pristine copy, live buffer): copied back before every run.
    restore: Vec<(Tensor, Tensor)>,
    /// Poisoned before every run (outputs that are not also inputs).
    poison: Vec<Tensor>,
    /// Read back and compared, in the reference's order.
    outputs: Vec<Tensor>,
    run: RunFn,
    make_ref: Option<RefFn>,
    reference: Option<Vec<Vec<f64>>>,
    bytes: u64,
}

impl Workload for EncInst {
    fn prepare(&mut self) -> Result<()> {
        for (src, dst) in &self.restore {
            dst.copy_from(src)?;
        }
        self.poison.iter().try_for_each(Tensor::poison)
    }
    fn run(&mut self, table: &OpTable) -> Result<()> {
        (self.run)(table)
    }
    fn check(&mut self) -> std::result::Result<(), String> {
        let outs = self.outputs().map_err(|e| e.to_string())?;
        let tol = self.tol;
        for (i, (o, r)) in outs.iter().zip(self.reference()).enumerate() {
            compare(o, r, tol).check(&format!("output {i}"))?;
        }
        Ok(())
    }
    fn bytes(&self) -> u64 {
        self.bytes
    }
}

impl Checked for EncInst {
    fn outputs(&self) -> Result<Vec<Vec<f32>>> {
        self.outputs.iter().map(Tensor::to_f32).collect()
    }
    fn tolerance(&self) -> Tolerance {
        self.tol
    }
    fn reference(&mut self) -> &[Vec<f64>] {
        if self.reference.is_none() {
            let f = self.make_ref.take().expect("reference closure is consumed once");
            self.reference = Some(f());
        }
        self.reference.as_deref().unwrap_or(&[])
    }
}

const EXACT: Tolerance = Tolerance { atol: 0.0, rtol: 0.0, max_rel_l2: 0.0 };

fn inst(tol: Tolerance, restore: Vec<(Tensor, Tensor)>, poison: Vec<Tensor>, outputs: Vec<Tensor>, bytes: usize, run: RunFn, make_ref: RefFn) -> Box<dyn Checked> {
    Box::new(EncInst { tol, restore, poison, outputs, run, make_ref: Some(make_ref), reference: None, bytes: bytes as u64 })
}

/// A live buffer holding `v` and its pristine copy (for ops that write their input).
fn restorable(dev: &Device, v: &[f32], shape: &[usize], dtype: DType) -> Result<(Tensor, Tensor)> {
    let src = upload(dev, v, shape, dtype)?;
    Ok((src.duplicate()?, src))
}

fn to64(v: &[f32]) -> Vec<f64> {
    v.iter().map(|&x| x as f64).collect()
}

pub(super) fn instantiate_encoder(dev: &Device, dtype: DType, c: &EncoderCase, rng: &mut Rng) -> Result<Box<dyn Checked>> {
    let es = dtype.size();
    let tol = Tolerance::for_dtype(dtype);
    Ok(match *c {
        EncoderCase::LayerNorm { rows, hidden, bias, fused, pad, in_place } => {
            let width = hidden + pad;
            let hx = random(rng, rows * width, 3.0, 2.0, dtype);
            let hr = if fused { random(rng, rows * hidden, 0.0, 2.0, dtype) } else { Vec::new() };
            let hw = random(rng, hidden, 1.0, 0.1, dtype);
            let hb = if bias { Some(random(rng, hidden, 0.0, 0.1, dtype)) } else { None };
            let (x_src, x_full) = restorable(dev, &hx, &[rows, width], dtype)?;
            let x = x_full.narrow(1, 0, hidden)?;
            let out_full = if in_place { x_full.clone() } else { Tensor::empty(dev, &[rows, width], dtype)? };
            let out = out_full.narrow(1, 0, hidden)?;
            let w = upload(dev, &hw, &[hidden], dtype)?;
            let b = hb.as_ref().map(|b| upload(dev, b, &[hidden], dtype)).transpose()?;
            let mut restore = vec![(x_src, x_full)];
            let mut outputs = vec![out.clone()];
            let res = if fused {
                let (r_src, r) = restorable(dev, &hr, &[rows, hidden], dtype)?;
                restore.push((r_src, r.clone()));
                outputs.push(r.clone());
                Some(r)
            } else {
                None
            };
            let poison = if in_place { vec![] } else { vec![out_full] };
            let bytes = rows * hidden * es * if fused { 4 } else { 2 } + hidden * es * 2;
            let (o, eps) = (out, 1e-6f32);
            let run: RunFn = Box::new(move |t| match &res {
                Some(r) => ops::fused_add_layer_norm(t, &x, r, &w, b.as_ref(), eps, &o),
                None => ops::layer_norm(t, &x, &w, b.as_ref(), eps, &o),
            });
            inst(tol, restore, poison, outputs, bytes, run, Box::new(move || {
                // The kernel normalises the residual sum as rounded to the dtype.
                let xs: Vec<f32> = (0..rows * hidden).map(|i| hx[(i / hidden) * width + i % hidden]).collect();
                let s = if fused { round_trip(&xs.iter().zip(&hr).map(|(a, b)| a + b).collect::<Vec<_>>(), dtype) } else { xs };
                let mut refs = vec![reference::layer_norm(&s, &hw, hb.as_deref(), eps)];
                if fused {
                    refs.push(to64(&s));
                }
                refs
            }))
        }
        EncoderCase::Gelu { n, mode, offset, in_place } => {
            let hx = random(rng, n + offset, 0.0, 3.0, dtype);
            let (x_src, x_full) = restorable(dev, &hx, &[n + offset], dtype)?;
            let x = x_full.narrow(0, offset, n)?;
            let out_full = if in_place { x_full.clone() } else { Tensor::empty(dev, &[n + offset], dtype)? };
            let out = out_full.narrow(0, offset, n)?;
            let poison = if in_place { vec![] } else { vec![out_full] };
            let o = out.clone();
            let run: RunFn = Box::new(move |t| ops::gelu(t, &x, &o, mode));
            inst(tol, vec![(x_src, x_full)], poison, vec![out], 2 * n * es, run, Box::new(move || {
                let xs = &hx[offset..];
                vec![match mode {
                    GeluMode::Erf => reference::gelu(xs),
                    GeluMode::Tanh => reference::gelu_tanh(xs),
                    GeluMode::Quick => reference::quick_gelu(xs),
                }]
            }))
        }
        EncoderCase::Im2col { batch, channels, height, width, patch, f32_pixels } => {
            let g = reference::PatchGeometry { batch, channels, height, width, patch };
            let (gh, gw) = g.grid()?;
            let pixel_dtype = if f32_pixels { DType::F32 } else { dtype };
            let hp = random(rng, batch * channels * height * width, 0.0, 1.0, pixel_dtype);
            let pixels = upload(dev, &hp, &[batch, channels, height, width], pixel_dtype)?;
            let out = Tensor::empty(dev, &[batch * gh * gw, channels * patch * patch], dtype)?;
            let o = out.clone();
            let run: RunFn = Box::new(move |t| ops::patch_embed_im2col(t, &pixels, patch, &o));
            // A copy, each value rounded once to the dtype (round to nearest even on both
            // sides): exact.
            let bytes = hp.len() * (pixel_dtype.size() + es);
            inst(EXACT, vec![], vec![out.clone()], vec![out], bytes, run, Box::new(move || {
                vec![to64(&round_trip(&reference::im2col_patches(&hp, &g).expect("geometry checked above"), dtype))]
            }))
        }
        EncoderCase::Rope2d { batch, grid_h, grid_w, prefix, heads, kv_heads, head_dim, fused_qkv } => {
            let seq = prefix + grid_h * grid_w;
            let tokens = batch * seq;
            let (qw, kw) = (heads * head_dim, kv_heads * head_dim);
            let width = if fused_qkv { qw + 2 * kw } else { qw + kw };
            // One buffer either way: [q | k (| v)] columns; separate q/k are its two blocks
            // copied out, so the same host data serves both layouts.
            let h = random(rng, tokens * width, 0.0, 1.0, dtype);
            let col = |lo: usize, n: usize| -> Vec<f32> { (0..tokens).flat_map(|t| h[t * width + lo..t * width + lo + n].to_vec()).collect() };
            let (hq, hk, hv) = (col(0, qw), col(qw, kw), if fused_qkv { col(qw + kw, kw) } else { Vec::new() });
            let cache = ops::rope_2d_cache(dev, grid_h, grid_w, head_dim, 100.0)?;
            let mut restore = Vec::new();
            let (q, k, v) = if fused_qkv {
                let (src, buf) = restorable(dev, &h, &[tokens, width], dtype)?;
                restore.push((src, buf.clone()));
                (buf.narrow(1, 0, qw)?, buf.narrow(1, qw, kw)?, Some(buf.narrow(1, qw + kw, kw)?))
            } else {
                let (qs, q) = restorable(dev, &hq, &[tokens, qw], dtype)?;
                let (ks, k) = restorable(dev, &hk, &[tokens, kw], dtype)?;
                restore.extend([(qs, q.clone()), (ks, k.clone())]);
                (q, k, None)
            };
            let mut outputs = vec![q.clone(), k.clone()];
            outputs.extend(v);
            let run: RunFn = Box::new(move |t| ops::rope_2d(t, &Rope2d { head_dim, prefix, cos_sin_cache: &cache }, &q, Some(&k)));
            let bytes = 2 * tokens * (qw + kw) * es;
            inst(tol, restore, vec![], outputs, bytes, run, Box::new(move || {
                let hc = reference::dinov3_rope_cache(grid_h, grid_w, head_dim, 100.0);
                let per_image = |x: &[f32], nh: usize| -> Vec<f64> {
                    let w = nh * head_dim;
                    x.chunks_exact(seq * w).flat_map(|img| reference::rope_2d(img, nh, head_dim, prefix, &hc)).collect()
                };
                let mut refs = vec![per_image(&hq, heads), per_image(&hk, kv_heads)];
                if fused_qkv {
                    refs.push(to64(&hv)); // v must be untouched
                }
                refs
            }))
        }
        EncoderCase::Interp { channels, in_h, in_w, out_h, out_w, mode } => {
            let hx = random(rng, in_h * in_w * channels, 0.0, 1.0, dtype);
            let input = upload(dev, &hx, &[in_h * in_w, channels], dtype)?;
            let out = Tensor::empty(dev, &[out_h * out_w, channels], dtype)?;
            let o = out.clone();
            let run: RunFn = Box::new(move |t| ops::interpolate_pos_embed(t, &input, (in_h, in_w), &o, (out_h, out_w), mode));
            let bytes = (in_h * in_w + out_h * out_w) * channels * es;
            inst(tol, vec![], vec![out.clone()], vec![out], bytes, run, Box::new(move || {
                // The reference works on [channels, h, w] (the NCHW view HF interpolates).
                let chw: Vec<f32> = (0..channels * in_h * in_w).map(|i| hx[(i % (in_h * in_w)) * channels + i / (in_h * in_w)]).collect();
                let r = match mode {
                    PosEmbedResize::Bicubic => reference::bicubic_resize(&chw, channels, (in_h, in_w), (out_h, out_w)),
                    PosEmbedResize::BilinearAntialias => reference::bilinear_antialias_resize(&chw, channels, (in_h, in_w), (out_h, out_w)),
                };
                let n = out_h * out_w;
                vec![(0..n * channels).map(|i| r[(i % channels) * n + i / channels]).collect()]
            }))
        }
        EncoderCase::Pool { batch, seq, hidden, mode, normalize, mask } => {
            let hx = random(rng, batch * seq * hidden, 0.5, 1.0, dtype);
            // Sequence 0 is full; with 3+ sequences, sequence 1 is all padding (mean 0);
            // the others have random real lengths (right padding, as tokenizers pad).
            let lens: Vec<usize> = (0..batch)
                .map(|b| match b {
                    0 => seq,
                    1 if batch > 2 && mask != MaskKind::None => 0,
                    _ if mask == MaskKind::None => seq,
                    _ => rng.range(1, seq as i64 + 1) as usize,
                })
                .collect();
            let hm: Vec<bool> = (0..batch * seq).map(|i| i % seq < lens[i / seq]).collect();
            let input = upload(dev, &hx, &[batch, seq, hidden], dtype)?;
            let m = match mask {
                MaskKind::None => None,
                MaskKind::I32 => Some(Tensor::from_i32(dev, &hm.iter().map(|&b| b as i32).collect::<Vec<_>>(), &[batch, seq])?),
                MaskKind::I64 => Some(Tensor::from_i64(dev, &hm.iter().map(|&b| b as i64).collect::<Vec<_>>(), &[batch, seq])?),
            };
            let out = Tensor::empty(dev, &[batch, hidden], dtype)?;
            let o = out.clone();
            let run: RunFn = Box::new(move |t| ops::pool(t, &input, m.as_ref(), mode, normalize, &o));
            let read = if mode == Pooling::Cls { batch * hidden } else { hm.iter().filter(|&&b| b).count() * hidden };
            inst(tol, vec![], vec![out.clone()], vec![out], (read + batch * hidden) * es, run, Box::new(move || {
                let p = match mode {
                    Pooling::Mean => reference::mean_pool(&hx, &hm, batch, seq, hidden),
                    Pooling::Cls => reference::cls_pool(&hx, batch, seq, hidden),
                };
                vec![if normalize { reference::l2_normalize(&p, hidden) } else { p }]
            }))
        }
        EncoderCase::GatherRows { in_rows, rows, cols } => {
            let hx = random(rng, in_rows * cols, 0.0, 1.0, dtype);
            let idx: Vec<i32> = (0..rows).map(|_| if rng.uniform() < 0.25 { -1 } else { rng.range(0, in_rows as i64) as i32 }).collect();
            let input = upload(dev, &hx, &[in_rows, cols], dtype)?;
            let index = Tensor::from_i32(dev, &idx, &[rows])?;
            let out = Tensor::empty(dev, &[rows, cols], dtype)?;
            let o = out.clone();
            let run: RunFn = Box::new(move |t| ops::gather_rows(t, &input, &index, &o, None));
            inst(EXACT, vec![], vec![out.clone()], vec![out], 2 * rows * cols * es, run, Box::new(move || {
                vec![idx.iter().flat_map(|&i| if i < 0 { vec![0.0; cols] } else { to64(&hx[i as usize * cols..][..cols]) }).collect()]
            }))
        }
    })
}
