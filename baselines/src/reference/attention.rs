//! Attention references (f64): variable-length prefill (causal or not, GQA/MQA) as
//! `flash_attn_varlen_func` computes it, the paged KV cache write (`reshape_and_cache`) and
//! paged decode attention over block tables, as vLLM's kernels compute them.
//!
//! Layouts (vLLM "NHD"): q `[tokens, heads, head_dim]`; k/v `[tokens, kv_heads, head_dim]`;
//! caches `[num_blocks, block_size, kv_heads, head_dim]`; block_table `[seqs, max_blocks]`.

/// Geometry shared by the attention references.
#[derive(Clone, Copy, Debug)]
pub struct AttnShape {
    pub heads: usize,
    pub kv_heads: usize,
    pub head_dim: usize,
    pub scale: f64,
}

impl AttnShape {
    fn kv_head(&self, head: usize) -> usize {
        head / (self.heads / self.kv_heads)
    }
}

/// Softmax-weighted sum of `v_rows` for one query row over `keys` (indices into k/v rows).
pub(super) fn attend(q: &[f32], k: &[f32], v: &[f32], s: &AttnShape, kvh: usize, keys: impl Iterator<Item = usize> + Clone, out: &mut [f64]) {
    let (d, kv_stride) = (s.head_dim, s.kv_heads * s.head_dim);
    let scores: Vec<f64> = keys
        .clone()
        .map(|j| q.iter().zip(&k[j * kv_stride + kvh * d..][..d]).map(|(&a, &b)| a as f64 * b as f64).sum::<f64>() * s.scale)
        .collect();
    if scores.is_empty() {
        out.iter_mut().for_each(|o| *o = 0.0);
        return;
    }
    let m = scores.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    let e: Vec<f64> = scores.iter().map(|x| (x - m).exp()).collect();
    let z: f64 = e.iter().sum();
    out.iter_mut().for_each(|o| *o = 0.0);
    for (w, j) in e.iter().zip(keys) {
        for (o, &vv) in out.iter_mut().zip(&v[j * kv_stride + kvh * d..][..d]) {
            *o += w / z * vv as f64;
        }
    }
}

/// The masks of prefill attention. `causal`: query i of a sequence sees keys up to
/// `i + (len_k - len_q)` (bottom-right aligned, as FlashAttention does when the keys include a
/// cached prefix); `window_left` w: it also sees only keys from `i + (len_k - len_q) - w` on
/// (Mistral's sliding window, FlashAttention's `window_size = (w, 0)`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AttnMask {
    pub causal: bool,
    pub window_left: Option<usize>,
}

impl AttnMask {
    /// Keys `[lo, hi)` visible to query `i` of a sequence with `len_q` queries and `len_k` keys.
    pub fn visible(&self, i: usize, len_q: usize, len_k: usize) -> (usize, usize) {
        let diag = i as i64 + len_k as i64 - len_q as i64;
        let hi = if self.causal { (diag + 1).clamp(0, len_k as i64) } else { len_k as i64 };
        let lo = self.window_left.map_or(0, |w| (diag - w as i64).clamp(0, len_k as i64));
        (lo as usize, hi.max(lo) as usize)
    }
}

/// Prefill attention over a batch of sequences packed along tokens. `cu_q`/`cu_k` are the
/// cumulative offsets (`[0, len_0, len_0 + len_1, …]`). With `causal`, query i of a sequence
/// sees keys up to `i + (len_k - len_q)` (see [`AttnMask`]). Returns `[total_q, heads, head_dim]`.
pub fn prefill_attention(q: &[f32], k: &[f32], v: &[f32], cu_q: &[usize], cu_k: &[usize], s: &AttnShape, causal: bool) -> Vec<f64> {
    prefill_attention_masked(q, k, v, cu_q, cu_k, s, AttnMask { causal, window_left: None })
}

/// [`prefill_attention`] with any [`AttnMask`]. A query row with no visible key is 0.
pub fn prefill_attention_masked(q: &[f32], k: &[f32], v: &[f32], cu_q: &[usize], cu_k: &[usize], s: &AttnShape, mask: AttnMask) -> Vec<f64> {
    let total_q = cu_q.last().copied().unwrap_or(0);
    prefill_attention_rows(q, k, v, cu_q, cu_k, s, mask, &(0..total_q).collect::<Vec<_>>())
}

