//! Encoder GPU trials beyond the per-op cases (harness/encoder.rs): the composed paths —
//! the patch embedding (im2col + cuBLASLt GEMM) against the conv reference; bidirectional
//! attention over a padded batch (unpad → varlen non-causal prefill → pad) against
//! `reference::padded_attention`, including that padding content never reaches a real token;
//! SigLIP's attention-pool probe (one query per image over its real tokens) — and bad input
//! for every encoder op (a named `Err`, never a crash or garbage).

use super::errors::expect_err;
use super::instances::random;
use crate::context::Context;
use crate::ops::{self, DeviceStatus, GeluMode, PackedAttention, PackedAttentionKernel, PaddedAttentionBuffers, Padding, PatchEmbed, Pooling, PosEmbedResize, Rope2d};
use crate::reference::{self, AttnShape, PatchGeometry};
use crate::table::OpTable;
use fk_runtime::compare::{compare, Tolerance};
use fk_runtime::host::round_trip;
use fk_runtime::gpu_test::{gpu_trial, TestTrial};
use fk_runtime::rng::{fresh_seed, Rng};
use fk_runtime::{DType, Device, Error, Tensor};

fn s<T>(r: fk_runtime::Result<T>) -> Result<T, String> {
    r.map_err(|e| e.to_string())
}

/// A trial on fresh random inputs whose seed is printed on failure.
fn seeded(name: String, f: impl FnOnce(&Device, &mut Rng) -> Result<(), String> + Send + 'static) -> TestTrial {
    gpu_trial(name, move |dev| {
        let seed = fresh_seed();
        f(dev, &mut Rng::new(seed)).map_err(|e| format!("{e}\n  [seed {seed}: replay with FASTKERNELS_SEED={seed}]"))
    })
}

pub fn encoder_trials() -> Vec<TestTrial> {
    let mut v = Vec::new();
    // (batch, channels, height, width, patch, hidden): ViT-B/16 at 224; p14 with K = 588 (not
    // a multiple of 8); 1024 wide; SigLIP so400m/14's 27 × 27 patches (378 pixels: the op refuses
    // sizes the patch does not divide, so not 384), hidden 1152; odd everything; p8.
    let pe = [(2, 3, 224, 224, 16, 768), (1, 3, 56, 42, 14, 96), (3, 3, 64, 64, 16, 1024), (1, 3, 378, 378, 14, 1152), (2, 1, 30, 45, 15, 17), (4, 3, 32, 32, 8, 64)];
    // f16/bf16 weights also take f32 pixels (what the image encoders upload): im2col rounds them.
    for dtype in DType::FLOATS {
        let pixel_dtypes: &[DType] = if dtype == DType::F32 { &[DType::F32] } else { &[dtype, DType::F32] };
        for &pixel_dtype in pixel_dtypes {
            for &(b, c, h, w, p, hidden) in &pe {
                let from = if pixel_dtype == dtype { String::new() } else { format!(" from {pixel_dtype} pixels") };
                v.push(seeded(format!("patch_embed/{dtype}/[{b}, {c}, {h}, {w}] p{p} hidden {hidden}{from} im2col + cuBLASLt vs conv reference"), move |dev, rng| {
                    patch_embed_trial(dev, rng, PatchGeometry { batch: b, channels: c, height: h, width: w, patch: p }, hidden, dtype, pixel_dtype)
                }));
            }
        }
    }
    // (batch, seq, heads, kv_heads, head_dim): GQA with odd lengths, BERT-base, head 128, one
    // sequence without padding, SigLIP-like 64 x 64, head 256.
    // SigLIP so400m (16 x 72), ViT-H (16 x 80) and MiniLM (12 x 32) run in zero-padded 128-wide tiles.
    let pa = [(3, 37, 4, 2, 64), (2, 128, 12, 12, 64), (4, 17, 8, 8, 128), (1, 5, 2, 1, 64), (5, 64, 16, 16, 64), (2, 200, 4, 4, 256), (3, 97, 16, 16, 72), (2, 65, 16, 16, 80), (3, 41, 12, 12, 32)];
    for dtype in [DType::F16, DType::BF16] {
        for &(b, seq, h, kv, d) in &pa {
            v.push(seeded(format!("padded_attention/{dtype}/[{b}, {seq}, {h}, {kv}, {d}] unpad + varlen full + pad vs padded reference, padding never leaks"), move |dev, rng| {
                padded_attention_trial(dev, rng, b, seq, AttnShape { heads: h, kv_heads: kv, head_dim: d, scale: 1.0 / (d as f64).sqrt() }, dtype)
            }));
        }
    }
    // PackedAttention (what the encoder models run on packed tokens): self-attention and
    // pooling (one query per sequence), f32 through the per-token paged-decode view (head_dim
    // 64/128/256), f16/bf16 through the varlen prefill kernel. (batch, max_len, heads,
    // kv_heads, head_dim).
    let pk = [(3, 37, 4, 2, 64), (2, 20, 2, 2, 128), (1, 9, 2, 2, 64), (3, 41, 12, 12, 32)];
    for dtype in DType::FLOATS {
        for &(b, seq, h, kv, d) in &pk {
            if PackedAttentionKernel::choose(dtype, d).is_err() {
                continue;
            }
            for pooling in [false, true] {
                let what = if pooling { "pooling (one query per sequence)" } else { "self-attention" };
                v.push(seeded(format!("packed_attention/{dtype}/[{b}, {seq}, {h}, {kv}, {d}] {what} vs varlen reference"), move |dev, rng| {
                    packed_attention_trial(dev, rng, b, seq, AttnShape { heads: h, kv_heads: kv, head_dim: d, scale: 1.0 / (d as f64).sqrt() }, dtype, pooling)
                }));
            }
        }
    }
    // SigLIP's attention-pool head (`SiglipMultiheadAttentionPoolingHead`): one probe query per
    // image over its (unpadded) patch tokens, non-causal. (batch, seq, heads, head_dim):
    // SigLIP-B/16 at 224, heads of 128, a single long image, head 256, so400m/14 at 384 (16 x 72).
    for dtype in [DType::F16, DType::BF16] {
        for &(b, seq, h, d) in &[(4, 196, 12, 64), (3, 256, 16, 128), (1, 1024, 8, 64), (5, 37, 4, 256), (2, 729, 16, 72)] {
            v.push(seeded(format!("attention_pool_probe/{dtype}/[{b}, {seq}, {h}, {d}] one query per image over its real tokens (prefill varlen, full)"), move |dev, rng| {
                probe_attention_trial(dev, rng, b, seq, AttnShape { heads: h, kv_heads: h, head_dim: d, scale: 1.0 / (d as f64).sqrt() }, dtype)
            }));
        }
    }
    v.extend(error_trials());
    v
}

