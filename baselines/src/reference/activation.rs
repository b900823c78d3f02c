fn gated(x: &[f32], d: usize, act: impl Fn(f64) -> f64) -> Vec<f64> {
    let mut out = Vec::with_capacity(x.len() / 2);
    for row in x.chunks_exact(2 * d) {
        out.extend((0..d).map(|i| act(row[i] as f64) * row[d + i] as f64));
    }
    out
}

/// `x` is `[rows, 2d]` (gate, then up); returns `[rows, d]`.
pub fn silu_and_mul(x: &[f32], d: usize) -> Vec<f64> {
    gated(x, d, |g| g / (1.0 + (-g).exp()))
}

/// `tanh = false`: exact erf GELU; `tanh = true`: the tanh approximation.
pub fn gelu_and_mul(x: &[f32], d: usize, tanh: bool) -> Vec<f64> {
    if tanh {
        let c = (2.0 / std::f64::consts::PI).sqrt();
        gated(x, d, |g| 0.5 * g * (1.0 + (c * (g + 0.044715 * g * g * g)).tanh()))
    } else {
        gated(x, d, |g| 0.5 * g * (1.0 + libm::erf(g / std::f64::consts::SQRT_2)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_values() {
        // silu(0) = 0, silu(large) ≈ large; gelu(0) = 0; gelu(1) = 0.8413447460685429.
        let s = silu_and_mul(&[0.0, 20.0, 3.0, 2.0], 2);
        assert_eq!(s[0], 0.0);
        assert!((s[1] - 40.0).abs() < 1e-6);
        let g = gelu_and_mul(&[1.0, 1.0], 1, false);
        assert!((g[0] - 0.8413447460685429).abs() < 1e-15);
        let t = gelu_and_mul(&[1.0, 1.0], 1, true);
        assert!((t[0] - 0.8411919906082768).abs() < 1e-12);
    }
}
