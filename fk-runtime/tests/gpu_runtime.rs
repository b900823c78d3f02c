//! GPU tests for the runtime's cuBLASLt GEMM, `Linear` and device-side checkpoint loading.
//! On a machine without a CUDA driver every GPU trial is reported as ignored.
//!
//! Every run draws a fresh seed (printed on failure); replay with `FASTKERNELS_SEED=<seed>`.

use fk_runtime::compare::{compare, Tolerance};
use fk_runtime::gpu_test::{cpu_trial, gpu_trial, run, TestTrial as Trial};
use fk_runtime::host;
use fk_runtime::linear::linear_reference;
use fk_runtime::rng::{fresh_seed, Rng};
use fk_runtime::safetensors::write_safetensors;
use fk_runtime::{Checkpoint, DType, Device, Error, Gemm, Linear, Tensor};
use std::sync::OnceLock;

/// One Gemm for the whole process, so later trials also exercise the plan cache.
fn gemm(dev: &Device) -> Result<&'static Gemm, String> {
    static GEMM: OnceLock<Result<Gemm, String>> = OnceLock::new();
    GEMM.get_or_init(|| Gemm::new(dev).map_err(|e| e.to_string())).as_ref().map_err(Clone::clone)
}

/// GEMM tolerances, given the rms of the reference output.
///
/// The reference is fed exactly the values the GPU sees (inputs rounded to the dtype), so
/// only two errors remain: fp32 accumulation over K products (FMA, so products are exact;
/// the random-walk rounding error is ≈ 2⁻²⁴·√(K/2)·rms(y) ≈ 1e-6·rms(y) at K = 4096, a few
/// times that in the tails), and the final rounding of y to the output dtype (half an ulp:
/// 2⁻⁹ relative for bf16, 2⁻¹¹ for f16). Elementwise, relative error is unbounded where y
/// nearly cancels to 0, so `atol` is tied to the typical magnitude of y (its rms) instead of
/// being a constant; `rtol` allows about two output ulps.
fn gemm_tolerance(dtype: DType, ref_rms: f64) -> Tolerance {
    let (max_rel_l2, atol, rtol) = match dtype {
        DType::BF16 => (1e-2, 1e-2, 8e-3),
        DType::F16 => (2e-3, 2e-3, 2e-3),
        _ => (1e-5, 2e-5, 1e-5),
    };
    Tolerance { atol: atol * ref_rms.max(f64::MIN_POSITIVE), rtol, max_rel_l2 }
}

fn rms(v: &[f64]) -> f64 {
    (v.iter().map(|x| x * x).sum::<f64>() / v.len().max(1) as f64).sqrt()
}

/// How x and out are laid out in device memory.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Layout {
    Contiguous,
    /// Row-strided views one row into parents whose rows are 8 elements wider than the
    /// data: pointers and row strides stay 16-byte aligned.
    Strided,
    /// Views one row and one column into their parent, output rows 5 elements wider: odd
    /// row strides and pointers only 2-byte (f32: 4-byte) aligned.
    Misaligned,
}

#[derive(Clone, Copy, Debug)]
struct Case {
    dtype: DType,
    m: usize,
    k: usize,
    n: usize,
    bias: bool,
    layout: Layout,
}

impl Case {
    fn name(&self) -> String {
        let bias = if self.bias { "_bias" } else { "" };
        let layout = match self.layout {
            Layout::Contiguous => "",
            Layout::Strided => "_strided",
            Layout::Misaligned => "_misaligned",
        };
        format!("gemm/{}/m{}_k{}_n{}{bias}{layout}", self.dtype, self.m, self.k, self.n)
    }
}

/// Where a `[rows, cols]` view sits in its parent `[row0 + rows, cols + pad]`.
#[derive(Clone, Copy)]
struct Place {
    row0: usize,
    col0: usize,
    pad: usize,
}