fn probe_attention_trial(dev: &Device, rng: &mut Rng, batch: usize, seq: usize, sh: AttnShape, dtype: DType) -> Result<(), String> {
    let w = sh.heads * sh.head_dim;
    let lens: Vec<usize> = (0..batch).map(|b| if b == 0 { seq } else { rng.range(1, seq as i64 + 1) as usize }).collect();
    let mask: Vec<bool> = (0..batch * seq).map(|t| t % seq < lens[t / seq]).collect();
    let (hq, hk, hv) = (random(rng, batch * w, 0.0, 1.0, dtype), random(rng, batch * seq * w, 0.0, 1.0, dtype), random(rng, batch * seq * w, 0.0, 1.0, dtype));
    let t = OpTable::baseline();
    let padding = s(Padding::from_mask(dev, &mask, batch, seq))?;
    let (k, v) = (s(Tensor::from_f32(dev, &hk, &[batch * seq, w], dtype))?, s(Tensor::from_f32(dev, &hv, &[batch * seq, w], dtype))?);
    let (kp, vp) = (s(Tensor::empty(dev, &[padding.total, w], dtype))?, s(Tensor::empty(dev, &[padding.total, w], dtype))?);
    s(padding.unpad(&t, &k, &kp))?;
    s(padding.unpad(&t, &v, &vp))?;
    let q = s(Tensor::from_f32(dev, &hq, &[batch, w], dtype))?;
    let cu_q: Vec<i32> = (0..=batch as i32).collect();
    let cu_q_t = s(Tensor::from_i32(dev, &cu_q, &[batch + 1]))?;
    let out = s(Tensor::empty(dev, &[batch, w], dtype))?;
    s(out.poison())?;
    let p = ops::PrefillParams { head_dim: sh.head_dim, causal: false, scale: sh.scale as f32, window_left: None, max_seqlen_q: 1 };
    s(ops::prefill_attention(&t, &q, ops::PrefillKv::Contiguous { key: &kp, value: &vp, cu_seqlens_k: &padding.cu_seqlens }, &cu_q_t, &p, &out))?;
    let real = |x: &[f32]| -> Vec<f32> { (0..batch * seq).filter(|&r| mask[r]).flat_map(|r| x[r * w..(r + 1) * w].to_vec()).collect() };
    let cu_k = reference::cu_seqlens_from_mask(&mask, seq);
    let cu_qs: Vec<usize> = (0..=batch).collect();
    let want = reference::prefill_attention(&hq, &real(&hk), &real(&hv), &cu_qs, &cu_k, &sh, false);
    compare(&s(out.to_f32())?, &want, Tolerance::for_dtype(dtype)).check("probe attention vs varlen reference")
}

