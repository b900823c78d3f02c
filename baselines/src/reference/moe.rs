//! MoE references (HF `MixtralSparseMoeBlock`, vLLM `fused_moe`): router top-k, the
//! expert-grouped layout, the two expert GEMMs and the weighted combine, as the contracts in
//! `include/fk/ops/{topk_softmax,moe_align_block_size,fused_moe,moe_sum}.h` define them.
//! f64 arithmetic over the dtype-rounded inputs; intermediates are rounded to the dtype where
//! PyTorch materialises them (router logits, gate/up projections, act_fn's output, the
//! product, each expert's weighted output), so the composed [`moe_block_reference`] is what a
//! bf16 Mixtral block computes up to accumulation order.

use fk_runtime::host::round_scalar;
use fk_runtime::DType;

/// Router choice of one batch: `[tokens, k]` weights and expert ids, slot `t*k + j`.
#[derive(Clone, Debug, PartialEq)]
pub struct TopK {
    pub weights: Vec<f64>,
    pub ids: Vec<i32>,
    pub k: usize,
}

/// NaN reads as -inf, +inf as f32::MAX (the contract's sanitising).
fn sanitize(x: f32) -> f64 {
    if x.is_nan() {
        f64::NEG_INFINITY
    } else if x == f32::INFINITY {
        f32::MAX as f64
    } else {
        x as f64
    }
}

/// Softmax over each row of `logits` `[tokens, experts]`, the `k` largest (ties to the lower
/// expert index, compared on the logits), and with `renormalize` the chosen weights divided by
/// their sum (Mixtral). A row of all -inf has uniform probabilities.
pub fn topk_softmax(logits: &[f32], experts: usize, k: usize, renormalize: bool) -> TopK {
    let mut out = TopK { weights: Vec::new(), ids: Vec::new(), k };
    for row in logits.chunks_exact(experts.max(1)) {
        let x: Vec<f64> = row.iter().map(|&v| sanitize(v)).collect();
        let mx = x.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        let e: Vec<f64> = if mx == f64::NEG_INFINITY { vec![1.0; experts] } else { x.iter().map(|&v| (v - mx).exp()).collect() };
        let z: f64 = e.iter().sum();
        let key = |i: usize| if mx == f64::NEG_INFINITY { 0.0 } else { x[i] };
        let mut order: Vec<usize> = (0..experts).collect();
        // Larger logit first; equal logits: lower index first (a stable sort keeps index order).
        order.sort_by(|&a, &b| key(b).total_cmp(&key(a)));
        let chosen = &order[..k.min(experts)];
        let sel: f64 = chosen.iter().map(|&i| e[i] / z).sum();
        for &i in chosen {
            out.weights.push(if renormalize { e[i] / z / sel } else { e[i] / z });
            out.ids.push(i as i32);
        }
    }
    out
}

/// Size of `sorted_token_ids` that covers any routing: `slots + E*(B-1)`.
pub fn max_padded(slots: usize, experts: usize, block: usize) -> usize {
    slots + experts * (block - 1)
}

/// Size of `expert_ids`: one per block of [`max_padded`].
pub fn max_blocks(slots: usize, experts: usize, block: usize) -> usize {
    max_padded(slots, experts, block).div_ceil(block)
}

/// The output of `moe_align_block_size`, full buffers (entries past the end included).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Alignment {
    pub sorted_token_ids: Vec<i32>,
    pub expert_ids: Vec<i32>,
    pub num_tokens_post_padded: usize,
}

