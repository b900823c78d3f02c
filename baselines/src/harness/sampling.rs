//! The sampling op in the harness: its device instance (fresh random logits and per-row
//! parameters, checked token by token against the CPU reference, skipping only rows whose
//! draw lies within `AMBIGUOUS` of a boundary) and its dedicated GPU trials (greedy ties at a
//! real vocabulary, top-k = 1 and tiny top-p equal greedy, frequencies vs the kept
//! distribution, reproducibility, edge rows).

use super::cases::{Case, CaseParams};
use super::instances::{par_rows, random, upload, Checked};
use super::Workload;
use crate::ops::{self, DeviceStatus, SamplingInputs};
use crate::reference::sampling::{self as refs, SampleParams, Sampled};
use crate::table::OpTable;
use fk_runtime::compare::Tolerance;
use fk_runtime::gpu_test::{gpu_trial, TestTrial};
use fk_runtime::rng::{fresh_seed, Rng};
use fk_runtime::{DType, Device, Result, Tensor};

/// Device tensors of one batch of sampling inputs.
pub(crate) struct SampleTensors {
    pub logits: Tensor,
    pub temperature: Tensor,
    pub top_k: Tensor,
    pub top_p: Tensor,
    pub rng: Tensor,
    pub out: Tensor,
}

impl SampleTensors {
    /// Upload `logits` (`[batch, vocab]`, stored with row stride vocab + pad) and `params`.
    pub fn new(dev: &Device, logits: &[f32], vocab: usize, pad: usize, dtype: DType, params: &[SampleParams]) -> Result<SampleTensors> {
        let batch = params.len();
        let w = vocab + pad;
        let mut full = vec![0f32; batch * w];
        for r in 0..batch {
            full[r * w..r * w + vocab].copy_from_slice(&logits[r * vocab..(r + 1) * vocab]);
        }
        let stored = upload(dev, &full, &[batch, w], dtype)?;
        let rng: Vec<i64> = params.iter().flat_map(|p| [p.seed, p.counter]).collect();
        Ok(SampleTensors {
            logits: if pad > 0 { stored.narrow(1, 0, vocab)? } else { stored },
            temperature: Tensor::from_f32(dev, &params.iter().map(|p| p.temperature).collect::<Vec<_>>(), &[batch], DType::F32)?,
            top_k: Tensor::from_i32(dev, &params.iter().map(|p| p.top_k).collect::<Vec<_>>(), &[batch])?,
            top_p: Tensor::from_f32(dev, &params.iter().map(|p| p.top_p).collect::<Vec<_>>(), &[batch], DType::F32)?,
            rng: Tensor::from_i64(dev, &rng, &[batch, 2])?,
            out: Tensor::empty(dev, &[batch], DType::I32)?,
        })
    }

    pub fn inputs(&self) -> SamplingInputs<'_> {
        SamplingInputs { temperature: &self.temperature, top_k: &self.top_k, top_p: &self.top_p, rng: &self.rng }
    }

    pub fn run(&self, table: &OpTable) -> Result<()> {
        ops::sample(table, &self.logits, &self.inputs(), None, &self.out)
    }

    pub fn tokens(&self) -> Result<Vec<i64>> {
        self.out.to_i64()
    }

    /// Overwrite the (seed, counter) pairs.
    pub fn set_rng(&mut self, params: &[SampleParams]) -> Result<()> {
        let rng: Vec<i64> = params.iter().flat_map(|p| [p.seed, p.counter]).collect();
        self.rng = Tensor::from_i64(self.out.device(), &rng, &[params.len(), 2])?;
        Ok(())
    }
}