fn patch_embed_trial(dev: &Device, rng: &mut Rng, g: PatchGeometry, hidden: usize, dtype: DType, pixel_dtype: DType) -> Result<(), String> {
    let k = g.channels * g.patch * g.patch;
    let hp = random(rng, g.batch * g.channels * g.height * g.width, 0.0, 1.0, pixel_dtype);
    let hw = random(rng, hidden * k, 0.0, 1.0 / (k as f32).sqrt(), dtype);
    let hb = random(rng, hidden, 0.0, 0.1, dtype);
    let ctx = s(Context::new(dev, OpTable::baseline()))?;
    let pixels = s(Tensor::from_f32(dev, &hp, &[g.batch, g.channels, g.height, g.width], pixel_dtype))?;
    let w = s(Tensor::from_f32(dev, &hw, &[hidden, g.channels, g.patch, g.patch], dtype))?;
    let b = s(Tensor::from_f32(dev, &hb, &[hidden], dtype))?;
    let pe = s(PatchEmbed::new(&w, Some(b)))?;
    let cols = s(Tensor::empty(dev, &s(pe.cols_shape(&pixels))?, dtype))?;
    let (gh, gw) = s(g.grid())?;
    let out = s(Tensor::empty(dev, &[g.batch * gh * gw, hidden], dtype))?;
    s(out.poison())?;
    s(pe.forward(&ctx, &pixels, &cols, &out))?;
    let got = s(out.to_f32())?;
    // The GEMM sees the pixels rounded to the weight dtype; so does the reference.
    let want = s(reference::patch_embed(&round_trip(&hp, dtype), &g, &hw, Some(&hb)))?;
    compare(&got, &want, Tolerance::for_dtype(dtype)).check("patch embeddings vs conv2d reference")
}

fn padded_attention_trial(dev: &Device, rng: &mut Rng, batch: usize, seq: usize, sh: AttnShape, dtype: DType) -> Result<(), String> {
    let (qw, kw) = (sh.heads * sh.head_dim, sh.kv_heads * sh.head_dim);
    let rows = batch * seq;
    // Sequence 0 is full, the others have random real lengths (right padding).
    let lens: Vec<usize> = (0..batch).map(|b| if b == 0 { seq } else { rng.range(1, seq as i64 + 1) as usize }).collect();
    let mask: Vec<bool> = (0..rows).map(|t| t % seq < lens[t / seq]).collect();
    let (mut hq, mut hk, mut hv) = (random(rng, rows * qw, 0.0, 1.0, dtype), random(rng, rows * kw, 0.0, 1.0, dtype), random(rng, rows * kw, 0.0, 1.0, dtype));
    let padding = s(Padding::from_mask(dev, &mask, batch, seq))?;
    let buf = s(PaddedAttentionBuffers::new(dev, padding.total, sh.heads, sh.kv_heads, sh.head_dim, dtype))?;
    let out = s(Tensor::empty(dev, &[rows, qw], dtype))?;
    let t = OpTable::baseline();
    let run = |hq: &[f32], hk: &[f32], hv: &[f32]| -> Result<Vec<f32>, String> {
        let q = s(Tensor::from_f32(dev, hq, &[rows, qw], dtype))?;
        let k = s(Tensor::from_f32(dev, hk, &[rows, kw], dtype))?;
        let v = s(Tensor::from_f32(dev, hv, &[rows, kw], dtype))?;
        s(out.poison())?;
        s(ops::padded_attention(&t, &q, &k, &v, &padding, sh.head_dim, sh.scale as f32, &buf, &out))?;
        s(out.to_f32())
    };
    let got = run(&hq, &hk, &hv)?;
    let want = reference::padded_attention(&hq, &hk, &hv, &mask, batch, seq, &sh);
    let real: Vec<usize> = (0..rows).filter(|&r| mask[r]).collect();
    let pick32 = |x: &[f32]| -> Vec<f32> { real.iter().flat_map(|&r| x[r * qw..(r + 1) * qw].to_vec()).collect() };
    let pick64: Vec<f64> = real.iter().flat_map(|&r| want[r * qw..(r + 1) * qw].to_vec()).collect();
    compare(&pick32(&got), &pick64, Tolerance::for_dtype(dtype)).check("real rows vs padded_attention reference")?;
    if let Some(r) = (0..rows).find(|&r| !mask[r] && got[r * qw..(r + 1) * qw].iter().any(|&x| x != 0.0)) {
        return Err(format!("padding row {r} (sequence {}, position {}) is not zero", r / seq, r % seq));
    }
    // Garbage in every padding row of q, k and v must not move any real row by a single bit.
    for r in (0..rows).filter(|&r| !mask[r]) {
        hq[r * qw..(r + 1) * qw].iter_mut().for_each(|x| *x = 300.0);
        hk[r * kw..(r + 1) * kw].iter_mut().for_each(|x| *x = 1000.0);
        hv[r * kw..(r + 1) * kw].iter_mut().for_each(|x| *x = -1000.0);
    }
    let again = run(&hq, &hk, &hv)?;
    if let Some(i) = real.iter().flat_map(|&r| r * qw..(r + 1) * qw).find(|&i| got[i].to_bits() != again[i].to_bits()) {
        return Err(format!("padding content changed real output element {i} (row {}): {} -> {}", i / qw, got[i], again[i]));
    }
    Ok(())
}