/// A `[rows, cols]` view at `at` in a poisoned parent, holding `values` (or left poisoned
/// when `values` is `None`). Returns (parent, view).
fn view_in_parent(
    dev: &Device,
    values: Option<&[f32]>,
    rows: usize,
    cols: usize,
    at: Place,
    dtype: DType,
) -> Result<(Tensor, Tensor), String> {
    let e = |e: Error| e.to_string();
    let width = cols + at.pad;
    let parent = Tensor::empty(dev, &[at.row0 + rows, width], dtype).map_err(e)?;
    parent.poison().map_err(e)?;
    if let Some(values) = values {
        // Everything outside the view is 1e4: reading it by mistake spoils the result.
        let mut host_parent = vec![1e4f32; (at.row0 + rows) * width];
        for r in 0..rows {
            host_parent[(at.row0 + r) * width + at.col0..][..cols].copy_from_slice(&values[r * cols..][..cols]);
        }
        dev.htod(parent.ptr(), &host::encode(&host_parent, dtype)).map_err(e)?;
    }
    let view = parent.narrow(0, at.row0, rows).and_then(|t| t.narrow(1, at.col0, cols)).map_err(e)?;
    Ok((parent, view))
}

fn run_case(dev: &Device, c: Case, seed: u64) -> Result<(), String> {
    let gemm = gemm(dev)?;
    let e = |e: Error| e.to_string();
    let Case { dtype, m, k, n, .. } = c;
    let mut rng = Rng::new(seed);
    // Weights scaled like nn.Linear's init, so |y| ≈ 1 whatever K is.
    let x = host::round_trip(&rng.normal_vec(m * k, 0.0, 1.0), dtype);
    let w = host::round_trip(&rng.normal_vec(n * k, 0.0, 1.0 / (k as f32).sqrt()), dtype);
    let b = host::round_trip(&rng.normal_vec(n, 0.0, 0.5), dtype);
    let bias_host = c.bias.then_some(b.as_slice());
    let reference = linear_reference(&x, m, k, &w, n, bias_host);

    let wt = Tensor::from_f32(dev, &w, &[n, k], dtype).map_err(e)?;
    let bt = if c.bias { Some(Tensor::from_f32(dev, &b, &[n], dtype).map_err(e)?) } else { None };
    let linear = Linear::new(wt, bt).map_err(e)?;
    let (at_x, at_y) = match c.layout {
        Layout::Contiguous => (Place { row0: 0, col0: 0, pad: 0 }, Place { row0: 0, col0: 0, pad: 0 }),
        Layout::Strided => (Place { row0: 1, col0: 0, pad: 8 }, Place { row0: 1, col0: 0, pad: 8 }),
        Layout::Misaligned => (Place { row0: 1, col0: 1, pad: 8 }, Place { row0: 1, col0: 1, pad: 5 }),
    };
    let (_x_parent, xt) = view_in_parent(dev, Some(&x), m, k, at_x, dtype)?;
    let (y_parent, yt) = view_in_parent(dev, None, m, n, at_y, dtype)?;
    linear.forward_into(gemm, &xt, &yt).map_err(e)?;

    let got = yt.to_f32().map_err(e)?;
    compare(&got, &reference, gemm_tolerance(dtype, rms(&reference))).check(&c.name())?;

    // Nothing outside the output view was written: the parent's other bytes are still 0xFF.
    let parent_bytes = y_parent.to_bytes().map_err(e)?;
    let es = dtype.size();
    let width = n + at_y.pad;
    for (i, chunk) in parent_bytes.chunks_exact(es).enumerate() {
        let (r, col) = (i / width, i % width);
        let inside = r >= at_y.row0 && col >= at_y.col0 && col < at_y.col0 + n;
        if !inside && chunk.iter().any(|&byte| byte != 0xff) {
            return Err(format!("{}: wrote outside the output view at parent [{r}, {col}]", c.name()));
        }
    }
    Ok(())
}

fn gemm_trials(seed: u64) -> Vec<Trial> {
    let mut cases = Vec::new();
    for dtype in [DType::BF16, DType::F16, DType::F32] {
        for (m, k, n) in [(1, 4096, 4096), (7, 80, 48), (33, 2880, 256), (128, 4096, 1024)] {
            for bias in [false, true] {
                // The largest shape costs ~0.5 G f64 MACs on the CPU: check it once per dtype.
                if m == 128 && !bias {
                    continue;
                }
                cases.push(Case { dtype, m, k, n, bias, layout: Layout::Contiguous });
            }
        }
        for layout in [Layout::Strided, Layout::Misaligned] {
            cases.push(Case { dtype, m: 19, k: 264, n: 72, bias: true, layout });
        }
    }
    cases
        .into_iter()
        .enumerate()
        .map(|(i, c)| {
            let s = seed.wrapping_add(i as u64);
            gpu_trial(c.name(), move |dev| {
                run_case(dev, c, s).map_err(|m| format!("{m} (seed {seed}: rerun with FASTKERNELS_SEED={seed})"))
            })
        })
        .collect()
}