/// Reference tokens of every row (parallel over rows).
fn reference_rows(logits: &[f32], vocab: usize, params: &[SampleParams]) -> Vec<Sampled> {
    let enc = par_rows(params.len(), |r| {
        r.flat_map(|row| match refs::sample_row(&logits[row * vocab..(row + 1) * vocab], &params[row]) {
            Sampled::Invalid => [-1.0, 0.0],
            Sampled::Token { token, ambiguous } => [token as f64, if ambiguous { 1.0 } else { 0.0 }],
        })
        .collect()
    });
    enc.chunks(2)
        .map(|c| if c[0] < 0.0 { Sampled::Invalid } else { Sampled::Token { token: c[0] as usize, ambiguous: c[1] != 0.0 } })
        .collect()
}

/// Compare kernel tokens with the reference: exact, except rows the reference calls
/// ambiguous (which must still hold a token in [0, vocab)). Fails if too many are skipped.
fn check_tokens(got: &[i64], want: &[Sampled], vocab: usize) -> std::result::Result<usize, String> {
    let mut skipped = 0;
    for (r, (&g, w)) in got.iter().zip(want).enumerate() {
        match *w {
            Sampled::Invalid if g == -1 => {}
            Sampled::Token { ambiguous: true, .. } if (0..vocab as i64).contains(&g) => skipped += 1,
            Sampled::Token { token, .. } if g == token as i64 => {}
            _ => return Err(format!("row {r}: kernel token {g}, reference {w:?}")),
        }
    }
    // Flat distributions (top-p over ~50k tokens) put a few percent of rows near a boundary.
    if skipped > 1 + got.len() / 4 {
        return Err(format!("{skipped} of {} rows ambiguous: the ambiguity test is too loose", got.len()));
    }
    Ok(skipped)
}

/// Per-row parameters for `mixed` cases: each mode in turn, random values.
fn mixed_params(rng: &mut Rng, batch: usize, vocab: usize) -> Vec<SampleParams> {
    (0..batch)
        .map(|r| {
            let t = 0.3 + 1.2 * rng.uniform() as f32;
            let k = rng.range(1, 101.min(vocab as i64 + 1)) as i32;
            let p = 0.3 + 0.69 * rng.uniform() as f32;
            let (temperature, top_k, top_p) = match r % 6 {
                0 => (0.0, 0, 1.0),
                1 => (t, 0, 1.0),
                2 => (t, k, 1.0),
                3 => (t, 0, p),
                4 => (t, k, p),
                _ => (t, 1, p), // top_k 1: greedy
            };
            SampleParams { temperature, top_k, top_p, seed: rng.next_u64() as i64, counter: rng.range(0, 1 << 40) }
        })
        .collect()
}

struct SampleInst {
    dtype: DType,
    vocab: usize,
    t: SampleTensors,
    hlogits: Vec<f32>,
    params: Vec<SampleParams>,
    reference: Option<Vec<Sampled>>,
    reference_f64: Option<Vec<Vec<f64>>>,
}

pub(super) fn instantiate_sample(dev: &Device, case: &Case, rng: &mut Rng) -> Result<Box<dyn Checked>> {
    let CaseParams::Sample { batch, vocab, pad, mixed, temperature, top_k, top_p } = case.params else {
        unreachable!("instantiate_sample takes sample cases")
    };
    // Logits ~ N(0, 2), rounded to the dtype (bf16 rounding makes many exact ties).
    let mut hlogits = random(rng, batch * vocab, 0.0, 2.0, case.dtype);
    let params = if mixed {
        // Some rows with a tied maximum (three copies) and some -inf entries (masked tokens).
        for r in (0..batch).step_by(3) {
            let row = &mut hlogits[r * vocab..(r + 1) * vocab];
            let top = row.iter().cloned().fold(f32::NEG_INFINITY, f32::max);
            for _ in 0..3 {
                row[rng.range(0, vocab as i64) as usize] = top;
            }
            if vocab > 4 {
                for _ in 0..vocab / 4 {
                    row[rng.range(0, vocab as i64) as usize] = f32::NEG_INFINITY;
                }
            }
        }
        mixed_params(rng, batch, vocab)
    } else {
        (0..batch).map(|_| SampleParams { temperature, top_k, top_p, seed: rng.next_u64() as i64, counter: rng.range(0, 1 << 40) }).collect()
    };
    let t = SampleTensors::new(dev, &hlogits, vocab, pad, case.dtype, &params)?;
    Ok(Box::new(SampleInst { dtype: case.dtype, vocab, t, hlogits, params, reference: None, reference_f64: None }))
}