#[allow(clippy::too_many_arguments)]
fn packed_attention_trial(dev: &Device, rng: &mut Rng, batch: usize, seq: usize, sh: AttnShape, dtype: DType, pooling: bool) -> Result<(), String> {
    let (qw, kw) = (sh.heads * sh.head_dim, sh.kv_heads * sh.head_dim);
    let lens: Vec<usize> = (0..batch).map(|b| if b == 0 { seq } else { rng.range(1, seq as i64 + 1) as usize }).collect();
    let mask: Vec<bool> = (0..batch * seq).map(|t| t % seq < lens[t / seq]).collect();
    let padding = s(Padding::from_mask(dev, &mask, batch, seq))?;
    let t = padding.total;
    let nq = if pooling { batch } else { t };
    let (hq, hk, hv) = (random(rng, nq * qw, 0.0, 1.0, dtype), random(rng, t * kw, 0.0, 1.0, dtype), random(rng, t * kw, 0.0, 1.0, dtype));
    let scale = sh.scale as f32;
    let attn = if pooling {
        s(PackedAttention::pooling(&padding, sh.heads, sh.kv_heads, sh.head_dim, scale, dtype))?
    } else {
        s(PackedAttention::new(&padding, sh.heads, sh.kv_heads, sh.head_dim, scale, dtype))?
    };
    let q = s(Tensor::from_f32(dev, &hq, &[nq, qw], dtype))?;
    // k and v as column views of one fused [t, 2·kw] buffer, as the models pass them.
    let mut kv_host = Vec::with_capacity(t * 2 * kw);
    for r in 0..t {
        kv_host.extend_from_slice(&hk[r * kw..(r + 1) * kw]);
        kv_host.extend_from_slice(&hv[r * kw..(r + 1) * kw]);
    }
    let kv = s(Tensor::from_f32(dev, &kv_host, &[t, 2 * kw], dtype))?;
    let out = s(Tensor::empty(dev, &[nq, qw], dtype))?;
    s(out.poison())?;
    s(attn.forward(&OpTable::baseline(), &padding, &q, &s(kv.narrow(1, 0, kw))?, &s(kv.narrow(1, kw, kw))?, &out))?;
    let mut cu_k = vec![0usize];
    for &l in &lens {
        cu_k.push(cu_k.last().copied().unwrap_or(0) + l);
    }
    let cu_q: Vec<usize> = if pooling { (0..=batch).collect() } else { cu_k.clone() };
    let want = reference::prefill_attention(&hq, &hk, &hv, &cu_q, &cu_k, &sh, false);
    compare(&s(out.to_f32())?, &want, Tolerance::for_dtype(dtype)).check(&format!("{:?} kernel", attn.kernel))
}