/// `x [2, 5, K]` through `Linear::forward`, and an empty batch.
fn linear_batched_and_empty(dev: &Device, seed: u64) -> Result<(), String> {
    let gemm = gemm(dev)?;
    let e = |e: Error| e.to_string();
    let (k, n, dtype) = (96, 40, DType::BF16);
    let mut rng = Rng::new(seed);
    let x = host::round_trip(&rng.normal_vec(10 * k, 0.0, 1.0), dtype);
    let w = host::round_trip(&rng.normal_vec(n * k, 0.0, 0.1), dtype);
    let linear = Linear::new(Tensor::from_f32(dev, &w, &[n, k], dtype).map_err(e)?, None).map_err(e)?;
    let y = linear.forward(gemm, &Tensor::from_f32(dev, &x, &[2, 5, k], dtype).map_err(e)?).map_err(e)?;
    if y.shape() != [2, 5, n] {
        return Err(format!("forward gave {y:?}, expected [2, 5, {n}]"));
    }
    let reference = linear_reference(&x, 10, k, &w, n, None);
    compare(&y.to_f32().map_err(e)?, &reference, gemm_tolerance(dtype, rms(&reference))).check("linear [2,5,K]")?;

    let empty = linear.forward(gemm, &Tensor::empty(dev, &[0, k], dtype).map_err(e)?).map_err(e)?;
    if empty.shape() != [0, n] {
        return Err(format!("empty batch gave {empty:?}"));
    }
    Ok(())
}

/// The same problem twice: one plan, bitwise-identical results.
fn plan_cache_reuses_plans(dev: &Device, seed: u64) -> Result<(), String> {
    let gemm = gemm(dev)?;
    let e = |e: Error| e.to_string();
    let (m, k, n, dtype) = (5, 136, 24, DType::F16);
    let mut rng = Rng::new(seed);
    let x = Tensor::from_f32(dev, &rng.normal_vec(m * k, 0.0, 1.0), &[m, k], dtype).map_err(e)?;
    let w = Tensor::from_f32(dev, &rng.normal_vec(n * k, 0.0, 0.1), &[n, k], dtype).map_err(e)?;
    let (y1, y2) = (Tensor::empty(dev, &[m, n], dtype).map_err(e)?, Tensor::empty(dev, &[m, n], dtype).map_err(e)?);
    gemm.matmul_nt(&x, &w, None, &y1).map_err(e)?;
    let plans = gemm.plan_count();
    gemm.matmul_nt(&x, &w, None, &y2).map_err(e)?;
    if gemm.plan_count() != plans {
        return Err(format!("a repeated problem added a plan ({plans} -> {})", gemm.plan_count()));
    }
    if y1.to_bytes().map_err(e)? != y2.to_bytes().map_err(e)? {
        return Err("the same GEMM gave different bytes twice".into());
    }
    Ok(())
}