/// Slots grouped by expert in slot order, each group padded to a multiple of `block` with the
/// sentinel `ids.len()`; ids outside `[0, experts)` are left out.
pub fn moe_align_block_size(ids: &[i32], experts: usize, block: usize) -> Alignment {
    let slots = ids.len();
    let cap = max_padded(slots, experts, block);
    let mut sorted = Vec::with_capacity(cap);
    let mut expert_ids = Vec::with_capacity(cap.div_ceil(block));
    for e in 0..experts {
        let start = sorted.len();
        sorted.extend(ids.iter().enumerate().filter(|(_, &x)| x == e as i32).map(|(s, _)| s as i32));
        let padded = (sorted.len() - start).div_ceil(block) * block;
        sorted.resize(start + padded, slots as i32);
        expert_ids.extend(std::iter::repeat_n(e as i32, padded / block));
    }
    let post = sorted.len();
    sorted.resize(cap, slots as i32);
    expert_ids.resize(cap.div_ceil(block), -1);
    Alignment { sorted_token_ids: sorted, expert_ids, num_tokens_post_padded: post }
}

fn dot(a: &[f32], b: &[f32]) -> f64 {
    a.iter().zip(b).map(|(&x, &y)| x as f64 * y as f64).sum()
}

/// silu(g) * u with the roundings of HF's `act_fn(w1(x)) * w3(x)` in `dtype`.
pub fn silu_mul_rounded(g: f64, u: f64, dtype: DType) -> f64 {
    let g = round_scalar(g, dtype);
    let s = round_scalar(g / (1.0 + (-g).exp()), dtype);
    s * round_scalar(u, dtype)
}

/// `width` outputs per listed slot from `row(slot, expert, out)`; slots whose id is outside
/// `[0, experts)` get zeros (the kernel leaves them unwritten; tests never route there).
fn per_slot(slots: &[usize], ids: &[i32], experts: usize, width: usize, row: impl Fn(usize, usize, &mut Vec<f64>)) -> Vec<f64> {
    let mut out = Vec::with_capacity(slots.len() * width);
    for &s in slots {
        match usize::try_from(ids[s]) {
            Ok(e) if e < experts => row(s, e, &mut out),
            _ => out.extend(std::iter::repeat_n(0.0, width)),
        }
    }
    out
}

/// fused_moe gate_up for the listed slots: `x` `[T, H]`, `w13` `[E, 2I, H]`; slot s reads
/// row s / k. Returns `[slots.len(), I]` (unrounded final product).
#[allow(clippy::too_many_arguments)]
pub fn fused_moe_gate_up(x: &[f32], hidden: usize, w13: &[f32], inter: usize, ids: &[i32], k: usize, slots: &[usize], dtype: DType) -> Vec<f64> {
    let experts = w13.len() / (2 * inter * hidden).max(1);
    per_slot(slots, ids, experts, inter, |s, e, out| {
        let xr = &x[(s / k) * hidden..][..hidden];
        let w = &w13[e * 2 * inter * hidden..][..2 * inter * hidden];
        out.extend((0..inter).map(|i| silu_mul_rounded(dot(xr, &w[i * hidden..][..hidden]), dot(xr, &w[(inter + i) * hidden..][..hidden]), dtype)));
    })
}

/// fused_moe down for the listed slots: `inter` `[T*k, I]` (row = slot), `w2` `[E, H, I]`,
/// times the slot's routing weight if given. Returns `[slots.len(), H]` (unrounded).
pub fn fused_moe_down(inter: &[f32], inter_size: usize, w2: &[f32], hidden: usize, ids: &[i32], weights: Option<&[f64]>, slots: &[usize]) -> Vec<f64> {
    let experts = w2.len() / (hidden * inter_size).max(1);
    per_slot(slots, ids, experts, hidden, |s, e, out| {
        let a = &inter[s * inter_size..][..inter_size];
        let w = &w2[e * hidden * inter_size..][..hidden * inter_size];
        let scale = weights.map_or(1.0, |ws| ws[s]);
        out.extend((0..hidden).map(|n| scale * dot(a, &w[n * inter_size..][..inter_size])));
    })
}

