//! `skinny_gemm`'s fused forms (`ops::linear_fused`): the input RMSNorm against the CPU
//! reference of `rms_norm` then `F.linear` (rounded where the two ops round), with and without
//! the conv epilogue; the residual accumulate bit for bit against the GEMV's own product plus
//! the rounded add; and the errors of inputs the fused forms do not take.

use super::instances::random;
use super::ssm_trials::{e, f64s, with_seed, R};
use crate::context::Context;
use crate::ops::{self, CausalConv1d, ConvStep, InputNorm, SkinnyFusion, WeightSource};
use crate::reference;
use crate::table::OpTable;
use fk_runtime::compare::{compare, Tolerance};
use fk_runtime::gpu_test::{gpu_trial, TestTrial};
use fk_runtime::host::round_scalar;
use fk_runtime::linear::{linear_reference, Linear};
use fk_runtime::rng::Rng;
use fk_runtime::{DType, Device, Tensor};

const EPS: f32 = 1e-5;

/// One trial's shape: `rows` of `k` into `n` features; `conv`: (begin, dim) of a conv epilogue.
#[derive(Clone, Copy, Debug)]
struct Shape {
    rows: usize,
    n: usize,
    k: usize,
    bias: bool,
    conv: Option<(usize, usize)>,
}

struct Inputs {
    hx: Vec<f32>,
    x: Tensor,
    lin: Linear,
    hw: Vec<f32>,
    hb: Option<Vec<f32>>,
}

fn inputs(dev: &Device, dtype: DType, s: Shape, x_scale: f32, rng: &mut Rng) -> R<Inputs> {
    let upload = |v: &[f32], shape: &[usize]| e(Tensor::from_f32(dev, v, shape, dtype));
    // x of a residual stream's scale (not unit: the norm must really rescale it).
    let hx = random(rng, s.rows * s.k, 0.0, x_scale, dtype);
    let hw = random(rng, s.n * s.k, 0.0, 1.0 / (s.k as f32).sqrt(), dtype);
    let hb = s.bias.then(|| random(rng, s.n, 0.0, 0.5, dtype));
    let w = upload(&hw, &[s.n, s.k])?;
    let b = hb.as_ref().map(|b| upload(b, &[s.n])).transpose()?;
    Ok(Inputs { x: upload(&hx, &[s.rows, s.k])?, hx, lin: e(Linear::new(w, b))?, hw, hb })
}

/// The GEMV on `rms_norm(x)` (through `skinny_gemm_fused`, or the conv form) against the CPU:
/// the normalised rows rounded to the dtype as the `rms_norm` op stores them, then `F.linear`.
fn input_norm(dev: &Device, dtype: DType, s: Shape) -> R<()> {
    with_seed("skinny_gemm input norm", |rng| {
        let ctx = e(Context::new(dev, OpTable::baseline()))?;
        let inp = inputs(dev, dtype, s, 3.0, rng)?;
        let hg = random(rng, s.k, 1.0, 0.2, dtype);
        let g = e(Tensor::from_f32(dev, &hg, &[s.k], dtype))?;
        let norm = InputNorm { weight: &g, eps: EPS };
        let out = e(Tensor::empty(dev, &[s.rows, s.n], dtype))?;
        e(out.poison())?;
        let xn: Vec<f32> = reference::rms_norm(&inp.hx, &hg, EPS, dtype).iter().map(|&v| round_scalar(v, dtype) as f32).collect();
        let want = linear_reference(&xn, s.rows, s.k, &inp.hw, s.n, inp.hb.as_deref());
        let tol = Tolerance::for_dtype(dtype);
        match s.conv {
            None => {
                let fusion = SkinnyFusion { input_norm: Some(norm), accumulate: false };
                e(ops::skinny_gemm_fused(&ctx.ops, &inp.x, &inp.lin.weight, inp.lin.bias.as_ref(), &out, WeightSource::Parameter, &fusion))?;
            }
            Some((begin, dim)) => {
                // The fused conv form against the same conv step on the reference's in_proj
                // output (rounded as the GEMV stores it), run by the separate GPU op.
                let cw = e(Tensor::from_f32(dev, &random(rng, dim * 4, 0.0, 0.5, dtype), &[dim, 4], dtype))?;
                let conv = CausalConv1d { weight: &cw, bias: None, silu: true };
                let hstate = random(rng, s.rows * dim * 3, 0.0, 1.0, dtype);
                let (state, state_ref) = (e(Tensor::from_f32(dev, &hstate, &[s.rows, dim, 3], dtype))?, e(Tensor::from_f32(dev, &hstate, &[s.rows, dim, 3], dtype))?);
                let (conv_out, conv_ref) = (e(Tensor::empty(dev, &[s.rows, dim], dtype))?, e(Tensor::empty(dev, &[s.rows, dim], dtype))?);
                e(conv_out.poison())?;
                let step = ConvStep { conv: &conv, begin, state: &state, slots: None, conv_out: &conv_out, streamed: false };
                e(ops::rms_norm_linear_conv1d_update(&ctx, &inp.x, norm, &inp.lin, &out, &step))?;
                let got_out = e(out.to_f32())?;
                let conv_in: Vec<f32> = (0..s.rows).flat_map(|r| got_out[r * s.n + begin..r * s.n + begin + dim].to_vec()).collect();
                let conv_in = e(Tensor::from_f32(dev, &conv_in, &[s.rows, dim], dtype))?;
                e(ops::causal_conv1d_update(&ctx.ops, &conv, &conv_in, &state_ref, &conv_ref))?;
                for (what, got, want) in [("conv_out", &conv_out, &conv_ref), ("conv state", &state, &state_ref)] {
                    let (g, w) = (e(got.to_f32())?, e(want.to_f32())?);
                    compare(&g, &f64s(&w), Tolerance { atol: 0.0, rtol: 0.0, max_rel_l2: 0.0 }).check(&format!("{what}: epilogue vs causal_conv1d_update on the same in_proj output"))?;
                }
            }
        }
        let got = e(out.to_f32())?;
        if got.iter().any(|v| v.is_nan()) {
            return Err("NaN in out".into());
        }
        compare(&got, &want, tol).check("rms_norm(x) · Wᵀ vs the reference")
    })
}