impl SampleInst {
    fn reference_rows(&mut self) -> &[Sampled] {
        if self.reference.is_none() {
            self.reference = Some(reference_rows(&self.hlogits, self.vocab, &self.params));
        }
        self.reference.as_deref().unwrap_or(&[])
    }
}

impl Workload for SampleInst {
    fn prepare(&mut self) -> Result<()> {
        self.t.out.poison()
    }
    fn run(&mut self, table: &OpTable) -> Result<()> {
        self.t.run(table)
    }
    fn check(&mut self) -> std::result::Result<(), String> {
        let got = self.t.tokens().map_err(|e| e.to_string())?;
        let vocab = self.vocab;
        check_tokens(&got, self.reference_rows(), vocab).map(|_| ())
    }
    fn bytes(&self) -> u64 {
        (self.params.len() * (self.vocab * self.dtype.size() + 4 + 4 + 4 + 16 + 4)) as u64
    }
}

impl Checked for SampleInst {
    fn outputs(&self) -> Result<Vec<Vec<f32>>> {
        Ok(vec![self.t.tokens()?.iter().map(|&v| v as f32).collect()])
    }
    /// Tokens are exact.
    fn tolerance(&self) -> Tolerance {
        Tolerance { atol: 0.0, rtol: 0.0, max_rel_l2: 0.0 }
    }
    fn reference(&mut self) -> &[Vec<f64>] {
        if self.reference_f64.is_none() {
            let v = self.reference_rows().iter().map(|s| s.as_i32() as f64).collect();
            self.reference_f64 = Some(vec![v]);
        }
        self.reference_f64.as_deref().unwrap_or(&[])
    }
}

fn e(x: impl std::fmt::Display) -> String {
    x.to_string()
}