/// moe_sum: `input` `[T, k, H]` -> `[T, H]`, each slot scaled by its weight (if given); slots
/// whose id is outside `[0, experts)` are skipped when `ids` is given.
pub fn moe_sum(input: &[f32], k: usize, hidden: usize, weights: Option<&[f32]>, ids: Option<(&[i32], usize)>) -> Vec<f64> {
    let tokens = input.len() / (k * hidden).max(1);
    let mut out = vec![0.0; tokens * hidden];
    for t in 0..tokens {
        for j in 0..k {
            let s = t * k + j;
            if let Some((ids, e)) = ids {
                if ids[s] < 0 || ids[s] as usize >= e {
                    continue;
                }
            }
            let w = weights.map_or(1.0, |w| w[s] as f64);
            for h in 0..hidden {
                out[t * hidden + h] += w * input[s * hidden + h] as f64;
            }
        }
    }
    out
}

/// Weights of one Mixtral-style sparse MoE block, as `[E, ...]` stacks of the checkpoint's
/// per-expert matrices (`block_sparse_moe.gate`, `experts.{e}.w1/w3` stacked as w13, `w2`).
pub struct MoeWeights<'a> {
    /// `[E, H]` router (`gate.weight`).
    pub router: &'a [f32],
    /// `[E, 2I, H]`: w1 (gate) rows then w3 (up) rows of each expert.
    pub w13: &'a [f32],
    /// `[E, H, I]`.
    pub w2: &'a [f32],
    pub hidden: usize,
    pub inter: usize,
    pub experts: usize,
    pub top_k: usize,
}