/// `out += x · Wᵀ` against the same GEMV without the flag, then the rounded add on the host:
/// bit for bit (the same kernel, the same product; the add is one rounding of an exact sum).
fn accumulate(dev: &Device, dtype: DType, s: Shape) -> R<()> {
    with_seed("skinny_gemm accumulate", |rng| {
        let ctx = e(Context::new(dev, OpTable::baseline()))?;
        let inp = inputs(dev, dtype, s, 1.0, rng)?;
        let hr = random(rng, s.rows * s.n, 0.0, 4.0, dtype);
        let residual = e(Tensor::from_f32(dev, &hr, &[s.rows, s.n], dtype))?;
        let product = e(Tensor::empty(dev, &[s.rows, s.n], dtype))?;
        e(product.poison())?;
        let (b, src) = (inp.lin.bias.as_ref(), WeightSource::Parameter);
        e(ops::skinny_gemm_with(&ctx.ops, &inp.x, &inp.lin.weight, b, &product, src))?;
        let fusion = SkinnyFusion { input_norm: None, accumulate: true };
        e(ops::skinny_gemm_fused(&ctx.ops, &inp.x, &inp.lin.weight, b, &residual, src, &fusion))?;
        let p = e(product.to_f32())?;
        let want: Vec<f64> = p.iter().zip(&hr).map(|(&a, &r)| round_scalar(a as f64 + r as f64, dtype)).collect();
        let got = e(residual.to_f32())?;
        if got.iter().any(|v| v.is_nan()) {
            return Err("NaN in out".into());
        }
        compare(&got, &want, Tolerance { atol: 0.0, rtol: 0.0, max_rel_l2: 0.0 }).check("out + x · Wᵀ vs the product plus the rounded add")?;
        // And the product itself against F.linear (the flag must not change what is added).
        let want_p = linear_reference(&inp.hx, s.rows, s.k, &inp.hw, s.n, inp.hb.as_deref());
        compare(&p, &want_p, Tolerance::for_dtype(dtype)).check("x · Wᵀ vs the reference")
    })
}