/// Row counts of one power-of-two bucket share one algorithm (so one set of kernels, loaded
/// once), each still exact; the next bucket gets its own.
fn plan_cache_buckets_algorithms(dev: &Device, seed: u64) -> Result<(), String> {
    let gemm = Gemm::new(dev).map_err(|e| e.to_string())?;
    let e = |e: Error| e.to_string();
    let (k, n, dtype) = (256, 384, DType::BF16);
    let mut rng = Rng::new(seed);
    let w = host::round_trip(&rng.normal_vec(n * k, 0.0, 1.0 / (k as f32).sqrt()), dtype);
    let wt = Tensor::from_f32(dev, &w, &[n, k], dtype).map_err(e)?;
    for (i, &m) in [300usize, 383, 512, 257, 513].iter().enumerate() {
        let x = host::round_trip(&rng.normal_vec(m * k, 0.0, 1.0), dtype);
        let xt = Tensor::from_f32(dev, &x, &[m, k], dtype).map_err(e)?;
        let yt = Tensor::empty(dev, &[m, n], dtype).map_err(e)?;
        yt.poison().map_err(e)?;
        gemm.matmul_nt(&xt, &wt, None, &yt).map_err(e)?;
        let reference = linear_reference(&x, m, k, &w, n, None);
        compare(&yt.to_f32().map_err(e)?, &reference, gemm_tolerance(dtype, rms(&reference))).check(&format!("m {m}"))?;
        let (plans, algos) = (gemm.plan_count(), gemm.algorithm_count());
        let want_algos = if m > 512 { 2 } else { 1 };
        if plans != i + 1 || algos != want_algos {
            return Err(format!("after m {m}: {plans} plans, {algos} algorithms (expected {}, {want_algos})", i + 1));
        }
    }
    Ok(())
}

/// `linear_gelu_tanh` (GELU in cuBLASLt's epilogue) equals gelu_tanh(x·Wᵀ + b) computed in
/// f64, with and without bias, in f32 and bf16.
fn linear_gelu_tanh_matches_reference(dev: &Device, seed: u64) -> Result<(), String> {
    let gemm = gemm(dev)?;
    let e = |e: Error| e.to_string();
    let gelu = |v: f64| 0.5 * v * (1.0 + ((2.0 / std::f64::consts::PI).sqrt() * (v + 0.044715 * v * v * v)).tanh());
    let mut rng = Rng::new(seed);
    for (dtype, m, k, n, bias) in [(DType::F32, 37, 96, 200, true), (DType::BF16, 300, 256, 512, true), (DType::BF16, 64, 128, 72, false)] {
        let x = host::round_trip(&rng.normal_vec(m * k, 0.0, 1.0), dtype);
        let w = host::round_trip(&rng.normal_vec(n * k, 0.0, 1.5 / (k as f32).sqrt()), dtype);
        let b = host::round_trip(&rng.normal_vec(n, 0.0, 0.5), dtype);
        let reference: Vec<f64> = linear_reference(&x, m, k, &w, n, bias.then_some(b.as_slice())).into_iter().map(gelu).collect();
        let (xt, wt) = (Tensor::from_f32(dev, &x, &[m, k], dtype).map_err(e)?, Tensor::from_f32(dev, &w, &[n, k], dtype).map_err(e)?);
        let bt = Tensor::from_f32(dev, &b, &[n], dtype).map_err(e)?;
        let yt = Tensor::empty(dev, &[m, n], dtype).map_err(e)?;
        yt.poison().map_err(e)?;
        gemm.linear_gelu_tanh(&xt, &wt, bias.then_some(&bt), &yt).map_err(e)?;
        let name = format!("linear_gelu_tanh {dtype} m{m} k{k} n{n} bias {bias}");
        compare(&yt.to_f32().map_err(e)?, &reference, gemm_tolerance(dtype, rms(&reference))).check(&name)?;
    }
    Ok(())
}

fn expect_err(what: &str, r: fk_runtime::Result<()>, check: impl Fn(&Error) -> bool) -> Result<(), String> {
    match r {
        Err(err) if check(&err) => Ok(()),
        Err(err) => Err(format!("{what}: wrong error {err:?}")),
        Ok(()) => Err(format!("{what}: accepted")),
    }
}