/// Only the query rows `rows` (indices into the packed tokens) of
/// [`prefill_attention_masked`]: `[rows.len(), heads, head_dim]`. For spot checks of shapes
/// whose full reference would take minutes.
#[allow(clippy::too_many_arguments)]
pub fn prefill_attention_rows(q: &[f32], k: &[f32], v: &[f32], cu_q: &[usize], cu_k: &[usize], s: &AttnShape, mask: AttnMask, rows: &[usize]) -> Vec<f64> {
    let (d, hd) = (s.head_dim, s.heads * s.head_dim);
    let mut out = vec![0f64; rows.len() * hd];
    for (n, &row) in rows.iter().enumerate() {
        // The sequence holding `row`: the last b with cu_q[b] <= row (empty sequences skipped).
        let b = cu_q.partition_point(|&c| c <= row) - 1;
        let (q0, q1, k0, k1) = (cu_q[b], cu_q[b + 1], cu_k[b], cu_k[b + 1]);
        let (lo, hi) = mask.visible(row - q0, q1 - q0, k1 - k0);
        for h in 0..s.heads {
            let qi = &q[(row * s.heads + h) * d..][..d];
            attend(qi, k, v, s, s.kv_head(h), (lo..hi).map(|j| k0 + j), &mut out[n * hd + h * d..][..d]);
        }
    }
    out
}

/// Gather the keys (or values) of each sequence out of an NHD paged cache into contiguous rows
/// `[sum(seq_lens), kv_heads * head_dim]`, as `cu_k` = prefix sums of `seq_lens` describes them:
/// the contiguous source equivalent to (cache, block_table, seq_lens).
pub fn gather_paged(cache: &[f32], block_table: &[i32], max_blocks: usize, seq_lens: &[usize], block_size: usize, row: usize) -> Vec<f32> {
    let mut out = Vec::with_capacity(seq_lens.iter().sum::<usize>() * row);
    for (b, &len) in seq_lens.iter().enumerate() {
        for j in 0..len {
            let slot = block_table[b * max_blocks + j / block_size] as usize * block_size + j % block_size;
            out.extend_from_slice(&cache[slot * row..(slot + 1) * row]);
        }
    }
    out
}

/// Write new `k`/`v` rows (`[tokens, kv_heads, head_dim]`) into the caches at `slots`
/// (`slot = block * block_size + offset`; a negative slot is padding and is skipped, as in vLLM).
pub fn reshape_and_cache(k: &[f32], v: &[f32], slots: &[i64], k_cache: &mut [f32], v_cache: &mut [f32], kv_heads: usize, head_dim: usize) {
    let row = kv_heads * head_dim;
    for (t, &slot) in slots.iter().enumerate() {
        if slot < 0 {
            continue;
        }
        let s = slot as usize;
        k_cache[s * row..(s + 1) * row].copy_from_slice(&k[t * row..(t + 1) * row]);
        v_cache[s * row..(s + 1) * row].copy_from_slice(&v[t * row..(t + 1) * row]);
    }
}