/// HF `MixtralSparseMoeBlock.forward` on `x` `[T, H]` in `dtype` (returns `[T, H]`, unrounded
/// final sum): logits = x · routerᵀ (rounded), softmax top-k renormalised, each chosen
/// expert's MLP (rounded as stored), weighted (vLLM: one rounding of w · y), summed in f64.
pub fn moe_block_reference(x: &[f32], m: &MoeWeights<'_>, dtype: DType) -> Vec<f64> {
    let (h, i, k) = (m.hidden, m.inter, m.top_k);
    let tokens = x.len() / h.max(1);
    let logits: Vec<f32> = fk_runtime::linear::linear_reference(x, tokens, h, m.router, m.experts, None)
        .iter()
        .map(|&v| round_scalar(v, dtype) as f32)
        .collect();
    let topk = topk_softmax(&logits, m.experts, k, true);
    let slots: Vec<usize> = (0..tokens * k).collect();
    let inter: Vec<f32> = fused_moe_gate_up(x, h, m.w13, i, &topk.ids, k, &slots, dtype).iter().map(|&v| round_scalar(v, dtype) as f32).collect();
    let y: Vec<f32> = fused_moe_down(&inter, i, m.w2, h, &topk.ids, Some(&topk.weights), &slots).iter().map(|&v| round_scalar(v, dtype) as f32).collect();
    moe_sum(&y, k, h, None, None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use fk_runtime::rng::Rng;

    #[test]
    fn topk_softmax_by_hand() {
        // softmax([0, ln 2, ln 3, ln 2]) = [1, 2, 3, 2] / 8; top-2 = expert 2 (3/8), then the
        // tie between 1 and 3 at 2/8 goes to the lower index.
        let l2 = 2f32.ln();
        let r = topk_softmax(&[0.0, l2, 3f32.ln(), l2], 4, 2, false);
        assert_eq!(r.ids, vec![2, 1]);
        assert!((r.weights[0] - 3.0 / 8.0).abs() < 1e-7 && (r.weights[1] - 2.0 / 8.0).abs() < 1e-7);
        let r = topk_softmax(&[0.0, l2, 3f32.ln(), l2], 4, 2, true);
        assert!((r.weights[0] - 0.6).abs() < 1e-7 && (r.weights[1] - 0.4).abs() < 1e-7);
        // All ties: the lowest indices, in order.
        assert_eq!(topk_softmax(&[1.0; 8], 8, 3, true).ids, vec![0, 1, 2]);
        // NaN is -inf; +inf is the largest finite value; all -inf is uniform.
        assert_eq!(topk_softmax(&[f32::NAN, 0.0, f32::INFINITY], 3, 2, false).ids, vec![2, 1]);
        let u = topk_softmax(&[f32::NEG_INFINITY; 4], 4, 2, false);
        assert_eq!((u.ids.clone(), u.weights.clone()), (vec![0, 1], vec![0.25, 0.25]));
    }

    #[test]
    fn renormalised_weights_sum_to_one_and_are_sorted() {
        let mut rng = Rng::new(7);
        for &(e, k) in &[(8, 2), (16, 1), (64, 8), (256, 8)] {
            let logits = rng.normal_vec(13 * e, 0.0, 2.0);
            let r = topk_softmax(&logits, e, k, true);
            let plain = topk_softmax(&logits, e, k, false);
            assert_eq!(r.ids, plain.ids);
            for t in 0..13 {
                let w = &r.weights[t * k..(t + 1) * k];
                assert!((w.iter().sum::<f64>() - 1.0).abs() < 1e-12);
                assert!(w.windows(2).all(|p| p[0] >= p[1]));
                let ids = &r.ids[t * k..(t + 1) * k];
                let mut u = ids.to_vec();
                u.sort();
                u.dedup();
                assert_eq!(u.len(), k, "distinct experts");
                // Every unchosen logit is <= every chosen one.
                let min_chosen = ids.iter().map(|&i| logits[t * e + i as usize]).fold(f32::INFINITY, f32::min);
                assert!((0..e).filter(|i| !ids.contains(&(*i as i32))).all(|i| logits[t * e + i] <= min_chosen));
            }
        }
    }

    #[test]
    fn align_by_hand() {
        // 3 tokens x k=2: experts [1, 0], [1, 2], [0, 1]; block 4, E 3.
        let a = moe_align_block_size(&[1, 0, 1, 2, 0, 1], 3, 4);
        let s = 6;
        assert_eq!(a.num_tokens_post_padded, 12);
        assert_eq!(&a.sorted_token_ids[..12], &[1, 4, s, s, 0, 2, 5, s, 3, s, s, s]);
        assert_eq!(a.sorted_token_ids.len(), max_padded(6, 3, 4));
        assert!(a.sorted_token_ids[12..].iter().all(|&v| v == s));
        // capacity 6 + 3 * 3 = 15 rows = 4 blocks of 4.
        assert_eq!(a.expert_ids, vec![0, 1, 2, -1]);
        // An empty expert gets no block; an id out of range is dropped.
        let a = moe_align_block_size(&[2, 2, 7, -1], 3, 2);
        assert_eq!(a.num_tokens_post_padded, 2);
        assert_eq!(&a.sorted_token_ids[..2], &[0, 1]);
        assert_eq!(a.expert_ids[0], 2);
        assert!(a.expert_ids[1..].iter().all(|&e| e == -1));
    }

    #[test]
    fn align_properties() {
        let mut rng = Rng::new(11);
        for &(slots, e, b) in &[(1, 8, 16), (2, 8, 16), (14, 8, 64), (514, 16, 128), (8192, 64, 16), (33, 256, 1)] {
            let ids: Vec<i32> = (0..slots).map(|_| rng.range(0, e as i64) as i32).collect();
            let a = moe_align_block_size(&ids, e, b);
            let post = a.num_tokens_post_padded;
            assert_eq!(post % b, 0);
            // Every slot exactly once, in its expert's block, in slot order within the expert.
            let mut seen = vec![0; slots];
            let mut last = vec![-1i64; e];
            for (r, &s) in a.sorted_token_ids[..post].iter().enumerate() {
                if s as usize == slots {
                    continue;
                }
                seen[s as usize] += 1;
                let ex = a.expert_ids[r / b];
                assert_eq!(ids[s as usize], ex);
                assert!(s as i64 > last[ex as usize]);
                last[ex as usize] = s as i64;
            }
            assert!(seen.iter().all(|&c| c == 1));
            // Padding: per expert < b sentinels, total = post - slots.
            let pads = a.sorted_token_ids[..post].iter().filter(|&&s| s as usize == slots).count();
            assert_eq!(pads, post - slots);
            let touched = (0..e).filter(|&x| ids.contains(&(x as i32))).count();
            assert!(pads <= touched * (b - 1));
            assert!(post <= max_padded(slots, e, b));
            assert_eq!(a.expert_ids.len(), max_blocks(slots, e, b));
            assert!(a.expert_ids[post / b..].iter().all(|&x| x == -1));
        }
    }

    #[test]
    fn silu_mul_and_sum_by_hand() {
        // silu(1) = 1/(1+e^-1) = 0.7310585786300049; f32 keeps it to 1e-7.
        assert!((silu_mul_rounded(1.0, 2.0, DType::F32) - 2.0 * 0.7310585786300049).abs() < 1e-6);
        // bf16 rounds g, silu(g) and u: silu(1) -> 0.73046875.
        assert_eq!(silu_mul_rounded(1.0, 1.0, DType::BF16), 0.73046875);
        // [1 token, k 2, H 2]: weights 0.25 / 0.75; the second slot skipped by an invalid id.
        let inp = [1.0, 2.0, 3.0, 4.0];
        assert_eq!(moe_sum(&inp, 2, 2, Some(&[0.25, 0.75]), None), vec![2.5, 3.5]);
        assert_eq!(moe_sum(&inp, 2, 2, None, Some((&[0, 8], 8))), vec![1.0, 2.0]);
    }

    /// The composed block (top-k, per-slot expert GEMMs, weighted sum) equals a dense
    /// evaluation: every expert on every token, masked by the routing.
    #[test]
    fn moe_block_equals_dense_evaluation() {
        let mut rng = Rng::new(3);
        let (t, h, i, e, k) = (5, 16, 24, 8, 2);
        let dtype = DType::F32;
        let x = rng.normal_vec(t * h, 0.0, 1.0);
        let router = rng.normal_vec(e * h, 0.0, 0.5);
        let w13 = rng.normal_vec(e * 2 * i * h, 0.0, 0.25);
        let w2 = rng.normal_vec(e * h * i, 0.0, 0.2);
        let m = MoeWeights { router: &router, w13: &w13, w2: &w2, hidden: h, inter: i, experts: e, top_k: k };
        let got = moe_block_reference(&x, &m, dtype);
        for tok in 0..t {
            let xr = &x[tok * h..][..h];
            let logits: Vec<f64> = (0..e).map(|ex| dot(xr, &router[ex * h..][..h])).collect();
            let mx = logits.iter().cloned().fold(f64::MIN, f64::max);
            let p: Vec<f64> = logits.iter().map(|l| (l - mx).exp()).collect();
            let mut order: Vec<usize> = (0..e).collect();
            order.sort_by(|&a, &b| p[b].total_cmp(&p[a]));
            let sel: f64 = order[..k].iter().map(|&ex| p[ex]).sum();
            for c in 0..h {
                let mut want = 0.0;
                for ex in 0..e {
                    let Some(pos) = order[..k].iter().position(|&o| o == ex) else { continue };
                    let w = p[order[pos]] / sel;
                    let w13e = &w13[ex * 2 * i * h..];
                    let act: Vec<f64> = (0..i)
                        .map(|j| {
                            let g = dot(xr, &w13e[j * h..][..h]);
                            let u = dot(xr, &w13e[(i + j) * h..][..h]);
                            g / (1.0 + (-g).exp()) * u
                        })
                        .collect();
                    let w2r = &w2[ex * h * i + c * i..][..i];
                    want += w * act.iter().zip(w2r).map(|(a, b)| a * *b as f64).sum::<f64>();
                }
                let g = got[tok * h + c];
                assert!((g - want).abs() <= 1e-5 * (1.0 + want.abs()), "token {tok} col {c}: {g} vs {want}");
            }
        }
    }
}
