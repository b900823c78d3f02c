//! Mamba-2's `MambaRMSNormGated` (HF transformers `modeling_mamba2`, `norm_before_gate=False`):
//! the gate multiplies first, then RMS-normalisation within groups of `group_size` channels
//! (Mamba-2 normalises per group so tensor-parallel shards stay independent), then the weight.

use super::{check_len, rows_of, silu};
use fk_runtime::{Error, Result};

/// x, z `[T, hidden]`, weight `[hidden]`: `y = rmsnorm_group(x * silu(z)) * weight`.
/// HF casts to f32 for the norm and back before the weight; here all of it is f64 (the
/// oracle of the math; a dtype-faithful variant can round at the same place later).
pub fn rms_norm_gated(x: &[f32], z: &[f32], weight: &[f32], eps: f64, group_size: usize) -> Result<Vec<f64>> {
    const OP: &str = "rms_norm_gated";
    let hidden = weight.len();
    if group_size == 0 || hidden % group_size != 0 {
        return Err(Error::shape(OP, format!("hidden {hidden} is not a multiple of group_size {group_size}")));
    }
    let t = rows_of(OP, "x", x.len(), hidden)?;
    check_len(OP, "z", z.len(), t * hidden)?;
    let mut out = Vec::with_capacity(x.len());
    let mut g = Vec::with_capacity(group_size);
    for (xr, zr) in x.chunks_exact(hidden).zip(z.chunks_exact(hidden)) {
        for (gi, (xg, zg)) in xr.chunks_exact(group_size).zip(zr.chunks_exact(group_size)).enumerate() {
            g.clear();
            g.extend(xg.iter().zip(zg).map(|(&a, &b)| a as f64 * silu(b as f64)));
            let ms = g.iter().map(|v| v * v).sum::<f64>() / group_size as f64;
            let r = 1.0 / (ms + eps).sqrt();
            let w = &weight[gi * group_size..(gi + 1) * group_size];
            out.extend(g.iter().zip(w).map(|(&v, &wv)| v * r * wv as f64));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_normalise_independently() {
        // Large z: silu(z) ~ z, so gate 20 scales x by ~20 and the norm removes it.
        let x = [1.0, -1.0, 3.0, 3.0];
        let z = [30.0f32; 4];
        let y = rms_norm_gated(&x, &z, &[1.0, 2.0, 1.0, 1.0], 0.0, 2).unwrap();
        let want = [1.0, -2.0, 1.0, 1.0];
        for (a, b) in y.iter().zip(want) {
            assert!((a - b).abs() < 1e-12, "{y:?}");
        }
        // One group of 4 differs: rms of [1,-1,3,3] is sqrt(5).
        let y = rms_norm_gated(&x, &z, &[1.0; 4], 0.0, 4).unwrap();
        assert!((y[0] - 1.0 / 5f64.sqrt()).abs() < 1e-12);
        assert!(rms_norm_gated(&x, &z, &[1.0; 4], 0.0, 3).is_err());
        assert!(rms_norm_gated(&x, &z[..3], &[1.0; 4], 0.0, 2).is_err());
    }
}