/// What the fused forms refuse, with the error naming the problem (no launch).
fn refusals(dev: &Device) -> R<()> {
    let ctx = e(Context::new(dev, OpTable::baseline()))?;
    let dt = DType::BF16;
    let z = |shape: &[usize]| e(Tensor::zeros(dev, shape, dt));
    let lin = e(Linear::new(z(&[64, 4096])?, None))?;
    let expect = |what: &str, r: fk_runtime::Result<()>, needle: &str| -> R<()> {
        match r {
            Ok(()) => Err(format!("{what}: accepted")),
            Err(err) if err.to_string().contains(needle) => Ok(()),
            Err(err) => Err(format!("{what}: error `{err}` does not mention `{needle}`")),
        }
    };
    let (g, short) = (z(&[4096])?, z(&[4000])?);
    let x1 = z(&[1, 4096])?;
    let out1 = z(&[1, 64])?;
    expect("norm weight of the wrong length", ops::rms_norm_linear(&ctx, &x1, InputNorm { weight: &short, eps: EPS }, &lin, &out1), "norm weight")?;
    expect("negative eps", ops::rms_norm_linear(&ctx, &x1, InputNorm { weight: &g, eps: -1.0 }, &lin, &out1), "eps")?;
    let g32 = e(Tensor::zeros(dev, &[4096], DType::F32))?;
    expect("norm weight of another dtype", ops::rms_norm_linear(&ctx, &x1, InputNorm { weight: &g32, eps: EPS }, &lin, &out1), "norm weight")?;
    // Two rows take cuBLASLt in `linear`: the fused forms refuse them rather than fall back.
    let (x2, out2) = (z(&[2, 4096])?, z(&[2, 64])?);
    expect("two rows (the GEMM path)", ops::rms_norm_linear(&ctx, &x2, InputNorm { weight: &g, eps: EPS }, &lin, &out2), "one-row GEMV")?;
    expect("two rows accumulated", ops::linear_accumulate(&ctx, &x2, &lin, &out2), "one-row GEMV")?;
    // Four rows of 8192 bf16 to normalise are 64 KB: more than the kernel's shared memory;
    // and more rows than the prologue serves.
    let lin8k = e(Linear::new(z(&[64, 8192])?, None))?;
    let (g8k, x4, out4) = (z(&[8192])?, z(&[4, 8192])?, z(&[4, 64])?);
    let fusion = SkinnyFusion { input_norm: Some(InputNorm { weight: &g8k, eps: EPS }), accumulate: false };
    expect("rows beyond the shared memory", ops::skinny_gemm_fused(&ctx.ops, &x4, &lin8k.weight, None, &out4, WeightSource::Parameter, &fusion), "at most")?;
    let (x8, out8) = (z(&[8, 4096])?, z(&[8, 64])?);
    let fusion = SkinnyFusion { input_norm: Some(InputNorm { weight: &g, eps: EPS }), accumulate: false };
    expect("eight rows", ops::skinny_gemm_fused(&ctx.ops, &x8, &lin.weight, None, &out8, WeightSource::Parameter, &fusion), "at most")
}

pub(super) fn linear_fused_trials() -> Vec<TestTrial> {
    let base = Shape { rows: 1, n: 96, k: 256, bias: false, conv: None };
    let norm_shapes = [
        // Mamba-1's in_proj (k 2560: 2.5 rounds of loads per warp), with a bias.
        Shape { n: 1024, k: 2560, bias: true, ..base },
        // Two rows (M = 2) and n not a multiple of a CTA's 4 rows: idle warps reach the
        // prologue's barriers.
        Shape { rows: 2, n: 301, k: 512, ..base },
        // Few features, long rows: rows split over a CTA's warps.
        Shape { n: 96, k: 4096, ..base },
        // The lm_head form: many features, one row.
        Shape { n: 5003, k: 1024, ..base },
        // With the conv epilogue on columns 256..768 (Mamba-1's decode in_proj).
        Shape { n: 1024, k: 2560, conv: Some((256, 512)), ..base },
    ];
    let acc_shapes = [
        // Mamba-1's out_proj (k 5120: split rows), and small and multi-row forms.
        Shape { n: 2560, k: 5120, ..base },
        Shape { n: 96, k: 256, bias: true, ..base },
        Shape { rows: 3, n: 130, k: 512, ..base },
    ];
    let mut v = Vec::new();
    for dtype in DType::FLOATS {
        for s in norm_shapes {
            let conv = s.conv.map_or(String::new(), |(b, d)| format!(" conv {b}..{}", b + d));
            let label = format!("skinny_gemm/input rms_norm/{dtype}/rows {} [{}, {}]{}{conv}", s.rows, s.n, s.k, if s.bias { " bias" } else { "" });
            v.push(gpu_trial(label, move |dev| input_norm(dev, dtype, s)));
        }
        for s in acc_shapes {
            let label = format!("skinny_gemm/accumulate/{dtype}/rows {} [{}, {}]{}", s.rows, s.n, s.k, if s.bias { " bias" } else { "" });
            v.push(gpu_trial(label, move |dev| accumulate(dev, dtype, s)));
        }
    }
    v.push(gpu_trial("skinny_gemm/fused forms refuse bad input".to_string(), refusals));
    v
}