/// Bad shapes and dtypes are rejected with messages naming them.
fn gemm_rejects_bad_arguments(dev: &Device) -> Result<(), String> {
    let gemm = gemm(dev)?;
    let e = |e: Error| e.to_string();
    let t = |shape: &[usize], dtype| Tensor::zeros(dev, shape, dtype).map_err(e);
    let (x, w, y) = (t(&[4, 100], DType::BF16)?, t(&[64, 96], DType::BF16)?, t(&[4, 64], DType::BF16)?);
    expect_err("K mismatch", gemm.linear(&x, &w, None, &y), |err| {
        let m = err.to_string();
        matches!(err, Error::Shape { .. })
            && m.contains("[4, 100]")
            && m.contains("[64, 96]")
            && m.contains("in_features differ")
    })?;
    let x = t(&[4, 96], DType::BF16)?;
    expect_err("out shape", gemm.linear(&x, &w, None, &t(&[4, 63], DType::BF16)?), |err| {
        matches!(err, Error::Shape { .. }) && err.to_string().contains("[4, 63]")
    })?;
    expect_err("bias length", gemm.linear(&x, &w, Some(&t(&[63], DType::BF16)?), &y), |err| {
        matches!(err, Error::Shape { .. }) && err.to_string().contains("bias")
    })?;
    expect_err("mixed dtypes", gemm.linear(&x, &w, None, &t(&[4, 64], DType::F16)?), |err| {
        let m = err.to_string();
        matches!(err, Error::DType { .. }) && m.contains("out f16") && m.contains("weight bf16")
    })?;
    let xi = t(&[4, 96], DType::I32)?;
    expect_err("int dtype", gemm.linear(&xi, &t(&[64, 96], DType::I32)?, None, &t(&[4, 64], DType::I32)?), |err| {
        matches!(err, Error::DType { .. }) && err.to_string().contains("i32")
    })?;
    expect_err("out aliases x", gemm.linear(&x, &t(&[96, 96], DType::BF16)?, None, &x), |err| {
        matches!(err, Error::BadInput { .. })
    })?;
    match Linear::new(w.clone(), Some(t(&[32], DType::BF16)?)) {
        Err(Error::Shape { .. }) => Ok(()),
        other => Err(format!("Linear::new with a [32] bias for {w:?}: {other:?}")),
    }
}

/// Temp folder for checkpoint trials (removed on drop).
struct TempDir(std::path::PathBuf);