fn error_trials() -> Vec<TestTrial> {
    let t = OpTable::baseline;
    let shape = |e: &Error| matches!(e, Error::Shape { .. });
    let dtype = |e: &Error| matches!(e, Error::DType { .. });
    let bad = |e: &Error| matches!(e, Error::BadInput { .. });
    vec![
        gpu_trial("errors/layer_norm: bias shape, residual dtype, hidden too long, NaN eps, int input, shifted out overlap", move |dev| {
            let z = |shape: &[usize], d: DType| s(Tensor::zeros(dev, shape, d));
            let (x, w, out) = (z(&[4, 64], DType::BF16)?, z(&[64], DType::BF16)?, z(&[4, 64], DType::BF16)?);
            ops::layer_norm(&t(), &x, &w, None, 1e-5, &out).map_err(|e| format!("a valid call must pass: {e}"))?;
            ops::layer_norm(&t(), &x, &w, None, 1e-5, &x).map_err(|e| format!("in place must pass: {e}"))?;
            expect_err(ops::layer_norm(&t(), &x, &w, Some(&z(&[63], DType::BF16)?), 1e-5, &out), "bias [63]", shape, "bias")?;
            expect_err(ops::fused_add_layer_norm(&t(), &x, &z(&[4, 64], DType::F16)?, &w, None, 1e-5, &out), "f16 residual", dtype, "residual")?;
            expect_err(ops::fused_add_layer_norm(&t(), &x, &x, &w, None, 1e-5, &out), "residual = input", shape, "overlap")?;
            let big = z(&[1, 40000], DType::BF16)?;
            expect_err(ops::layer_norm(&t(), &big, &z(&[40000], DType::BF16)?, None, 1e-5, &big), "hidden 40000", shape, "hidden 40000")?;
            expect_err(ops::layer_norm(&t(), &x, &w, None, f32::NAN, &out), "NaN eps", bad, "eps")?;
            expect_err(ops::layer_norm(&t(), &z(&[4, 64], DType::I32)?, &w, None, 1e-5, &out), "i32 input", dtype, "i32")?;
            let buf = z(&[5, 64], DType::BF16)?;
            let (a, b) = (s(buf.narrow(0, 0, 4))?, s(buf.narrow(0, 1, 4))?);
            expect_err(ops::layer_norm(&t(), &a, &w, None, 1e-5, &b), "out shifted by a row", shape, "overlap")
        }),
        gpu_trial("errors/gelu: element count, int input, dtype mismatch, shifted overlap", move |dev| {
            let z = |shape: &[usize], d: DType| s(Tensor::zeros(dev, shape, d));
            let x = z(&[4, 64], DType::F16)?;
            ops::gelu(&t(), &x, &x, GeluMode::Tanh).map_err(|e| format!("in place must pass: {e}"))?;
            expect_err(ops::gelu(&t(), &x, &z(&[4, 63], DType::F16)?, GeluMode::Erf), "out [4, 63]", shape, "same number of elements")?;
            expect_err(ops::gelu(&t(), &z(&[8], DType::I32)?, &z(&[8], DType::I32)?, GeluMode::Erf), "i32", dtype, "i32")?;
            expect_err(ops::gelu(&t(), &x, &z(&[4, 64], DType::BF16)?, GeluMode::Quick), "bf16 out", dtype, "out")?;
            let buf = z(&[10], DType::F16)?;
            expect_err(ops::gelu(&t(), &s(buf.narrow(0, 0, 8))?, &s(buf.narrow(0, 2, 8))?, GeluMode::Erf), "shifted", shape, "overlap")?;
            expect_err(GeluMode::from_hidden_act("relu").map(|_| ()), "relu", |e| matches!(e, Error::Config { .. }), "relu")
        }),
        gpu_trial("errors/patch_embed: image not a multiple of the patch, 3-D pixels, wrong out, conv weight, channels", move |dev| {
            let z = |shape: &[usize], d: DType| s(Tensor::zeros(dev, shape, d));
            let px = z(&[1, 3, 30, 32], DType::BF16)?;
            expect_err(ops::patch_embed_im2col(&t(), &px, 16, &z(&[2, 768], DType::BF16)?), "30x32 / 16", bad, "30×32 is not a positive multiple of patch_size 16")?;
            expect_err(ops::patch_embed_im2col(&t(), &z(&[3, 32, 32], DType::BF16)?, 16, &z(&[4, 768], DType::BF16)?), "3-D pixels", shape, "[batch, channels, height, width]")?;
            let ok = z(&[2, 3, 32, 32], DType::BF16)?;
            expect_err(ops::patch_embed_im2col(&t(), &ok, 16, &z(&[8, 700], DType::BF16)?), "out [8, 700]", shape, "[8, 768]")?;
            ops::patch_embed_im2col(&t(), &ok, 16, &z(&[8, 768], DType::BF16)?).map_err(|e| format!("a valid call must pass: {e}"))?;
            expect_err(PatchEmbed::new(&z(&[64, 3, 16], DType::BF16)?, None).map(|_| ()), "3-D weight", shape, "[hidden, channels, p, p]")?;
            expect_err(PatchEmbed::new(&z(&[64, 3, 16, 14], DType::BF16)?, None).map(|_| ()), "non-square", shape, "[hidden, channels, p, p]")?;
            let pe = s(PatchEmbed::new(&z(&[64, 4, 16, 16], DType::BF16)?, None))?;
            let ctx = s(Context::new(dev, OpTable::baseline()))?;
            expect_err(pe.forward(&ctx, &ok, &z(&[8, 1024], DType::BF16)?, &z(&[8, 64], DType::BF16)?), "3 vs 4 channels", shape, "channels")?;
            expect_err(ops::patch_embed_im2col(&t(), &z(&[1, 3, 32, 32], DType::I32)?, 16, &z(&[4, 768], DType::I32)?), "i32 pixels", dtype, "i32")?;
            expect_err(ops::patch_embed_im2col(&t(), &ok, 16, &z(&[8, 768], DType::I32)?), "i32 out", dtype, "out")?;
            let pe = s(PatchEmbed::new(&z(&[64, 3, 16, 16], DType::BF16)?, None))?;
            expect_err(pe.forward(&ctx, &ok, &z(&[8, 768], DType::F32)?, &z(&[8, 64], DType::BF16)?), "f32 cols for a bf16 weight", dtype, "cols")
        }),
        gpu_trial("errors/rope_2d: tokens not whole images, f16 cache, cache width, key rows, odd head_dim", move |dev| {
            let z = |shape: &[usize], d: DType| s(Tensor::zeros(dev, shape, d));
            let cache = s(ops::rope_2d_cache(dev, 2, 2, 16, 100.0))?; // 4 patches
            let r = Rope2d { head_dim: 16, prefix: 1, cos_sin_cache: &cache };
            let q = z(&[10, 32], DType::BF16)?; // 2 images of 1 + 4 tokens
            ops::rope_2d(&t(), &r, &q, Some(&z(&[10, 16], DType::BF16)?)).map_err(|e| format!("a valid call must pass: {e}"))?;
            expect_err(ops::rope_2d(&t(), &r, &z(&[9, 32], DType::BF16)?, None), "9 tokens", shape, "batch·5")?;
            expect_err(ops::rope_2d(&t(), &r, &q, Some(&z(&[8, 16], DType::BF16)?)), "key 8 rows", shape, "key")?;
            let c16 = z(&[4, 16], DType::F16)?;
            expect_err(ops::rope_2d(&t(), &Rope2d { cos_sin_cache: &c16, ..r }, &q, None), "f16 cache", dtype, "cos_sin_cache")?;
            expect_err(ops::rope_2d(&t(), &Rope2d { head_dim: 8, ..r }, &q, None), "cache width 16 vs head_dim 8", dtype, "cos_sin_cache")?;
            expect_err(ops::rope_2d_cache(dev, 2, 2, 14, 100.0).map(|_| ()), "head_dim 14", shape, "multiple of 4")
        }),
        gpu_trial("errors/interpolate_pos_embed: grid size, channels, empty grid", move |dev| {
            let z = |shape: &[usize], d: DType| s(Tensor::zeros(dev, shape, d));
            let x = z(&[196, 32], DType::BF16)?;
            ops::interpolate_pos_embed(&t(), &x, (14, 14), &z(&[1, 256, 32], DType::BF16)?, (16, 16), PosEmbedResize::Bicubic).map_err(|e| format!("a valid call must pass: {e}"))?;
            expect_err(ops::interpolate_pos_embed(&t(), &x, (14, 15), &z(&[256, 32], DType::BF16)?, (16, 16), PosEmbedResize::Bicubic), "14x15 grid for 196 rows", shape, "14×15")?;
            expect_err(ops::interpolate_pos_embed(&t(), &x, (14, 14), &z(&[256, 31], DType::BF16)?, (16, 16), PosEmbedResize::BilinearAntialias), "31 channels", shape, "channels")?;
            expect_err(ops::interpolate_pos_embed(&t(), &x, (14, 14), &z(&[256, 32], DType::BF16)?, (0, 16), PosEmbedResize::Bicubic), "empty grid", shape, "non-empty")
        }),
        gpu_trial("errors/pool: mask dtype and shape, 2-D input, out shape, hidden limit", move |dev| {
            let z = |shape: &[usize], d: DType| s(Tensor::zeros(dev, shape, d));
            let (x, out) = (z(&[2, 5, 64], DType::BF16)?, z(&[2, 64], DType::BF16)?);
            ops::pool(&t(), &x, Some(&z(&[2, 5], DType::I64)?), Pooling::Mean, true, &out).map_err(|e| format!("a valid call must pass: {e}"))?;
            expect_err(ops::pool(&t(), &x, Some(&z(&[2, 5], DType::F32)?), Pooling::Mean, false, &out), "f32 mask", dtype, "mask")?;
            expect_err(ops::pool(&t(), &x, Some(&z(&[2, 4], DType::I32)?), Pooling::Mean, false, &out), "mask [2, 4]", shape, "mask")?;
            expect_err(ops::pool(&t(), &z(&[10, 64], DType::BF16)?, None, Pooling::Cls, false, &out), "2-D input", shape, "[batch, seq, hidden]")?;
            expect_err(ops::pool(&t(), &x, None, Pooling::Cls, false, &z(&[3, 64], DType::BF16)?), "out [3, 64]", shape, "out")?;
            expect_err(ops::pool(&t(), &z(&[1, 1, 20000], DType::BF16)?, None, Pooling::Mean, true, &z(&[1, 20000], DType::BF16)?), "hidden 20000", shape, "hidden 20000")
        }),
        gpu_trial("errors/gather_rows + padding: index past the input is reported, i64 index, width, all-padding sequence, head_dim 96, f32 attention", move |dev| {
            let z = |shape: &[usize], d: DType| s(Tensor::zeros(dev, shape, d));
            let x = s(Tensor::from_f32(dev, &[1.0; 12], &[4, 3], DType::F16))?;
            let out = z(&[3, 3], DType::F16)?;
            let status = s(DeviceStatus::new(dev))?;
            let idx = s(Tensor::from_i32(dev, &[0, 4, -1], &[3]))?;
            s(ops::gather_rows(&t(), &x, &idx, &out, Some(&status)))?;
            expect_err(status.check("gather_rows", |r| format!("row {r} has an index past the input")), "index 4 of 4 rows", bad, "row 1")?;
            if s(out.to_f32())? != [1.0, 1.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0] {
                return Err("the bad-index and padding rows must be zeros, the good row copied".into());
            }
            expect_err(ops::gather_rows(&t(), &x, &s(Tensor::from_i64(dev, &[0, 1, 2], &[3]))?, &out, None), "i64 index", dtype, "index")?;
            expect_err(ops::gather_rows(&t(), &x, &idx, &z(&[3, 4], DType::F16)?, None), "width 4 vs 3", shape, "width")?;
            expect_err(Padding::from_mask(dev, &[true, false, false, false], 2, 2).map(|_| ()), "sequence 1 all padding", bad, "sequence 1 has no real token")?;
            // A head_dim the prefill kernels do not take is named before anything is enqueued.
            let pad = s(Padding::from_mask(dev, &[true, true, true, false], 2, 2))?;
            let buf = s(PaddedAttentionBuffers::new(dev, 3, 2, 2, 96, DType::BF16))?;
            let q = z(&[4, 192], DType::BF16)?;
            expect_err(ops::padded_attention(&t(), &q, &q, &q, &pad, 96, 0.1, &buf, &z(&[4, 192], DType::BF16)?), "head_dim 96", shape, "head_dim 96")?;
            let buf32 = s(PaddedAttentionBuffers::new(dev, 3, 2, 2, 64, DType::F32))?;
            let q32 = z(&[4, 128], DType::F32)?;
            expect_err(ops::padded_attention(&t(), &q32, &q32, &q32, &pad, 64, 0.1, &buf32, &z(&[4, 128], DType::F32)?), "f32", dtype, "f16 and bf16")
        }),
    ]
}
