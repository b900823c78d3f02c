//! DINOv3's 2D rotary position embedding (HF `DINOv3ViTRopePositionEmbedding` +
//! `apply_rotary_pos_emb`): each patch at grid (i, j) of an `nh × nw` grid has centre
//! coordinates `y = 2(i + 0.5)/nh - 1`, `x = 2(j + 0.5)/nw - 1` in [-1, 1]; with
//! `f_k = θ^(-4k/d)` for k < d/4, the angles of one head are
//! `[2π·y·f_0 … 2π·y·f_{d/4-1}, 2π·x·f_0 … 2π·x·f_{d/4-1}]`, repeated twice (`tile(2)`),
//! and applied NeoX-style (`rotate_half`). The prefix tokens (CLS + registers) are not rotated.

use super::rotary::rotary_embedding;

/// The cos/sin rows of every patch in the layout [`rotary_embedding`] takes: row p =
/// `[cos(a_0) … cos(a_{d/2-1}), sin(a_0) … sin(a_{d/2-1})]`, patches in row-major grid order.
pub fn dinov3_rope_cache(grid_h: usize, grid_w: usize, head_dim: usize, theta: f64) -> Vec<f32> {
    let quarter = head_dim / 4;
    let freqs: Vec<f64> = (0..quarter).map(|k| theta.powf(-((4 * k) as f64) / head_dim as f64)).collect();
    let two_pi = 2.0 * std::f64::consts::PI;
    let mut cache = Vec::with_capacity(grid_h * grid_w * head_dim);
    for i in 0..grid_h {
        for j in 0..grid_w {
            let y = 2.0 * (i as f64 + 0.5) / grid_h as f64 - 1.0;
            let x = 2.0 * (j as f64 + 0.5) / grid_w as f64 - 1.0;
            let angles: Vec<f64> = freqs.iter().map(|f| two_pi * y * f).chain(freqs.iter().map(|f| two_pi * x * f)).collect();
            cache.extend(angles.iter().map(|a| a.cos() as f32));
            cache.extend(angles.iter().map(|a| a.sin() as f32));
        }
    }
    cache
}

/// Rotate `x` `[tokens, heads·head_dim]` of one image whose first `prefix` tokens are CLS and
/// register tokens and whose remaining tokens are the patches of `cache`'s grid.
pub fn rope_2d(x: &[f32], heads: usize, head_dim: usize, prefix: usize, cache: &[f32]) -> Vec<f64> {
    let tokens = x.len() / (heads * head_dim);
    // Negative positions are left alone by the 1D reference: exactly the prefix tokens.
    let positions: Vec<i64> = (0..tokens as i64).map(|t| t - prefix as i64).collect();
    rotary_embedding(&positions, x, heads, head_dim, cache, head_dim, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// d = 8: f = (1, θ^-0.5). Patch (0, 1) of a 2×2 grid is at y = -0.5, x = 0.5.
    #[test]
    fn cache_hand_checked() {
        let c = dinov3_rope_cache(2, 2, 8, 100.0);
        let row = &c[8..16];
        let a = [-std::f64::consts::PI, -std::f64::consts::PI * 0.1, std::f64::consts::PI, std::f64::consts::PI * 0.1];
        for k in 0..4 {
            assert!((row[k] as f64 - a[k].cos()).abs() < 1e-7 && (row[4 + k] as f64 - a[k].sin()).abs() < 1e-7, "{row:?}");
        }
    }

    #[test]
    fn prefix_tokens_untouched_and_norms_preserved() {
        let (heads, d, prefix) = (2usize, 8usize, 3usize);
        let cache = dinov3_rope_cache(2, 3, d, 100.0);
        let tokens = prefix + 6;
        let x: Vec<f32> = (0..tokens * heads * d).map(|i| ((i * 37 % 11) as f32 - 5.0) * 0.3).collect();
        let out = rope_2d(&x, heads, d, prefix, &cache);
        assert!(out[..prefix * heads * d].iter().zip(&x).all(|(a, &b)| *a == b as f64));
        for t in prefix..tokens {
            let row = t * heads * d..(t + 1) * heads * d;
            let n0: f64 = x[row.clone()].iter().map(|&v| (v as f64).powi(2)).sum();
            let n1: f64 = out[row].iter().map(|v| v * v).sum();
            assert!((n0 - n1).abs() < 1e-5);
        }
        assert!(out[prefix * heads * d..].iter().zip(&x[prefix * heads * d..]).any(|(a, &b)| (a - b as f64).abs() > 1e-2));
    }
}
