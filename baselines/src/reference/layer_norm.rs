//! `nn.LayerNorm` over the last dimension (BERT, XLM-R, ViT, SigLIP, DINOv3):
//! `y = (x - mean) / sqrt(var + eps) * weight (+ bias)` with the biased variance. PyTorch
//! computes the statistics and the affine step in fp32 even for bf16/fp16 inputs and rounds
//! once, at the output; so the reference returns unrounded f64 and the caller rounds.

/// `x` is `[rows, hidden]` row-major, `weight` (and `bias`, if any) `[hidden]`; returns
/// `[rows, hidden]`. `bias = None` is `nn.LayerNorm(bias=False)` (DINOv3 variants have it).
pub fn layer_norm(x: &[f32], weight: &[f32], bias: Option<&[f32]>, eps: f32) -> Vec<f64> {
    let h = weight.len();
    let mut out = Vec::with_capacity(x.len());
    for row in x.chunks_exact(h) {
        let mean = row.iter().map(|&v| v as f64).sum::<f64>() / h as f64;
        let var = row.iter().map(|&v| (v as f64 - mean).powi(2)).sum::<f64>() / h as f64;
        let rstd = 1.0 / (var + eps as f64).sqrt();
        for (j, &v) in row.iter().enumerate() {
            let b = bias.map_or(0.0, |b| b[j] as f64);
            out.push((v as f64 - mean) * rstd * weight[j] as f64 + b);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use fk_runtime::rng::Rng;

    #[test]
    fn hand_checked_row() {
        // mean 2.5, var 1.25: normalised [-3, -1, 1, 3] / sqrt(5).
        let out = layer_norm(&[1.0, 2.0, 3.0, 4.0], &[1.0, 2.0, 1.0, 1.0], Some(&[0.0, 0.0, 0.0, 10.0]), 0.0);
        let s = 5f64.sqrt();
        let want = [-3.0 / s, -2.0 / s, 1.0 / s, 3.0 / s + 10.0];
        for (a, b) in out.iter().zip(want) {
            assert!((a - b).abs() < 1e-12, "{out:?}");
        }
    }

    #[test]
    fn unit_affine_gives_zero_mean_unit_variance_and_bias_shifts() {
        let mut r = Rng::new(7);
        let x = r.normal_vec(3 * 40, 5.0, 3.0);
        let ones = vec![1f32; 40];
        let out = layer_norm(&x, &ones, None, 1e-12);
        for row in out.chunks_exact(40) {
            let m = row.iter().sum::<f64>() / 40.0;
            let v = row.iter().map(|v| (v - m) * (v - m)).sum::<f64>() / 40.0;
            assert!(m.abs() < 1e-12 && (v - 1.0).abs() < 1e-9, "mean {m} var {v}");
        }
        let shifted = layer_norm(&x, &ones, Some(&[0.5; 40]), 1e-12);
        assert!(out.iter().zip(&shifted).all(|(a, b)| (b - a - 0.5).abs() < 1e-12));
    }

    #[test]
    fn eps_matters_for_constant_rows() {
        // A constant row normalises to 0 either way, a nearly constant one only without eps.
        let x = [1.0f32, 1.0 + 1e-4, 1.0, 1.0 - 1e-4];
        let w = [1.0f32; 4];
        assert!(layer_norm(&x, &w, None, 0.0)[1] > 1.0);
        assert!(layer_norm(&x, &w, None, 1e-5)[1] < 0.05);
    }
}