impl TempDir {
    fn new(tag: &str) -> Result<TempDir, String> {
        let dir = std::env::temp_dir().join(format!("fk-gpu-runtime-{tag}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        Ok(TempDir(dir))
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Write a checkpoint, upload every tensor, and check bytes, shape and dtype errors.
fn checkpoint_round_trip(dev: &Device, seed: u64) -> Result<(), String> {
    let e = |e: Error| e.to_string();
    let dir = TempDir::new("ckpt")?;
    let path = dir.0.join("model.safetensors");
    let mut rng = Rng::new(seed);
    let w = rng.normal_vec(24 * 16, 0.0, 1.0);
    let (w_bf16, w_f32, b_f32) =
        (host::encode(&w, DType::BF16), host::encode(&w, DType::F32), host::encode(&w[..24], DType::F32));
    let ids: Vec<u8> = [3i64, 1, 4].iter().flat_map(|v| v.to_le_bytes()).collect();
    write_safetensors(
        &path,
        &[
            ("proj.weight", DType::BF16, &[24, 16], &w_bf16),
            ("proj.bias", DType::F32, &[24], &b_f32),
            ("master.weight", DType::F32, &[24, 16], &w_f32),
            ("ids", DType::I64, &[3], &ids),
        ],
    )
    .map_err(e)?;
    let ck = Checkpoint::open(&dir.0).map_err(e)?;
    for (name, dtype, shape, bytes) in [
        ("proj.weight", DType::BF16, &[24, 16][..], &w_bf16),
        ("master.weight", DType::F32, &[24, 16], &w_f32),
        ("ids", DType::I64, &[3], &ids),
    ] {
        let t = ck.load(dev, name, shape, dtype).map_err(e)?;
        if t.shape() != shape || t.dtype() != dtype || &t.to_bytes().map_err(e)? != bytes {
            return Err(format!("{name}: device copy differs from the file"));
        }
    }
    expect_err("wrong shape", ck.load(dev, "proj.weight", &[16, 24], DType::BF16).map(drop), |err| {
        let m = err.to_string();
        matches!(err, Error::Shape { .. })
            && m.contains("proj.weight")
            && m.contains("[16, 24]")
            && m.contains("[24, 16]")
    })?;
    expect_err("wrong dtype", ck.load(dev, "proj.weight", &[24, 16], DType::F16).map(drop), |err| {
        matches!(err, Error::DType { .. }) && err.to_string().contains("proj.weight")
    })?;
    expect_err("missing", ck.load(dev, "nope", &[1], DType::F32).map(drop), |err| {
        matches!(err, Error::MissingTensor { .. })
    })?;
    expect_err("int to float", ck.load_as(dev, "ids", &[3], DType::F32).map(drop), |err| {
        matches!(err, Error::DType { .. })
    })?;

    // f32 on disk, bf16 on the device: round to nearest even on the host.
    let converted = ck.load_as(dev, "master.weight", &[24, 16], DType::BF16).map_err(e)?;
    if converted.to_f32().map_err(e)? != host::round_trip(&w, DType::BF16) {
        return Err("load_as f32 -> bf16 does not match host rounding".into());
    }
    let linear = Linear::load(&ck, dev, "proj", 16, 24, DType::BF16, true).map_err(e)?;
    if linear.in_features() != 16
        || linear.out_features() != 24
        || linear.bias.as_ref().map(|b| b.dtype()) != Some(DType::BF16)
    {
        return Err(format!("Linear::load gave {linear:?}"));
    }
    Ok(())
}

/// The GEMM tolerances must at least accept a result that is the exact answer rounded to
/// the output dtype (otherwise they would fail a perfect GEMM).
fn tolerances_accept_rounded_reference(seed: u64) -> Result<(), String> {
    let (m, k, n) = (16, 4096, 64);
    let mut rng = Rng::new(seed);
    for dtype in [DType::BF16, DType::F16, DType::F32] {
        let x = host::round_trip(&rng.normal_vec(m * k, 0.0, 1.0), dtype);
        let w = host::round_trip(&rng.normal_vec(n * k, 0.0, 1.0 / (k as f32).sqrt()), dtype);
        let reference = linear_reference(&x, m, k, &w, n, None);
        let exact_f32: Vec<f32> = reference.iter().map(|&v| v as f32).collect();
        let rounded = host::round_trip(&exact_f32, dtype);
        compare(&rounded, &reference, gemm_tolerance(dtype, rms(&reference)))
            .check(&format!("{dtype} rounded reference (seed {seed})"))?;
    }
    Ok(())
}

/// `profile`: spans of every GEMM while recording, none of what a graph capture enqueues, one
/// `graph replay` span per replay, positive finite GPU times; nothing after `finish`.
fn profile_spans(dev: &Device) -> Result<(), String> {
    let gemm = gemm(dev)?;
    let e = |e: Error| e.to_string();
    let dtype = DType::BF16;
    // Shapes no other trial uses, so concurrent trials cannot add to these rows.
    let t = |m: usize, k: usize| Tensor::zeros(dev, &[m, k], dtype).map_err(e);
    let (x, w, y) = (t(37, 72)?, t(52, 72)?, t(37, 52)?);
    let (xc, wc, yc) = (t(3, 88)?, t(20, 88)?, t(3, 20)?);
    // Plan the captured problem first: the capture then only enqueues the matmul.
    gemm.matmul_nt(&xc, &wc, None, &yc).map_err(e)?;
    fk_runtime::profile::start();
    let body = || -> Result<(), String> {
        for _ in 0..3 {
            gemm.matmul_nt(&x, &w, None, &y).map_err(e)?;
        }
        let graph = fk_runtime::Graph::capture(dev, || gemm.matmul_nt(&xc, &wc, None, &yc)).map_err(e)?;
        graph.launch().map_err(e)?;
        graph.launch().map_err(e)
    };
    let ran = body();
    let report = fk_runtime::profile::finish().map_err(e)?.ok_or("finish after start gave no report")?;
    ran?;
    let row = |needle: &str| report.rows.iter().find(|r| r.name.contains(needle));
    let plain = row("[37, 72] · [52, 72]ᵀ").ok_or_else(|| format!("no span of the 37x52x72 GEMM:\n{}", report.table(40)))?;
    if plain.calls != 3 || !(plain.gpu_ms > 0.0 && plain.gpu_ms.is_finite()) {
        return Err(format!("37x52x72 GEMM: {} calls, {} ms (expected 3, > 0)", plain.calls, plain.gpu_ms));
    }
    if let Some(captured) = row("[3, 88] · [20, 88]ᵀ") {
        return Err(format!("the GEMM inside the graph capture was recorded: {captured:?}"));
    }
    let replays = row("graph replay").ok_or("no graph replay span")?;
    if replays.calls < 2 {
        return Err(format!("{} graph replay spans, expected at least 2", replays.calls));
    }
    gemm.matmul_nt(&x, &w, None, &y).map_err(e)?;
    if fk_runtime::profile::active() || fk_runtime::profile::finish().map_err(e)?.is_some() {
        return Err("profiling still on after finish".into());
    }
    Ok(())
}

/// `PinnedBuffer`: async uploads land in stream order; refilling the buffer right after an
/// upload waits for it (the first tensor keeps the first values); size and shape errors named.
fn pinned_uploads(dev: &Device) -> Result<(), String> {
    let e = |e: Error| e.to_string();
    let n = 1 << 18;
    let mut buf = fk_runtime::pinned::PinnedBuffer::new(dev, 4 * n).map_err(e)?;
    let (a, b) = (Tensor::empty(dev, &[n], DType::F32).map_err(e)?, Tensor::empty(dev, &[n], DType::F32).map_err(e)?);
    for (round, t) in [(0.0f32, &a), (1.0, &b)] {
        for (i, v) in buf.host_f32_mut(n).map_err(e)?.iter_mut().enumerate() {
            *v = round + i as f32;
        }
        buf.upload_async(t).map_err(e)?;
    }
    for (round, t) in [(0.0f32, &a), (1.0, &b)] {
        let got = t.to_f32().map_err(e)?;
        if let Some(i) = (0..n).find(|&i| got[i] != round + i as f32) {
            return Err(format!("upload {round}: element {i} is {}, expected {}", got[i], round + i as f32));
        }
    }
    let e1 = buf.host_f32_mut(n + 1).err().map(|x| x.to_string()).unwrap_or_default();
    let big = Tensor::empty(dev, &[n + 1], DType::F32).map_err(e)?;
    let e2 = buf.upload_async(&big).err().map(|x| x.to_string()).unwrap_or_default();
    if !e1.contains("do not fit") || !e2.contains("fit") {
        return Err(format!("oversize requests must be named errors: `{e1}`, `{e2}`"));
    }
    Ok(())
}

/// Downloads into page-locked memory: a contiguous tensor and a strided row view (a CLS row
/// per image) arrive densely; the wait covers the copy, whatever is queued after it.
fn pinned_downloads(dev: &Device) -> Result<(), String> {
    let e = |e: Error| e.to_string();
    let (rows, tokens, cols) = (7, 5, 48);
    let values: Vec<f32> = (0..rows * tokens * cols).map(|i| (i % 251) as f32 - 100.0).collect();
    let all = Tensor::from_f32(dev, &values, &[rows, tokens, cols], DType::BF16).map_err(e)?;
    let first_tokens = all.reshape(&[rows, tokens * cols]).and_then(|t| t.narrow(1, 0, cols)).map_err(e)?;
    let mut buf = fk_runtime::pinned::PinnedBuffer::new(dev, 2 * rows * tokens * cols).map_err(e)?;
    for (what, t, want) in [
        ("contiguous", &all, values.clone()),
        ("strided rows", &first_tokens, (0..rows).flat_map(|r| values[r * tokens * cols..][..cols].to_vec()).collect::<Vec<f32>>()),
    ] {
        buf.download_async(t).map_err(e)?;
        // Work queued behind the copy must not be needed for it to complete.
        Tensor::empty(dev, &[1 << 20], DType::F32).map_err(e)?.poison().map_err(e)?;
        let got = fk_runtime::host::decode(buf.downloaded(t.nbytes()).map_err(e)?, DType::BF16);
        if got != want {
            return Err(format!("{what}: downloaded {:?}…, expected {:?}…", &got[..4.min(got.len())], &want[..4]));
        }
    }
    let big = Tensor::empty(dev, &[rows * tokens * cols + 1], DType::BF16).map_err(e)?;
    let err = buf.download_async(&big).err().map(|x| x.to_string()).unwrap_or_default();
    if !err.contains("fit") {
        return Err(format!("an oversize download must be a named error: `{err}`"));
    }
    Ok(())
}

/// Staged i32 parts arrive as one view each; a second batch staged into the same buffer
/// (after the first's copy) does not disturb the first's tensors. AsyncDownload hands back
/// what it was given, as its buffer grows and is reused.
fn staged_i32_uploads_and_async_downloads(dev: &Device) -> Result<(), String> {
    let e = |e: Error| e.to_string();
    let mut up = fk_runtime::pinned::I32Upload::default();
    let batches: [Vec<Vec<i32>>; 2] = [vec![vec![0, 3, 7], vec![], vec![5, -1, 9, 2]], vec![(0..1000).collect(), vec![-7; 33]]];
    let mut uploaded = Vec::new();
    for parts in &batches {
        let refs: Vec<&[i32]> = parts.iter().map(Vec::as_slice).collect();
        up.write(dev, &refs).map_err(e)?;
        uploaded.push(up.upload(dev).map_err(e)?);
    }
    for (parts, views) in batches.iter().zip(&uploaded) {
        if views.len() != parts.len() {
            return Err(format!("{} views for {} parts", views.len(), parts.len()));
        }
        for (p, v) in parts.iter().zip(views) {
            let got: Vec<i32> = v.to_i64().map_err(e)?.into_iter().map(|x| x as i32).collect();
            if &got != p {
                return Err(format!("part {p:?} arrived as {got:?}"));
            }
        }
    }
    // Growing (3 -> 6 rows, past the first buffer's power of two) and shrinking (2 rows, the
    // bigger buffer reused): each collect hands back exactly its own rows.
    let mut down = fk_runtime::pinned::AsyncDownload::default();
    for rows in [3usize, 6, 2] {
        let values: Vec<f32> = (0..rows * 40).map(|i| i as f32 * 0.5 - rows as f32).collect();
        down.enqueue(&Tensor::from_f32(dev, &values, &[rows, 40], DType::F32).map_err(e)?).map_err(e)?;
        let (got, cols) = down.collect().map_err(e)?;
        if got != values || cols != 40 {
            return Err(format!("AsyncDownload of {rows} rows gave {} values of {cols} columns", got.len()));
        }
    }
    if down.collect().is_ok() {
        return Err("a second collect without an enqueue must be an error".into());
    }
    Ok(())
}

fn main() {
    let seed = fresh_seed();
    let mut trials =
        vec![cpu_trial("gemm_tolerances_accept_rounded_reference", move || tolerances_accept_rounded_reference(seed))];
    trials.extend(gemm_trials(seed));
    let with_seed = move |r: Result<(), String>| r.map_err(|m| format!("{m} (seed {seed})"));
    trials.push(gpu_trial("linear/batched_and_empty", move |dev| with_seed(linear_batched_and_empty(dev, seed))));
    trials.push(gpu_trial("gemm/plan_cache_reuses_plans", move |dev| with_seed(plan_cache_reuses_plans(dev, seed))));
    trials.push(gpu_trial("gemm/plan_cache_buckets_algorithms", move |dev| with_seed(plan_cache_buckets_algorithms(dev, seed))));
    trials.push(gpu_trial("gemm/linear_gelu_tanh_matches_reference", move |dev| with_seed(linear_gelu_tanh_matches_reference(dev, seed))));
    trials.push(gpu_trial("gemm/rejects_bad_arguments", gemm_rejects_bad_arguments));
    trials.push(gpu_trial("safetensors/device_round_trip", move |dev| with_seed(checkpoint_round_trip(dev, seed))));
    trials.push(gpu_trial("profile/spans_per_op_none_inside_capture", profile_spans));
    trials.push(gpu_trial("pinned/async_uploads_in_order_and_reuse_waits", pinned_uploads));
    trials.push(gpu_trial("pinned/async_downloads_contiguous_and_rows", pinned_downloads));
    trials.push(gpu_trial("pinned/staged_i32_uploads_and_async_downloads", staged_i32_uploads_and_async_downloads));
    trials.push(gpu_trial("device/pool_keeps_freed_memory", |dev| match dev.pool_release_threshold() {
        Ok(u64::MAX) => Ok(()),
        Ok(t) => Err(format!("default pool release threshold {t}, expected u64::MAX (freed memory kept)")),
        Err(e) => Err(e.to_string()),
    }));
    run(trials)
}
