//! Bidirectional (non-causal) multi-head attention over a *padded* batch with a key-padding
//! mask: what HF encoders (BERT, XLM-R, SigLIP-2 naflex, ViT) compute with
//! `attention_mask` → an additive `-inf`/`finfo.min` bias on the masked keys. The varlen form
//! (packed tokens + cu_seqlens) is [`super::prefill_attention`] with `causal = false`.
//!
//! Layouts: q `[batch, seq, heads, head_dim]`, k/v `[batch, seq, kv_heads, head_dim]`,
//! `key_mask` `[batch, seq]` (true = a real token). Output `[batch, seq, heads, head_dim]`.

use super::attention::{attend, AttnShape};

/// Every query row, padding rows included, attends to the real keys of its sequence only
/// (HF masks keys, not queries: a padding query's output is computed and later ignored).
/// A sequence with no real key gives zeros (HF would give a uniform average; no encoder
/// feeds an all-padding row, and the wrappers reject it).
pub fn padded_attention(q: &[f32], k: &[f32], v: &[f32], key_mask: &[bool], batch: usize, seq: usize, s: &AttnShape) -> Vec<f64> {
    let (d, qw, kw) = (s.head_dim, s.heads * s.head_dim, s.kv_heads * s.head_dim);
    assert_eq!(q.len(), batch * seq * qw, "padded_attention: q has {} values, expected {batch}×{seq}×{qw}", q.len());
    assert_eq!(k.len(), batch * seq * kw, "padded_attention: k has {} values", k.len());
    assert_eq!(key_mask.len(), batch * seq, "padded_attention: mask has {} entries", key_mask.len());
    let mut out = vec![0f64; batch * seq * qw];
    let group = s.heads / s.kv_heads;
    for b in 0..batch {
        let (kb, vb) = (&k[b * seq * kw..][..seq * kw], &v[b * seq * kw..][..seq * kw]);
        let real: Vec<usize> = (0..seq).filter(|&j| key_mask[b * seq + j]).collect();
        for i in 0..seq {
            let row = b * seq + i;
            for h in 0..s.heads {
                let qi = &q[row * qw + h * d..][..d];
                attend(qi, kb, vb, s, h / group, real.iter().copied(), &mut out[row * qw + h * d..][..d]);
            }
        }
    }
    out
}

/// Cumulative sequence offsets `[0, n_0, n_0 + n_1, …]` of the real tokens of a right-padded
/// `[batch, seq]` mask (what a varlen kernel takes after the padding is squeezed out).
pub fn cu_seqlens_from_mask(key_mask: &[bool], seq: usize) -> Vec<usize> {
    let mut cu = vec![0];
    for row in key_mask.chunks_exact(seq.max(1)) {
        let last = cu[cu.len() - 1];
        cu.push(last + row.iter().filter(|&&m| m).count());
    }
    cu
}

#[cfg(test)]
mod tests {
    use super::super::prefill_attention;
    use super::*;
    use fk_runtime::rng::Rng;

    fn shape(d: usize) -> AttnShape {
        AttnShape { heads: 4, kv_heads: 2, head_dim: d, scale: 1.0 / (d as f64).sqrt() }
    }

    /// Right-padded batch: the real rows equal varlen (non-causal) attention over the packed
    /// real tokens, and changing what sits in the padding changes no real row.
    #[test]
    fn padding_never_leaks_and_equals_varlen() {
        for d in [64usize, 72, 80, 128] {
            let s = shape(d);
            let (batch, seq, lens) = (3usize, 7usize, [7usize, 3, 5]);
            let mut r = Rng::new(d as u64);
            let (qw, kw) = (4 * d, 2 * d);
            let (q, mut k, mut v) = (r.normal_vec(batch * seq * qw, 0.0, 1.0), r.normal_vec(batch * seq * kw, 0.0, 1.0), r.normal_vec(batch * seq * kw, 0.0, 1.0));
            let mask: Vec<bool> = (0..batch * seq).map(|t| t % seq < lens[t / seq]).collect();
            let out = padded_attention(&q, &k, &v, &mask, batch, seq, &s);
            let pick = |x: &[f32], w: usize| -> Vec<f32> { (0..batch * seq).filter(|&t| mask[t]).flat_map(|t| x[t * w..(t + 1) * w].to_vec()).collect() };
            let cu = cu_seqlens_from_mask(&mask, seq);
            assert_eq!(cu, [0, 7, 10, 15]);
            let packed = prefill_attention(&pick(&q, qw), &pick(&k, kw), &pick(&v, kw), &cu, &cu, &s, false);
            let real_rows: Vec<usize> = (0..batch * seq).filter(|&t| mask[t]).collect();
            for (n, &t) in real_rows.iter().enumerate() {
                for (a, b) in out[t * qw..(t + 1) * qw].iter().zip(&packed[n * qw..(n + 1) * qw]) {
                    assert!((a - b).abs() < 1e-12, "d {d} row {t}: {a} vs {b}");
                }
            }
            // Garbage in the padding keys/values must not move any real row.
            for t in (0..batch * seq).filter(|&t| !mask[t]) {
                k[t * kw..(t + 1) * kw].iter_mut().for_each(|x| *x = 1e3);
                v[t * kw..(t + 1) * kw].iter_mut().for_each(|x| *x = -1e3);
            }
            let again = padded_attention(&q, &k, &v, &mask, batch, seq, &s);
            for &t in &real_rows {
                assert_eq!(&out[t * qw..(t + 1) * qw], &again[t * qw..(t + 1) * qw]);
            }
        }
    }

    /// One real key: every query (padding queries too) returns that key's value row.
    #[test]
    fn single_real_key_returns_its_value() {
        let s = AttnShape { heads: 2, kv_heads: 1, head_dim: 4, scale: 0.5 };
        let mut r = Rng::new(3);
        let (q, k, v) = (r.normal_vec(3 * 8, 0.0, 1.0), r.normal_vec(3 * 4, 0.0, 1.0), r.normal_vec(3 * 4, 0.0, 1.0));
        let out = padded_attention(&q, &k, &v, &[true, false, false], 1, 3, &s);
        for row in 0..3 {
            for h in 0..2 {
                for i in 0..4 {
                    assert!((out[row * 8 + h * 4 + i] - v[i] as f64).abs() < 1e-12);
                }
            }
        }
    }
}
