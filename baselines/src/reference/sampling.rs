//! Sampling reference: greedy, temperature, top-k and top-p, exactly as `include/fk/ops/sample.h`
//! defines them (vLLM's order: top-k, then top-p on the top-k set's mass), with the same
//! counter-based RNG as the kernel. Probabilities are exact f64 here; the kernel sums 2^-44
//! fixed point, so a row whose draw (or top-p cut) lies within `AMBIGUOUS` (relative) of a
//! boundary is flagged, and tests skip it rather than demand bit-equal rounding.

/// Relative distance to a cumulative-mass boundary below which a draw is called ambiguous.
/// The kernel's weights differ from exact ones only by `expf`'s error (<= 2 ulp, 2.4e-7
/// relative; the fixed-point rounding adds < 1e-11), so its sums are within 2.4e-7 of these.
pub const AMBIGUOUS: f64 = 3e-7;

/// One row's sampling parameters (as the device arrays hold them).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SampleParams {
    pub temperature: f32,
    pub top_k: i32,
    pub top_p: f32,
    pub seed: i64,
    pub counter: i64,
}

impl SampleParams {
    pub fn greedy() -> SampleParams {
        SampleParams { temperature: 0.0, top_k: 0, top_p: 1.0, seed: 0, counter: 0 }
    }

    /// Why these parameters are rejected (the kernel writes -1), if they are.
    pub fn invalid_reason(&self) -> Option<String> {
        if self.temperature.is_nan() || self.temperature == f32::INFINITY {
            return Some(format!("temperature {} must be finite (<= 0 means greedy)", self.temperature));
        }
        if self.top_k < 0 {
            return Some(format!("top_k {} must be >= 0 (0 = off)", self.top_k));
        }
        if !(self.top_p > 0.0 && self.top_p <= 1.0) {
            return Some(format!("top_p {} must be in (0, 1] (1 = off)", self.top_p));
        }
        None
    }

    pub fn is_greedy(&self) -> bool {
        self.temperature <= 0.0 || self.top_k == 1
    }
}

/// Result of sampling one row.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sampled {
    /// Invalid parameters: the kernel writes -1.
    Invalid,
    /// The token; `ambiguous` when f64 and the kernel's fixed point may legitimately differ.
    Token { token: usize, ambiguous: bool },
}

impl Sampled {
    /// The value the kernel writes to `out`.
    pub fn as_i32(&self) -> i32 {
        match *self {
            Sampled::Invalid => -1,
            Sampled::Token { token, .. } => token as i32,
        }
    }
}

/// SplitMix64's finaliser.
pub fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d049bb133111eb);
    z ^ (z >> 31)
}