/// GPU trials specific to sampling (the generic per-case trials live in `op_trials`).
pub fn sampling_trials() -> Vec<TestTrial> {
    let t = OpTable::baseline;
    vec![
        gpu_trial("sample/greedy at vocab 128256 picks the first of tied maxima (and top_k 1 at any temperature)", move |dev| {
            let vocab = 128_256;
            let mut rng = Rng::new(fresh_seed());
            for dtype in [DType::BF16, DType::F32] {
                let mut l = random(&mut rng, 4 * vocab, 0.0, 2.0, dtype);
                for (r, pos) in [(0usize, [100_000usize, 77, 128_000]), (1, [5, 6, 7]), (2, [128_255, 128_254, 64_000])] {
                    for &i in &pos {
                        l[r * vocab + i] = 20.0;
                    }
                }
                l[3 * vocab..].iter_mut().for_each(|x| *x = f32::NEG_INFINITY);
                let mut params = vec![SampleParams::greedy(); 4];
                params[1] = SampleParams { temperature: 0.8, top_k: 1, top_p: 0.5, seed: 3, counter: 9 };
                params[2] = SampleParams { temperature: -1.0, ..params[2] };
                let st = SampleTensors::new(dev, &l, vocab, 0, dtype, &params).map_err(e)?;
                st.out.poison().map_err(e)?;
                st.run(&t()).map_err(e)?;
                let got = st.tokens().map_err(e)?;
                if got != [77, 5, 64_000, 0] {
                    return Err(format!("{dtype}: greedy tokens {got:?}, want [77, 5, 64000, 0]"));
                }
            }
            Ok(())
        }),
        gpu_trial("sample/top_k 1 and tiny top_p equal greedy on fresh logits", move |dev| {
            let (batch, vocab) = (64, 32_000);
            let mut rng = Rng::new(fresh_seed());
            let mut l = random(&mut rng, batch * vocab, 0.0, 2.0, DType::F32);
            for r in 0..batch {
                // A unique maximum: with ties, tiny top_p keeps all of them.
                l[r * vocab + rng.range(0, vocab as i64) as usize] = 10.0;
            }
            let params: Vec<SampleParams> = (0..batch)
                .map(|r| {
                    let (top_k, top_p) = if r % 2 == 0 { (1, 0.9) } else { (0, 1e-7) };
                    SampleParams { temperature: 0.5 + r as f32 / 64.0, top_k, top_p, seed: r as i64, counter: 17 }
                })
                .collect();
            let st = SampleTensors::new(dev, &l, vocab, 0, DType::F32, &params).map_err(e)?;
            st.out.poison().map_err(e)?;
            st.run(&t()).map_err(e)?;
            let got = st.tokens().map_err(e)?;
            for r in 0..batch {
                let want = refs::argmax(&l[r * vocab..(r + 1) * vocab]) as i64;
                if got[r] != want {
                    return Err(format!("row {r} ({:?}): token {}, argmax {want}", params[r], got[r]));
                }
            }
            Ok(())
        }),
        gpu_trial("sample/frequencies over counters follow the kept distribution (chi-square) and match the reference", move |dev| {
            let (batch, vocab, launches) = (1024usize, 64usize, 8);
            let mut rng = Rng::new(fresh_seed());
            let row = random(&mut rng, vocab, 0.0, 1.5, DType::F32);
            for (temp, k, p) in [(0.9f32, 20, 0.9f32), (1.2, 0, 1.0), (0.7, 0, 0.75)] {
                let l: Vec<f32> = (0..batch).flat_map(|_| row.iter().copied()).collect();
                let seed = rng.next_u64() as i64;
                // Rows draw from their own (seed, counter) only: distinct seeds per row.
                let mut params: Vec<SampleParams> =
                    (0..batch).map(|r| SampleParams { temperature: temp, top_k: k, top_p: p, seed: seed.wrapping_add(r as i64), counter: 0 }).collect();
                let mut st = SampleTensors::new(dev, &l, vocab, 0, DType::F32, &params).map_err(e)?;
                let kept = refs::kept_distribution(&row, temp, k, p).ok_or("all -inf")?;
                let z: f64 = kept.weights.iter().sum();
                let probs: Vec<f64> = kept.weights.iter().map(|w| w / z).collect();
                let mut counts = vec![0u64; vocab];
                for c in 0..launches {
                    params.iter_mut().for_each(|q| q.counter = c);
                    st.set_rng(&params).map_err(e)?;
                    st.out.poison().map_err(e)?;
                    st.run(&t()).map_err(e)?;
                    let got = st.tokens().map_err(e)?;
                    check_tokens(&got, &reference_rows(&l, vocab, &params), vocab).map_err(|m| format!("T {temp} k {k} p {p} counter {c}: {m}"))?;
                    for &g in &got {
                        counts[g as usize] += 1;
                    }
                }
                let (chi, df) = refs::chi_square(&counts, &probs)?;
                if chi > refs::chi_square_limit(df) {
                    return Err(format!("T {temp} k {k} p {p}: chi-square {chi:.1} over {df} df > {:.1}", refs::chi_square_limit(df)));
                }
            }
            Ok(())
        }),
        gpu_trial("sample/same (seed, counter) gives the same tokens, another counter other tokens", move |dev| {
            let (batch, vocab) = (32, 128_256);
            let mut rng = Rng::new(fresh_seed());
            let l = random(&mut rng, batch * vocab, 0.0, 1.0, DType::BF16);
            let mut params: Vec<SampleParams> = (0..batch).map(|r| SampleParams { temperature: 1.0, top_k: 0, top_p: 0.95, seed: 1234 + r as i64, counter: 5 }).collect();
            let mut st = SampleTensors::new(dev, &l, vocab, 0, DType::BF16, &params).map_err(e)?;
            st.run(&t()).map_err(e)?;
            let a = st.tokens().map_err(e)?;
            st.out.poison().map_err(e)?;
            st.run(&t()).map_err(e)?;
            let b = st.tokens().map_err(e)?;
            if a != b {
                return Err(format!("two runs differ: {a:?} vs {b:?}"));
            }
            params.iter_mut().for_each(|p| p.counter = 6);
            st.set_rng(&params).map_err(e)?;
            st.run(&t()).map_err(e)?;
            let c = st.tokens().map_err(e)?;
            let same = a.iter().zip(&c).filter(|(x, y)| x == y).count();
            if same > batch / 4 {
                return Err(format!("counter 5 and 6 agree on {same} of {batch} rows of a flat distribution"));
            }
            Ok(())
        }),
        gpu_trial("sample/a row's token follows its logits and (seed, counter), not its place in the batch", move |dev| {
            // The engine relies on this: a request must sample the same tokens whether it runs
            // alone or at any row of a continuous batch.
            let (batch, vocab) = (24, 4096);
            let mut rng = Rng::new(fresh_seed());
            let l = random(&mut rng, batch * vocab, 0.0, 1.0, DType::F32);
            let params: Vec<SampleParams> =
                (0..batch).map(|_| SampleParams { temperature: 1.0, top_k: 0, top_p: 1.0, seed: rng.next_u64() as i64, counter: rng.range(0, 1 << 30) }).collect();
            let st = SampleTensors::new(dev, &l, vocab, 0, DType::F32, &params).map_err(e)?;
            st.out.poison().map_err(e)?;
            st.run(&t()).map_err(e)?;
            let a = st.tokens().map_err(e)?;
            // Reverse the batch, then run each row alone.
            let rev: Vec<usize> = (0..batch).rev().collect();
            let lr: Vec<f32> = rev.iter().flat_map(|&r| l[r * vocab..(r + 1) * vocab].to_vec()).collect();
            let pr: Vec<SampleParams> = rev.iter().map(|&r| params[r]).collect();
            let st = SampleTensors::new(dev, &lr, vocab, 0, DType::F32, &pr).map_err(e)?;
            st.out.poison().map_err(e)?;
            st.run(&t()).map_err(e)?;
            let b = st.tokens().map_err(e)?;
            for (i, &r) in rev.iter().enumerate() {
                if b[i] != a[r] {
                    return Err(format!("row {r} drew {} at position {r} but {} at position {i}", a[r], b[i]));
                }
            }
            for r in [0, batch / 2, batch - 1] {
                let one = SampleTensors::new(dev, &l[r * vocab..(r + 1) * vocab], vocab, 0, DType::F32, &params[r..r + 1]).map_err(e)?;
                one.out.poison().map_err(e)?;
                one.run(&t()).map_err(e)?;
                let got = one.tokens().map_err(e)?[0];
                if got != a[r] {
                    return Err(format!("row {r} drew {} in the batch but {got} alone", a[r]));
                }
            }
            Ok(())
        }),
        gpu_trial("sample/edge rows: NaN and +inf logits, all -inf with sampling, vocab 1", move |dev| {
            let vocab = 5;
            let l = [
                0.0, f32::NAN, 1.0, f32::NAN, 0.5, // NaN read as -inf: greedy 2
                0.0, f32::INFINITY, 1.0, f32::INFINITY, 0.5, // +inf read as f32::MAX: greedy 1
                f32::NEG_INFINITY, f32::NEG_INFINITY, f32::NEG_INFINITY, f32::NEG_INFINITY, f32::NEG_INFINITY,
                0.0, f32::INFINITY, 1.0, f32::NAN, 0.5, // sampling with T 1: only the +inf token has mass
            ];
            let g = SampleParams::greedy();
            let s = SampleParams { temperature: 1.0, top_k: 0, top_p: 0.9, seed: 1, counter: 2 };
            let params = [g, g, s, s];
            let st = SampleTensors::new(dev, &l, vocab, 0, DType::F32, &params).map_err(e)?;
            st.out.poison().map_err(e)?;
            st.run(&t()).map_err(e)?;
            let got = st.tokens().map_err(e)?;
            if got != [2, 1, 0, 1] {
                return Err(format!("edge rows gave {got:?}, want [2, 1, 0, 1]"));
            }
            let one = SampleTensors::new(dev, &[3.0, 4.0], 1, 0, DType::BF16, &[s, g]).map_err(e)?;
            one.run(&t()).map_err(e)?;
            match one.tokens().map_err(e)?.as_slice() {
                [0, 0] => Ok(()),
                other => Err(format!("vocab 1 gave {other:?}")),
            }
        }),
        gpu_trial("errors/sample invalid parameters are -1 and reported by row; bad shapes and dtypes are errors", move |dev| {
            let (batch, vocab) = (6, 100);
            let l = vec![0.5f32; batch * vocab];
            let ok = SampleParams { temperature: 1.0, top_k: 5, top_p: 0.9, seed: 1, counter: 1 };
            let params = [
                ok,
                SampleParams { top_p: 0.0, ..ok },
                SampleParams { top_p: 1.5, ..ok },
                SampleParams { top_k: -1, ..ok },
                SampleParams { temperature: f32::NAN, ..ok },
                SampleParams { top_p: f32::NAN, ..ok },
            ];
            let st = SampleTensors::new(dev, &l, vocab, 0, DType::F32, &params).map_err(e)?;
            let status = DeviceStatus::new(dev).map_err(e)?;
            match ops::sample_checked(&t(), &st.logits, &st.inputs(), None, &st.out, &status) {
                Err(err) if err.to_string().contains("row 1") && err.to_string().contains("top_p 0") && err.to_string().contains("5 bad row") => {}
                other => return Err(format!("expected an error naming row 1's top_p and 5 bad rows, got {other:?}")),
            }
            let got = st.tokens().map_err(e)?;
            if got[1..] != [-1, -1, -1, -1, -1] || !(0..vocab as i64).contains(&got[0]) {
                return Err(format!("tokens {got:?}: bad rows must be -1, the good row a token"));
            }
            let inputs = st.inputs();
            let ints = Tensor::zeros(dev, &[batch, vocab], DType::I32).map_err(e)?;
            let want_err = |r: Result<()>, what: &str, needle: &str| match r {
                Err(err) if err.to_string().contains(needle) => Ok(()),
                other => Err(format!("{what}: expected an error mentioning {needle:?}, got {other:?}")),
            };
            want_err(ops::sample(&t(), &ints, &inputs, None, &st.out), "i32 logits", "logits is i32")?;
            let kf = Tensor::zeros(dev, &[batch], DType::F32).map_err(e)?;
            want_err(ops::sample(&t(), &st.logits, &SamplingInputs { top_k: &kf, ..st.inputs() }, None, &st.out), "f32 top_k", "top_k is f32")?;
            let rng1 = Tensor::zeros(dev, &[batch], DType::I64).map_err(e)?;
            want_err(ops::sample(&t(), &st.logits, &SamplingInputs { rng: &rng1, ..st.inputs() }, None, &st.out), "rng [batch]", "rng")?;
            let out_short = Tensor::zeros(dev, &[batch - 1], DType::I32).map_err(e)?;
            want_err(ops::sample(&t(), &st.logits, &inputs, None, &out_short), "short out", "out")?;
            let huge = Tensor::zeros(dev, &[1, 300_000], DType::BF16).map_err(e)?;
            let one = SampleTensors::new(dev, &[0.0], 1, 0, DType::F32, &[ok]).map_err(e)?;
            want_err(ops::sample(&t(), &huge, &one.inputs(), None, &one.out), "vocab 300000", "vocab 300000")
        }),
    ]
}
