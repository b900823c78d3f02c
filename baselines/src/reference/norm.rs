use fk_runtime::host::round_scalar;
use fk_runtime::DType;

fn norm_row(row: &[f64], weight: &[f32], eps: f32, dtype: DType, out: &mut Vec<f64>) {
    let ms = row.iter().map(|v| v * v).sum::<f64>() / row.len() as f64;
    let rstd = 1.0 / (ms + eps as f64).sqrt();
    out.extend(row.iter().zip(weight).map(|(&v, &w)| round_scalar(v * rstd, dtype) * w as f64));
}

/// `x` is `[rows, hidden]` row-major; returns `[rows, hidden]`.
pub fn rms_norm(x: &[f32], weight: &[f32], eps: f32, dtype: DType) -> Vec<f64> {
    let h = weight.len();
    let mut out = Vec::with_capacity(x.len());
    for row in x.chunks_exact(h) {
        let r: Vec<f64> = row.iter().map(|&v| v as f64).collect();
        norm_row(&r, weight, eps, dtype, &mut out);
    }
    out
}

/// Returns `(new_input, new_residual)`: residual' = round(x + r); input' = rms_norm(residual').
pub fn fused_add_rms_norm(x: &[f32], residual: &[f32], weight: &[f32], eps: f32, dtype: DType) -> (Vec<f64>, Vec<f64>) {
    let h = weight.len();
    let mut out = Vec::with_capacity(x.len());
    let mut res = Vec::with_capacity(x.len());
    for (xr, rr) in x.chunks_exact(h).zip(residual.chunks_exact(h)) {
        let s: Vec<f64> = xr.iter().zip(rr).map(|(&a, &b)| round_scalar(a as f64 + b as f64, dtype)).collect();
        norm_row(&s, weight, eps, dtype, &mut out);
        res.extend(s);
    }
    (out, res)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unit_rows_are_scaled_by_weight() {
        // mean(x^2) = 1 for x = ±1, so out = x * w (with eps 0).
        let out = rms_norm(&[1.0, -1.0, 1.0, -1.0], &[2.0, 3.0, 4.0, 5.0], 0.0, DType::F32);
        assert_eq!(out, vec![2.0, -3.0, 4.0, -5.0]);
    }

    #[test]
    fn eps_matters_for_small_rows() {
        let x = [1e-3f32; 8];
        let w = [1.0f32; 8];
        let with = rms_norm(&x, &w, 1e-5, DType::F32)[0];
        let without = rms_norm(&x, &w, 0.0, DType::F32)[0];
        assert!((without - 1.0).abs() < 1e-6 && with < 0.33, "with eps {with}, without {without}");
    }

    #[test]
    fn fused_add_is_add_then_norm() {
        let (x, r, w) = ([0.5f32, -1.5, 2.0, 1.0], [0.5f32, 0.5, -1.0, 0.0], [1.0f32; 4]);
        let (out, res) = fused_add_rms_norm(&x, &r, &w, 1e-6, DType::F32);
        assert_eq!(res, vec![1.0, -1.0, 1.0, 1.0]);
        let direct = rms_norm(&[1.0, -1.0, 1.0, 1.0], &w, 1e-6, DType::F32);
        assert_eq!(out, direct);
    }
}
