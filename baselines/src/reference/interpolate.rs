//! Resizing a learned position-embedding grid to a new patch grid, as
//! `torch.nn.functional.interpolate(..., align_corners=False)` does it on CPU:
//! - [`bicubic_resize`]: `mode="bicubic"`, `antialias=False` (HF ViT/SigLIP
//!   `interpolate_pos_encoding`, with `size=` given, so the scale is in/out);
//! - [`bilinear_antialias_resize`]: `mode="bilinear"`, `antialias=True` (HF SigLIP-2
//!   `resize_positional_embeddings`; when shrinking, a triangle filter widened by the scale).
//!
//! Layout `[channels, height, width]` (one NCHW image). Both are separable: each output
//! pixel is Σ_y Σ_x w_y·w_x·src, with per-axis taps computed as PyTorch computes them.

/// One output index's input taps: (input index, weight).
type Taps = Vec<(usize, f64)>;

/// Keys' cubic convolution kernel with PyTorch's A = -0.75.
fn cubic_coefficients(t: f64) -> [f64; 4] {
    const A: f64 = -0.75;
    let near = |x: f64| ((A + 2.0) * x - (A + 3.0)) * x * x + 1.0;
    let far = |x: f64| ((A * x - 5.0 * A) * x + 8.0 * A) * x - 4.0 * A;
    [far(t + 1.0), near(t), near(1.0 - t), far(2.0 - t)]
}

/// Bicubic taps: source coordinate `scale·(i + 0.5) - 0.5` (not clamped, as for cubic),
/// index and fraction guarded as `guard_index_and_lambda`, the four taps clamped to the edge.
fn cubic_taps(input: usize, output: usize) -> Vec<Taps> {
    let scale = input as f64 / output as f64;
    (0..output)
        .map(|i| {
            let real = scale * (i as f64 + 0.5) - 0.5;
            let idx = (real.floor() as i64).min(input as i64 - 1);
            let t = (real - idx as f64).clamp(0.0, 1.0);
            let w = cubic_coefficients(t);
            (0..4).map(|j| ((idx - 1 + j as i64).clamp(0, input as i64 - 1) as usize, w[j])).collect()
        })
        .collect()
}

/// Antialiased bilinear taps (`_compute_indices_min_size_weights_aa` with the triangle
/// filter): support 1 (× scale when shrinking), weights normalised to sum 1.
fn antialias_taps(input: usize, output: usize) -> Vec<Taps> {
    let scale = input as f64 / output as f64;
    let (support, invscale) = if scale >= 1.0 { (scale, 1.0 / scale) } else { (1.0, 1.0) };
    (0..output)
        .map(|i| {
            let center = scale * (i as f64 + 0.5);
            // `as i64` truncates toward zero, like the C++ int64_t cast.
            let lo = ((center - support + 0.5) as i64).max(0) as usize;
            let hi = ((center + support + 0.5) as i64).min(input as i64).max(lo as i64) as usize;
            let mut taps: Taps = (lo..hi).map(|j| (j, (1.0 - ((j as f64 - center + 0.5) * invscale).abs()).max(0.0))).collect();
            let total: f64 = taps.iter().map(|t| t.1).sum();
            if total != 0.0 {
                taps.iter_mut().for_each(|t| t.1 /= total);
            }
            taps
        })
        .collect()
}

fn separable(src: &[f32], channels: usize, (in_h, in_w): (usize, usize), ty: &[Taps], tx: &[Taps]) -> Vec<f64> {
    assert_eq!(src.len(), channels * in_h * in_w, "resize: {} values, expected {channels}×{in_h}×{in_w}", src.len());
    let mut out = Vec::with_capacity(channels * ty.len() * tx.len());
    for c in 0..channels {
        let plane = &src[c * in_h * in_w..][..in_h * in_w];
        for wy in ty {
            for wx in tx {
                let mut acc = 0.0;
                for &(y, a) in wy {
                    for &(x, b) in wx {
                        acc += a * b * plane[y * in_w + x] as f64;
                    }
                }
                out.push(acc);
            }
        }
    }
    out
}

/// `F.interpolate(x, size=(out_h, out_w), mode="bicubic", align_corners=False)`.
pub fn bicubic_resize(src: &[f32], channels: usize, input: (usize, usize), output: (usize, usize)) -> Vec<f64> {
    separable(src, channels, input, &cubic_taps(input.0, output.0), &cubic_taps(input.1, output.1))
}

/// `F.interpolate(x, size=(out_h, out_w), mode="bilinear", align_corners=False, antialias=True)`.
pub fn bilinear_antialias_resize(src: &[f32], channels: usize, input: (usize, usize), output: (usize, usize)) -> Vec<f64> {
    separable(src, channels, input, &antialias_taps(input.0, output.0), &antialias_taps(input.1, output.1))
}

#[cfg(test)]
mod tests {
    use super::*;
    use fk_runtime::rng::Rng;

    #[test]
    fn same_size_is_identity_and_constants_stay_constant() {
        let mut r = Rng::new(5);
        let x = r.normal_vec(2 * 5 * 7, 0.0, 1.0);
        for f in [bicubic_resize, bilinear_antialias_resize] {
            let same = f(&x, 2, (5, 7), (5, 7));
            assert!(same.iter().zip(&x).all(|(a, &b)| (a - b as f64).abs() < 1e-12));
            for out in [(3, 11), (9, 2), (1, 1)] {
                let c = f(&[0.25; 35], 1, (5, 7), out);
                assert!(c.iter().all(|v| (v - 0.25).abs() < 1e-12), "{c:?}");
            }
        }
    }

    /// Hand-computed: width 2 → 4 of [0, 1]. Output 0 sits at source -0.25: taps at index
    /// -2..1 clamp to (0, 0, 0, 1) and the last coefficient is far(1.25) = -0.10546875.
    #[test]
    fn bicubic_hand_checked() {
        let out = bicubic_resize(&[0.0, 1.0], 1, (1, 2), (1, 4));
        assert!((out[0] + 0.10546875).abs() < 1e-15, "{out:?}");
        // Mirror symmetry: out[3] = 1 - out[0]; out[1] + out[2] = 1.
        assert!((out[3] - 1.10546875).abs() < 1e-15 && (out[1] + out[2] - 1.0).abs() < 1e-15);
    }

    /// Hand-computed: [0, 1, 2, 3] → 2 with antialias: a triangle of half-width 2 around
    /// centres 1 and 3 gives (0·.75 + 1·.75 + 2·.25)/1.75 and (1·.25 + 2·.75 + 3·.75)/1.75 —
    /// plain bilinear would give 0.5 and 2.5. Upsampling equals plain bilinear: [0, 1] → 4
    /// is (0, 0.25, 0.75, 1).
    #[test]
    fn antialias_hand_checked() {
        let down = bilinear_antialias_resize(&[0.0, 1.0, 2.0, 3.0], 1, (1, 4), (1, 2));
        assert!((down[0] - 1.25 / 1.75).abs() < 1e-15 && (down[1] - 4.0 / 1.75).abs() < 1e-15, "{down:?}");
        let up = bilinear_antialias_resize(&[0.0, 1.0], 1, (2, 1), (4, 1));
        for (a, b) in up.iter().zip([0.0, 0.25, 0.75, 1.0]) {
            assert!((a - b).abs() < 1e-15, "{up:?}");
        }
    }
}
