//! Pooling of encoder outputs `[batch, seq, hidden]` into one vector per sequence:
//! masked mean (sentence-transformers' `Pooling(mean)`), CLS (first token; BGE-M3's dense
//! vector, BertPooler's input), and L2 normalisation (`F.normalize`). SigLIP's
//! attention-pool head is a module built on [`super::padded_attention`].

/// Mean over the real tokens: `sum(x·m) / max(sum(m), 1e-9)` as sentence-transformers does
/// (an all-padding row gives 0, not NaN).
pub fn mean_pool(x: &[f32], mask: &[bool], batch: usize, seq: usize, hidden: usize) -> Vec<f64> {
    let mut out = vec![0f64; batch * hidden];
    for b in 0..batch {
        let n = (0..seq).filter(|&t| mask[b * seq + t]).count() as f64;
        for t in (0..seq).filter(|&t| mask[b * seq + t]) {
            for (o, &v) in out[b * hidden..(b + 1) * hidden].iter_mut().zip(&x[(b * seq + t) * hidden..][..hidden]) {
                *o += v as f64;
            }
        }
        out[b * hidden..(b + 1) * hidden].iter_mut().for_each(|o| *o /= n.max(1e-9));
    }
    out
}

/// The first token of each sequence (`last_hidden_state[:, 0]`).
pub fn cls_pool(x: &[f32], batch: usize, seq: usize, hidden: usize) -> Vec<f64> {
    (0..batch).flat_map(|b| x[b * seq * hidden..][..hidden].iter().map(|&v| v as f64)).collect()
}

/// `F.normalize(x, p=2, dim=-1)`: each `[.., dim]` row over `max(‖row‖, 1e-12)`.
pub fn l2_normalize(x: &[f64], dim: usize) -> Vec<f64> {
    let mut out = Vec::with_capacity(x.len());
    for row in x.chunks_exact(dim) {
        let n = row.iter().map(|v| v * v).sum::<f64>().sqrt().max(1e-12);
        out.extend(row.iter().map(|v| v / n));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mean_ignores_padding_and_cls_takes_token_zero() {
        // batch 2, seq 3, hidden 2; the second sequence has one real token.
        let x = [1.0f32, 2.0, 3.0, 4.0, 100.0, 100.0, 5.0, 6.0, -7.0, 7.0, 9.0, 9.0];
        let m = [true, true, false, true, false, false];
        assert_eq!(mean_pool(&x, &m, 2, 3, 2), vec![2.0, 3.0, 5.0, 6.0]);
        assert_eq!(cls_pool(&x, 2, 3, 2), vec![1.0, 2.0, 5.0, 6.0]);
        assert_eq!(mean_pool(&x, &[false; 6], 2, 3, 2), vec![0.0; 4]);
    }

    #[test]
    fn normalize_gives_unit_rows_and_keeps_zero_rows() {
        let n = l2_normalize(&[3.0, 4.0, 0.0, 0.0], 2);
        assert_eq!(n, vec![0.6, 0.8, 0.0, 0.0]);
    }
}
