/// The cos/sin cache vLLM builds for `RotaryEmbedding` with the default (unscaled) rope:
/// row p = [cos(p·f_0) … cos(p·f_{r/2-1}), sin(p·f_0) … sin(p·f_{r/2-1})], f_i = θ^(-2i/r).
pub fn cos_sin_cache(max_position: usize, rot_dim: usize, theta: f64) -> Vec<f32> {
    let freqs: Vec<f64> = (0..rot_dim / 2).map(|i| theta.powf(-((2 * i) as f64) / rot_dim as f64)).collect();
    cos_sin_cache_from_freqs(max_position, &freqs)
}

/// The same layout for any inverse frequencies (scaled ropes compute their own).
pub fn cos_sin_cache_from_freqs(max_position: usize, freqs: &[f64]) -> Vec<f32> {
    let mut c = Vec::with_capacity(max_position * 2 * freqs.len());
    for p in 0..max_position {
        c.extend(freqs.iter().map(|f| (p as f64 * f).cos() as f32));
        c.extend(freqs.iter().map(|f| (p as f64 * f).sin() as f32));
    }
    c
}

/// Rotate `x` `[tokens, heads*head_size]` (contiguous) in f64; elements past `rot_dim` and
/// tokens whose position is outside the cache are returned unchanged.
pub fn rotary_embedding(
    positions: &[i64],
    x: &[f32],
    heads: usize,
    head_size: usize,
    cache: &[f32],
    rot_dim: usize,
    is_neox: bool,
) -> Vec<f64> {
    let half = rot_dim / 2;
    let max_pos = (cache.len() / rot_dim) as i64;
    let mut out: Vec<f64> = x.iter().map(|&v| v as f64).collect();
    for (t, &pos) in positions.iter().enumerate() {
        if pos < 0 || pos >= max_pos {
            continue;
        }
        let row = &cache[pos as usize * rot_dim..][..rot_dim];
        for h in 0..heads {
            let base = (t * heads + h) * head_size;
            for i in 0..half {
                let (ia, ib) = if is_neox { (i, i + half) } else { (2 * i, 2 * i + 1) };
                let (a, b) = (x[base + ia] as f64, x[base + ib] as f64);
                let (c, s) = (row[i] as f64, row[half + i] as f64);
                out[base + ia] = a * c - b * s;
                out[base + ib] = b * c + a * s;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn position_zero_is_identity_and_norm_is_preserved() {
        let cache = cos_sin_cache(16, 8, 10000.0);
        let x: Vec<f32> = (0..16).map(|i| i as f32 - 7.5).collect(); // 2 heads x 8
        let at0 = rotary_embedding(&[0], &x, 2, 8, &cache, 8, true);
        assert!(at0.iter().zip(&x).all(|(a, &b)| (a - b as f64).abs() < 1e-6));
        for neox in [true, false] {
            let r = rotary_embedding(&[5], &x, 2, 8, &cache, 8, neox);
            let n0: f64 = x.iter().map(|&v| (v as f64).powi(2)).sum();
            let n1: f64 = r.iter().map(|v| v * v).sum();
            assert!((n0 - n1).abs() < 1e-4, "rotation must preserve the norm");
        }
    }

    #[test]
    fn partial_rotary_leaves_the_tail() {
        let cache = cos_sin_cache(8, 4, 10000.0);
        let x: Vec<f32> = (0..8).map(|i| i as f32 + 1.0).collect(); // 1 head x 8, rot 4
        let r = rotary_embedding(&[3], &x, 1, 8, &cache, 4, true);
        assert_eq!(&r[4..], &[5.0, 6.0, 7.0, 8.0]);
        assert!(r[..4].iter().zip(&x).any(|(a, &b)| (a - b as f64).abs() > 1e-3));
    }
}
