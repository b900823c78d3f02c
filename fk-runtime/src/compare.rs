//! Comparing a computed tensor with a reference: per-dtype tolerances on the relative L2
//! error ‖out − ref‖/‖ref‖ and on every element (|out − ref| ≤ atol + rtol·|ref|).
//! NaN/Inf in the output always fails; so does a NaN left behind by the poisoned output
//! buffer, which is how an unwritten element shows up.

use crate::dtype::DType;
use std::fmt;

#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize)]
pub struct Tolerance {
    pub atol: f64,
    pub rtol: f64,
    pub max_rel_l2: f64,
}

impl Tolerance {
    /// Tolerances for a result *stored* in `dtype` and computed in fp32, against an exact
    /// (f64) reference: about two units in the last place, elementwise.
    pub fn for_dtype(dtype: DType) -> Tolerance {
        match dtype {
            DType::F32 | DType::F64 => Tolerance { atol: 1e-5, rtol: 1e-4, max_rel_l2: 1e-5 },
            DType::F16 => Tolerance { atol: 1e-3, rtol: 2e-3, max_rel_l2: 1e-3 },
            DType::BF16 => Tolerance { atol: 1e-2, rtol: 1.6e-2, max_rel_l2: 8e-3 },
            DType::F8E4M3 | DType::F8E5M2 => Tolerance { atol: 0.125, rtol: 0.125, max_rel_l2: 0.07 },
            DType::I32 | DType::I64 | DType::U8 => Tolerance { atol: 0.0, rtol: 0.0, max_rel_l2: 0.0 },
        }
    }

    pub fn scaled(self, k: f64) -> Tolerance {
        Tolerance { atol: self.atol * k, rtol: self.rtol * k, max_rel_l2: self.max_rel_l2 * k }
    }
}

#[derive(Clone, Debug, serde::Serialize)]
pub struct Comparison {
    pub n: usize,
    pub rel_l2: f64,
    pub max_abs: f64,
    /// Index of the element with the largest tolerance violation (or largest error).
    pub worst_index: usize,
    pub worst_out: f64,
    pub worst_ref: f64,
    pub non_finite: usize,
    pub out_of_tolerance: usize,
    pub tolerance: Tolerance,
}

impl Comparison {
    pub fn passed(&self) -> bool {
        self.non_finite == 0 && self.out_of_tolerance == 0 && self.rel_l2 <= self.tolerance.max_rel_l2
    }

    /// `Ok` if within tolerance, else a message saying exactly how it failed.
    pub fn check(&self, what: &str) -> Result<(), String> {
        if self.passed() {
            Ok(())
        } else {
            Err(format!("{what}: {self}"))
        }
    }
}

impl fmt::Display for Comparison {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "n={} rel_l2={:.3e} (max {:.1e}) max_abs={:.3e} non_finite={} out_of_tol={} worst[{}]: out={} ref={} (atol {:.1e}, rtol {:.1e})",
            self.n,
            self.rel_l2,
            self.tolerance.max_rel_l2,
            self.max_abs,
            self.non_finite,
            self.out_of_tolerance,
            self.worst_index,
            self.worst_out,
            self.worst_ref,
            self.tolerance.atol,
            self.tolerance.rtol
        )
    }
}

pub fn compare(out: &[f32], reference: &[f64], tol: Tolerance) -> Comparison {
    compare_bounded(out, reference, tol, &[])
}

/// [`compare`] with a per-element error bound added to `atol + rtol·|ref|`: `bound[i]`
/// (empty: none). For kernels whose inputs to a sum are rounded to a 16-bit dtype (tensor-core
/// products): the rounding error of a sum is a few units of rounding of Σ|terms|, which an
/// output that cancels to near zero does not show, so the caller passes `k·u·Σ|terms|`
/// computed by its reference.
pub fn compare_bounded(out: &[f32], reference: &[f64], tol: Tolerance, bound: &[f64]) -> Comparison {
    assert_eq!(out.len(), reference.len(), "compare: output has {} elements, reference {}", out.len(), reference.len());
    assert!(bound.is_empty() || bound.len() == out.len(), "compare: {} bounds for {} elements", bound.len(), out.len());
    let (mut diff2, mut ref2, mut max_abs) = (0f64, 0f64, 0f64);
    let (mut non_finite, mut bad) = (0usize, 0usize);
    let (mut worst, mut worst_excess) = (0usize, f64::NEG_INFINITY);
    for (i, (&o, &r)) in out.iter().zip(reference).enumerate() {
        let o = o as f64;
        if !o.is_finite() {
            non_finite += 1;
            if worst_excess < f64::INFINITY {
                worst = i;
                worst_excess = f64::INFINITY;
            }
            continue;
        }
        let d = (o - r).abs();
        diff2 += d * d;
        ref2 += r * r;
        max_abs = max_abs.max(d);
        let excess = d - (tol.atol + tol.rtol * r.abs() + bound.get(i).copied().unwrap_or(0.0));
        if excess > 0.0 {
            bad += 1;
        }
        if excess > worst_excess {
            worst = i;
            worst_excess = excess;
        }
    }
    let rel_l2 = if ref2 > 0.0 { (diff2 / ref2).sqrt() } else { diff2.sqrt() };
    Comparison {
        n: out.len(),
        rel_l2,
        max_abs,
        worst_index: worst,
        worst_out: out.get(worst).copied().unwrap_or(0.0) as f64,
        worst_ref: reference.get(worst).copied().unwrap_or(0.0),
        non_finite,
        out_of_tolerance: bad,
        tolerance: tol,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_passes_and_nan_fails() {
        let r = [1.0f64, -2.0, 3.0];
        let tol = Tolerance::for_dtype(DType::BF16);
        assert!(compare(&[1.0, -2.0, 3.0], &r, tol).passed());
        let c = compare(&[1.0, f32::NAN, 3.0], &r, tol);
        assert!(!c.passed());
        assert_eq!(c.non_finite, 1);
        assert_eq!(c.worst_index, 1);
    }

    #[test]
    fn one_bad_element_fails_even_if_l2_is_small() {
        let r: Vec<f64> = (0..100_000).map(|i| (i % 7) as f64 + 1.0).collect();
        let mut o: Vec<f32> = r.iter().map(|&x| x as f32).collect();
        o[1234] += 0.5;
        let c = compare(&o, &r, Tolerance::for_dtype(DType::BF16));
        assert!(c.rel_l2 < 1e-3);
        assert!(!c.passed());
        assert_eq!(c.worst_index, 1234);
    }
}