/// u in [0, 1) for a row's (seed, counter): `fk_sample_uniform` of the contract header. The
/// row's position in the batch is not an input, so a request draws the same token wherever
/// the scheduler puts it; callers give rows distinct seeds.
pub fn uniform01(seed: i64, counter: i64) -> f64 {
    let mut h = mix64(seed as u64 ^ 0x243f6a8885a308d3);
    h = mix64(h ^ (counter as u64).wrapping_mul(0x9e3779b97f4a7c15));
    h = mix64(h.wrapping_add(0x13198a2e03707344));
    (h >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
}

fn sanitize(x: f32) -> f32 {
    if x.is_nan() {
        f32::NEG_INFINITY
    } else if x == f32::INFINITY {
        f32::MAX
    } else {
        x
    }
}

/// Greedy: the smallest index of the maximum (NaN read as -inf, +inf as f32::MAX).
pub fn argmax(logits: &[f32]) -> usize {
    let mut best = (f32::NEG_INFINITY, 0usize);
    for (i, &x) in logits.iter().enumerate() {
        if sanitize(x) > best.0 {
            best = (sanitize(x), i);
        }
    }
    best.1
}

/// The kept distribution of a non-greedy row: unnormalised weights e_i (0 for dropped
/// tokens), and whether the top-p cut lies within `AMBIGUOUS` of its target.
#[derive(Clone, Debug)]
pub struct Kept {
    pub weights: Vec<f64>,
    pub cut_ambiguous: bool,
}

/// z = x / T (f32), e = exp(z - M), top-k, top-p. `None` if every logit is -inf.
pub fn kept_distribution(logits: &[f32], temperature: f32, top_k: i32, top_p: f32) -> Option<Kept> {
    let z: Vec<f32> = logits
        .iter()
        .map(|&x| {
            let z = sanitize(x) / temperature;
            if z == f32::INFINITY {
                f32::MAX
            } else if z == 0.0 {
                0.0
            } else {
                z
            }
        })
        .collect();
    let m = z.iter().cloned().fold(f32::NEG_INFINITY, f32::max);
    if m == f32::NEG_INFINITY {
        return None;
    }
    let e: Vec<f64> = z.iter().map(|&zi| ((zi - m) as f64).exp()).collect();
    let v = z.len();
    // top-k: keep z >= the k-th largest value.
    let mut zk = f32::NEG_INFINITY;
    if top_k > 0 && (top_k as usize) < v {
        let mut sorted = z.clone();
        sorted.sort_by(|a, b| b.total_cmp(a));
        zk = sorted[top_k as usize - 1];
    }
    let mut keep: Vec<bool> = z.iter().map(|&zi| zi >= zk).collect();
    let mut cut_ambiguous = false;
    if top_p < 1.0 {
        let zsum: f64 = (0..v).filter(|&i| keep[i]).map(|i| e[i]).sum();
        let target = top_p as f64 * zsum;
        let mut order: Vec<usize> = (0..v).filter(|&i| keep[i]).collect();
        order.sort_by(|&a, &b| z[b].total_cmp(&z[a]));
        let (mut cum, mut tau, mut g) = (0f64, f32::NEG_INFINITY, 0usize);
        while g < order.len() {
            let val = z[order[g]];
            let before = cum;
            while g < order.len() && z[order[g]] == val {
                cum += e[order[g]];
                g += 1;
            }
            if cum >= target {
                tau = val;
                cut_ambiguous = target - before < AMBIGUOUS * zsum || cum - target < AMBIGUOUS * zsum;
                break;
            }
        }
        for i in 0..v {
            keep[i] = keep[i] && z[i] >= tau;
        }
    }
    Some(Kept { weights: (0..v).map(|i| if keep[i] { e[i] } else { 0.0 }).collect(), cut_ambiguous })
}

/// The token the kernel must produce for `logits` (one row) with `p`.
pub fn sample_row(logits: &[f32], p: &SampleParams) -> Sampled {
    if p.invalid_reason().is_some() {
        return Sampled::Invalid;
    }
    if p.is_greedy() {
        return Sampled::Token { token: argmax(logits), ambiguous: false };
    }
    let Some(kept) = kept_distribution(logits, p.temperature, p.top_k, p.top_p) else {
        return Sampled::Token { token: 0, ambiguous: false };
    };
    let zf: f64 = kept.weights.iter().sum();
    let u = uniform01(p.seed, p.counter) * zf;
    let mut cum = 0f64;
    let mut last = 0;
    for (i, &w) in kept.weights.iter().enumerate() {
        if w == 0.0 {
            continue;
        }
        let before = cum;
        cum += w;
        last = i;
        if cum > u {
            let near = u - before < AMBIGUOUS * zf || cum - u < AMBIGUOUS * zf;
            return Sampled::Token { token: i, ambiguous: near || kept.cut_ambiguous };
        }
    }
    Sampled::Token { token: last, ambiguous: true }
}

/// Every row of `[batch, vocab]` logits (row-major, contiguous).
pub fn sample(logits: &[f32], vocab: usize, params: &[SampleParams]) -> Vec<Sampled> {
    params.iter().enumerate().map(|(r, p)| sample_row(&logits[r * vocab..(r + 1) * vocab], p)).collect()
}

/// Pearson's chi-square of observed counts against expected probabilities (those > 0), and
/// the degrees of freedom. Panics on nothing; tokens with probability 0 must have count 0
/// (returned as `Err` naming one).
pub fn chi_square(counts: &[u64], probs: &[f64]) -> Result<(f64, usize), String> {
    let n: u64 = counts.iter().sum();
    let (mut chi, mut cells) = (0f64, 0usize);
    for (i, (&c, &p)) in counts.iter().zip(probs).enumerate() {
        if p == 0.0 {
            if c > 0 {
                return Err(format!("token {i} has probability 0 but was drawn {c} times"));
            }
            continue;
        }
        let expect = p * n as f64;
        chi += (c as f64 - expect).powi(2) / expect;
        cells += 1;
    }
    Ok((chi, cells.saturating_sub(1)))
}

/// A chi-square bound that a correct sampler exceeds with probability ~1e-6 (Wilson-Hilferty
/// approximation of the 1 - 1e-6 quantile, z = 4.75).
pub fn chi_square_limit(df: usize) -> f64 {
    let k = df.max(1) as f64;
    let z = 4.75;
    k * (1.0 - 2.0 / (9.0 * k) + z * (2.0 / (9.0 * k)).sqrt()).powi(3)
}

#[cfg(test)]
mod tests {
    use super::*;
    use fk_runtime::rng::Rng;

    fn params(temperature: f32, top_k: i32, top_p: f32) -> SampleParams {
        SampleParams { temperature, top_k, top_p, seed: 7, counter: 0 }
    }

    #[test]
    fn rng_is_uniform_and_depends_on_every_input() {
        // Values printed by the C twin (`fk_sample_uniform` of sample.h, compiled with gcc):
        // pins the function so the two cannot drift apart silently.
        assert_eq!(uniform01(1, 2), 0.187_812_457_098_681_55);
        assert_eq!(uniform01(-7, 123456789012), 0.765_615_657_188_579);
        assert_eq!(uniform01(0, 0), 0.840_830_380_517_609_5);
        assert_ne!(uniform01(1, 2), uniform01(2, 2));
        assert_ne!(uniform01(1, 2), uniform01(1, 3));
        let n = 100_000;
        let mut bins = [0u64; 20];
        for c in 0..n {
            bins[(uniform01(42, c) * 20.0) as usize] += 1;
        }
        let (chi, df) = chi_square(&bins, &[0.05; 20]).unwrap();
        assert!(chi < chi_square_limit(df), "RNG chi-square {chi} over {df} df");
        let mean = (0..n).map(|s| uniform01(s, 9)).sum::<f64>() / n as f64;
        assert!((mean - 0.5).abs() < 0.005, "mean {mean}");
    }

    #[test]
    fn greedy_takes_the_first_maximum_and_reads_nan_as_minus_inf() {
        assert_eq!(argmax(&[1.0, 3.0, 2.0, 3.0]), 1);
        assert_eq!(argmax(&[f32::NAN, 0.5, f32::NAN]), 1);
        assert_eq!(argmax(&[f32::NEG_INFINITY; 4]), 0);
        assert_eq!(argmax(&[1.0, f32::INFINITY, f32::MAX]), 1);
        let l = [0.0, 2.0, 2.0];
        assert_eq!(sample_row(&l, &SampleParams::greedy()), Sampled::Token { token: 1, ambiguous: false });
        // top_k == 1 is greedy at any temperature.
        assert_eq!(sample_row(&l, &params(0.8, 1, 1.0)).as_i32(), 1);
    }

    #[test]
    fn invalid_parameters_are_rejected() {
        for p in [params(f32::NAN, 0, 1.0), params(1.0, -1, 1.0), params(1.0, 0, 0.0), params(1.0, 0, 1.5), params(1.0, 0, f32::NAN), params(f32::INFINITY, 0, 1.0)] {
            assert_eq!(sample_row(&[0.0, 1.0], &p), Sampled::Invalid, "{p:?}");
        }
        assert!(params(-1.0, 0, 1.0).invalid_reason().is_none());
    }

    #[test]
    fn top_k_keeps_ties_at_the_kth_value() {
        let l = [1.0, 3.0, 2.0, 2.0, 0.0];
        let k = kept_distribution(&l, 1.0, 2, 1.0).unwrap();
        let kept: Vec<usize> = (0..5).filter(|&i| k.weights[i] > 0.0).collect();
        assert_eq!(kept, vec![1, 2, 3]);
    }

    #[test]
    fn top_p_keeps_the_smallest_prefix_and_boundary_ties() {
        // probabilities ∝ e^0, e^-1, e^-1, e^-3: the max alone has 0.53 of the mass.
        let l = [0.0, -1.0, -1.0, -3.0];
        let kept = |p| -> Vec<usize> {
            let k = kept_distribution(&l, 1.0, 0, p).unwrap();
            (0..4).filter(|&i| k.weights[i] > 0.0).collect()
        };
        assert_eq!(kept(0.5), vec![0]);
        assert_eq!(kept(0.6), vec![0, 1, 2]); // the two tied at the boundary both stay
        assert_eq!(kept(0.99), vec![0, 1, 2, 3]);
        assert_eq!(kept(1e-9), vec![0]);
        // top-p mass is relative to the top-k set: k = 2 keeps {0, 1, 2} (tie), p = 0.6 of it.
        let k = kept_distribution(&l, 1.0, 2, 0.6).unwrap();
        assert_eq!((0..4).filter(|&i| k.weights[i] > 0.0).count(), 3);
        let k = kept_distribution(&l, 1.0, 2, 0.5).unwrap();
        assert_eq!((0..4).filter(|&i| k.weights[i] > 0.0).count(), 1);
    }

    #[test]
    fn all_minus_inf_row_gives_token_zero() {
        assert_eq!(sample_row(&[f32::NEG_INFINITY; 3], &params(1.0, 0, 0.9)).as_i32(), 0);
    }

    #[test]
    fn same_seed_and_counter_give_the_same_token_and_counters_move_it() {
        let mut r = Rng::new(5);
        let l = r.normal_vec(1000, 0.0, 1.0);
        let p = params(1.0, 0, 1.0);
        assert_eq!(sample_row(&l, &p), sample_row(&l, &p));
        let distinct: std::collections::BTreeSet<i32> =
            (0..50).map(|c| sample_row(&l, &SampleParams { counter: c, ..p }).as_i32()).collect();
        assert!(distinct.len() > 25, "{} distinct tokens over 50 counters", distinct.len());
    }

    /// Frequencies over many counters follow the kept, renormalised distribution.
    #[test]
    fn frequencies_follow_the_kept_distribution() {
        let mut r = Rng::new(11);
        let l = r.normal_vec(40, 0.0, 1.5);
        for (t, k, p) in [(1.0, 0, 1.0), (0.7, 10, 1.0), (1.3, 0, 0.8), (0.9, 25, 0.9)] {
            let kept = kept_distribution(&l, t, k, p).unwrap();
            let z: f64 = kept.weights.iter().sum();
            let probs: Vec<f64> = kept.weights.iter().map(|w| w / z).collect();
            let mut counts = vec![0u64; l.len()];
            for c in 0..40_000 {
                counts[sample_row(&l, &SampleParams { temperature: t, top_k: k, top_p: p, seed: 99, counter: c }).as_i32() as usize] += 1;
            }
            let (chi, df) = chi_square(&counts, &probs).unwrap();
            assert!(chi < chi_square_limit(df), "T {t} k {k} p {p}: chi-square {chi:.1} over {df} df (limit {:.1})", chi_square_limit(df));
            if k > 0 {
                assert!(probs.iter().filter(|&&q| q > 0.0).count() <= k as usize);
            }
        }
    }
}
