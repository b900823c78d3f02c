//! Activations, elementwise and gated. The scalar functions are `pub` so module references
//! (BERT's intermediate GELU, SigLIP's gelu_pytorch_tanh, CLIP's quick_gelu) share them.

/// `nn.GELU()` / HF `"gelu"`: the exact erf form.
pub fn gelu_erf(x: f64) -> f64 {
    0.5 * x * (1.0 + libm::erf(x / std::f64::consts::SQRT_2))
}

/// `nn.GELU(approximate="tanh")` / HF `"gelu_pytorch_tanh"`, `"gelu_new"`.
pub fn gelu_tanh_scalar(x: f64) -> f64 {
    let c = (2.0 / std::f64::consts::PI).sqrt();
    0.5 * x * (1.0 + (c * (x + 0.044715 * x * x * x)).tanh())
}

/// HF `"quick_gelu"` (CLIP): `x * sigmoid(1.702 x)`.
pub fn quick_gelu_scalar(x: f64) -> f64 {
    x / (1.0 + (-1.702 * x).exp())
}

fn map(x: &[f32], act: impl Fn(f64) -> f64) -> Vec<f64> {
    x.iter().map(|&v| act(v as f64)).collect()
}

/// Elementwise exact GELU of any-shaped `x`.
pub fn gelu(x: &[f32]) -> Vec<f64> {
    map(x, gelu_erf)
}

/// Elementwise tanh-approximated GELU.
pub fn gelu_tanh(x: &[f32]) -> Vec<f64> {
    map(x, gelu_tanh_scalar)
}

/// Elementwise quick GELU.
pub fn quick_gelu(x: &[f32]) -> Vec<f64> {
    map(x, quick_gelu_scalar)
}

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
        gated(x, d, gelu_tanh_scalar)
    } else {
        gated(x, d, gelu_erf)
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

    #[test]
    fn elementwise_gelus() {
        // Φ(-1) = 0.15865525393145707, so gelu(-1) = -0.15865525393145707.
        let g = gelu(&[0.0, 1.0, -1.0]);
        assert_eq!(g[0], 0.0);
        assert!((g[1] - 0.8413447460685429).abs() < 1e-15 && (g[2] + 0.15865525393145707).abs() < 1e-15);
        assert!((gelu_tanh(&[1.0])[0] - 0.8411919906082768).abs() < 1e-12);
        // quick_gelu(1) = 1 / (1 + e^-1.702) = 0.8457957659328212.
        assert!((quick_gelu(&[1.0])[0] - 0.8457957659328212).abs() < 1e-12);
        // The three differ: a kernel that picks the wrong one fails.
        let x = [0.7f32];
        let (a, b, c) = (gelu(&x)[0], gelu_tanh(&x)[0], quick_gelu(&x)[0]);
        assert!((a - b).abs() > 1e-5 && (a - c).abs() > 1e-3, "{a} {b} {c}");
        // Large |x|: identity and zero.
        assert!((gelu(&[30.0])[0] - 30.0).abs() < 1e-12 && gelu(&[-30.0])[0].abs() < 1e-12);
    }
}