#[allow(clippy::too_many_arguments)] // mirrors the kernel's argument list one to one
/// Decode attention: one query token per sequence (`q` `[seqs, heads, head_dim]`) over its
/// `seq_lens[b]` cached tokens, found through `block_table` (`[seqs, max_blocks]`).
pub fn paged_decode_attention(
    q: &[f32],
    k_cache: &[f32],
    v_cache: &[f32],
    block_table: &[i32],
    max_blocks: usize,
    seq_lens: &[usize],
    block_size: usize,
    s: &AttnShape,
) -> Vec<f64> {
    let d = s.head_dim;
    let mut out = vec![0f64; q.len()];
    for (b, &len) in seq_lens.iter().enumerate() {
        let slot = |j: usize| block_table[b * max_blocks + j / block_size] as usize * block_size + j % block_size;
        for h in 0..s.heads {
            let qi = &q[(b * s.heads + h) * d..][..d];
            attend(qi, k_cache, v_cache, s, s.kv_head(h), (0..len).map(slot), &mut out[(b * s.heads + h) * d..][..d]);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use fk_runtime::rng::Rng;

    fn shape() -> AttnShape {
        AttnShape { heads: 4, kv_heads: 2, head_dim: 8, scale: 1.0 / 8f64.sqrt() }
    }

    #[test]
    fn first_causal_token_returns_its_value() {
        let s = shape();
        let mut r = Rng::new(1);
        let (q, k, v) = (r.normal_vec(3 * 4 * 8, 0.0, 1.0), r.normal_vec(3 * 2 * 8, 0.0, 1.0), r.normal_vec(3 * 2 * 8, 0.0, 1.0));
        let out = prefill_attention(&q, &k, &v, &[0, 3], &[0, 3], &s, true);
        for h in 0..4 {
            let kvh = h / 2;
            for i in 0..8 {
                assert!((out[h * 8 + i] - v[kvh * 8 + i] as f64).abs() < 1e-12);
            }
        }
    }

    #[test]
    fn varlen_batch_equals_sequences_run_alone() {
        let s = shape();
        let mut r = Rng::new(2);
        let lens = [5usize, 1, 7];
        let total: usize = lens.iter().sum();
        let (q, k, v) = (r.normal_vec(total * 32, 0.0, 1.0), r.normal_vec(total * 16, 0.0, 1.0), r.normal_vec(total * 16, 0.0, 1.0));
        let cu: Vec<usize> = std::iter::once(0).chain(lens.iter().scan(0, |a, &l| { *a += l; Some(*a) })).collect();
        let packed = prefill_attention(&q, &k, &v, &cu, &cu, &s, true);
        for b in 0..lens.len() {
            let (a, e) = (cu[b], cu[b + 1]);
            let alone = prefill_attention(&q[a * 32..e * 32], &k[a * 16..e * 16], &v[a * 16..e * 16], &[0, e - a], &[0, e - a], &s, true);
            assert_eq!(&packed[a * 32..e * 32], &alone[..]);
        }
    }

    /// The last prefill row equals decode over a paged cache holding the same keys, with the
    /// cache blocks scattered in shuffled order.
    #[test]
    fn paged_decode_matches_prefill_last_row() {
        let s = shape();
        let mut r = Rng::new(3);
        let (len, bs) = (21usize, 4usize);
        let (q, k, v) = (r.normal_vec(len * 32, 0.0, 1.0), r.normal_vec(len * 16, 0.0, 1.0), r.normal_vec(len * 16, 0.0, 1.0));
        let prefill = prefill_attention(&q, &k, &v, &[0, len], &[0, len], &s, true);
        let nblocks = len.div_ceil(bs);
        let table: Vec<i32> = (0..nblocks as i32).map(|b| (b * 5 + 3) % 11).collect(); // distinct physical blocks
        let slots: Vec<i64> = (0..len).map(|j| table[j / bs] as i64 * bs as i64 + (j % bs) as i64).collect();
        let (mut kc, mut vc) = (vec![f32::NAN; 11 * bs * 16], vec![f32::NAN; 11 * bs * 16]);
        reshape_and_cache(&k, &v, &slots, &mut kc, &mut vc, 2, 8);
        let dec = paged_decode_attention(&q[(len - 1) * 32..], &kc, &vc, &table, nblocks, &[len], bs, &s);
        for (a, b) in dec.iter().zip(&prefill[(len - 1) * 32..]) {
            assert!((a - b).abs() < 1e-12, "{a} vs {b}");
        }
    }

    /// The window keeps exactly w+1 keys ending at the diagonal; a row whose window and
    /// causal band do not meet (len_q > len_k) is zero.
    #[test]
    fn window_and_empty_rows() {
        let m = AttnMask { causal: true, window_left: Some(2) };
        assert_eq!(m.visible(5, 10, 10), (3, 6));
        assert_eq!(m.visible(0, 10, 10), (0, 1));
        assert_eq!(m.visible(3, 10, 5), (0, 0)); // diagonal -2: nothing visible
        assert_eq!(AttnMask { causal: false, window_left: Some(1) }.visible(2, 3, 3), (1, 3));
        let s = shape();
        let mut r = Rng::new(4);
        let (q, k, v) = (r.normal_vec(4 * 32, 0.0, 1.0), r.normal_vec(2 * 16, 0.0, 1.0), r.normal_vec(2 * 16, 0.0, 1.0));
        let out = prefill_attention(&q, &k, &v, &[0, 4], &[0, 2], &s, true);
        assert!(out[..2 * 32].iter().all(|&x| x == 0.0), "rows 0, 1 see no key");
        let w0 = prefill_attention_masked(&q, &k, &v, &[0, 4], &[0, 2], &s, AttnMask { causal: true, window_left: Some(0) });
        for h in 0..4 {
            for i in 0..8 {
                // row 3 sees only key 1 (its diagonal): the output is that value row
                assert!((w0[(3 * 4 + h) * 8 + i] - v[(h / 2) * 8 + 16 + i] as f64).abs() < 1e-12);
            }
        }
    }

    /// Gathering a shuffled paged cache gives back the contiguous keys.
    #[test]
    fn gather_paged_inverts_reshape_and_cache() {
        let (bs, row) = (4usize, 3usize);
        let lens = [5usize, 2];
        let table = [3i32, 0, 9, 1, 7, 9];
        let k: Vec<f32> = (0..7 * row).map(|x| x as f32).collect();
        let slots: Vec<i64> = [(0, 0), (0, 1), (0, 2), (0, 3), (0, 4), (1, 0), (1, 1)]
            .iter()
            .map(|&(b, j): &(usize, usize)| table[b * 3 + j / bs] as i64 * bs as i64 + (j % bs) as i64)
            .collect();
        let mut cache = vec![f32::NAN; 10 * bs * row];
        let mut vc = cache.clone();
        reshape_and_cache(&k, &k, &slots, &mut cache, &mut vc, 1, row);
        assert_eq!(gather_paged(&cache, &table, 3, &lens, bs, row), k);
    }

    #[test]
    fn padding_slots_are_skipped() {
        let (mut kc, mut vc) = (vec![0f32; 8], vec![0f32; 8]);
        reshape_and_cache(&[1.0; 4], &[2.0; 4], &[1, -1], &mut kc, &mut vc, 1, 2);
        assert_eq!(kc, [0.0, 0.0, 1.0, 1.0, 0.0, 0.0, 0.0, 0.0]);
        assert_eq!(vc, [0.0, 0.0, 2.0, 2.0, 0.0, 0.0, 0.0, 0.0]);
    }
}
