//! Depthwise causal conv1d of Mamba's mixer: Dao-AILab `causal_conv1d_fn` (varlen via
//! `cu_seqlens`, optional initial/final states) and `causal_conv1d_update`; equal to HF
//! `MambaMixer.slow_forward`'s `nn.Conv1d(groups=dim, padding=width-1)` sliced to the sequence.

use super::{check_cu_seqlens, check_len, rows_of, silu};
use fk_runtime::{Error, Result};

const OP: &str = "causal_conv1d";

fn check_width(op: &str, width: usize) -> Result<()> {
    if !(2..=4).contains(&width) {
        return Err(Error::bad_input(op, format!("width must be 2..=4 (the upstream kernels' range), got {width}")));
    }
    Ok(())
}

/// x `[tokens, dim]` (sequences concatenated at `cu_seqlens`), weight `[dim, width]`, bias
/// `[dim]`, `initial_state` `[seqs, dim, width-1]` (the inputs that preceded each sequence,
/// oldest first; zeros when absent, which is the Conv1d padding). Returns the output
/// `[tokens, dim]` and each sequence's final state `[seqs, dim, width-1]`: its last width-1
/// inputs, reaching back into the initial state (or zeros) when the sequence is shorter.
pub fn causal_conv1d(
    x: &[f32],
    cu_seqlens: &[usize],
    dim: usize,
    weight: &[f32],
    bias: Option<&[f32]>,
    initial_state: Option<&[f64]>,
    activation_silu: bool,
) -> Result<(Vec<f64>, Vec<f64>)> {
    let tokens = rows_of(OP, "x", x.len(), dim)?;
    let width = rows_of(OP, "weight", weight.len(), dim)?;
    check_width(OP, width)?;
    let seqs = check_cu_seqlens(OP, cu_seqlens, tokens)?;
    let k = width - 1;
    if let Some(b) = bias {
        check_len(OP, "bias", b.len(), dim)?;
    }
    if let Some(s) = initial_state {
        check_len(OP, "initial_state", s.len(), seqs * dim * k)?;
    }
    let mut out = vec![0.0; tokens * dim];
    let mut finals = vec![0.0; seqs * dim * k];
    let mut hist = Vec::new();
    for s in 0..seqs {
        let (t0, t1) = (cu_seqlens[s], cu_seqlens[s + 1]);
        for c in 0..dim {
            // The channel's history: width-1 preceding inputs, then the sequence itself; output
            // t reads hist[t..t+width], i.e. inputs t-width+1..=t.
            hist.clear();
            match initial_state {
                Some(st) => hist.extend_from_slice(&st[(s * dim + c) * k..(s * dim + c + 1) * k]),
                None => hist.resize(k, 0.0),
            }
            hist.extend((t0..t1).map(|t| x[t * dim + c] as f64));
            let w = &weight[c * width..(c + 1) * width];
            for t in 0..t1 - t0 {
                let mut acc = bias.map_or(0.0, |b| b[c] as f64);
                acc += hist[t..t + width].iter().zip(w).map(|(&h, &wv)| h * wv as f64).sum::<f64>();
                out[(t0 + t) * dim + c] = if activation_silu { silu(acc) } else { acc };
            }
            finals[(s * dim + c) * k..(s * dim + c + 1) * k].copy_from_slice(&hist[hist.len() - k..]);
        }
    }
    Ok((out, finals))
}

/// One decode token per sequence: x `[seqs, dim]`, `conv_state` `[seqs, dim, width-1]` (oldest
/// first) is shifted left by one and x appended, in place; the output is the conv over
/// (old state, x), i.e. the same window `causal_conv1d` would use for the next token.
pub fn causal_conv1d_update(
    x: &[f32],
    dim: usize,
    conv_state: &mut [f64],
    weight: &[f32],
    bias: Option<&[f32]>,
    activation_silu: bool,
) -> Result<Vec<f64>> {
    const OP: &str = "causal_conv1d_update";
    let seqs = rows_of(OP, "x", x.len(), dim)?;
    let width = rows_of(OP, "weight", weight.len(), dim)?;
    check_width(OP, width)?;
    let k = width - 1;
    check_len(OP, "conv_state", conv_state.len(), seqs * dim * k)?;
    if let Some(b) = bias {
        check_len(OP, "bias", b.len(), dim)?;
    }
    let mut out = vec![0.0; seqs * dim];
    for s in 0..seqs {
        for c in 0..dim {
            let st = &mut conv_state[(s * dim + c) * k..(s * dim + c + 1) * k];
            let xv = x[s * dim + c] as f64;
            let w = &weight[c * width..(c + 1) * width];
            let mut acc = bias.map_or(0.0, |b| b[c] as f64);
            acc += st.iter().zip(w).map(|(&h, &wv)| h * wv as f64).sum::<f64>() + xv * w[k] as f64;
            out[s * dim + c] = if activation_silu { silu(acc) } else { acc };
            st.rotate_left(1);
            st[k - 1] = xv;
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reference::ssm::test_values;

    #[test]
    fn width2_by_hand() {
        // One channel, w = [2, 3], bias 1: y_t = 2*x_{t-1} + 3*x_t + 1 with x_{-1} = 0.
        let (y, st) = causal_conv1d(&[1.0, 2.0, 4.0], &[0, 3], 1, &[2.0, 3.0], Some(&[1.0]), None, false).unwrap();
        assert_eq!(y, vec![4.0, 9.0, 17.0]);
        assert_eq!(st, vec![4.0]);
        // With an initial state of 5 the first output sees it.
        let (y, _) = causal_conv1d(&[1.0], &[0, 1], 1, &[2.0, 3.0], None, Some(&[5.0]), false).unwrap();
        assert_eq!(y, vec![13.0]);
    }

    #[test]
    fn short_sequence_state_reaches_into_initial_state() {
        // width 4 -> state of 3; one token: state = [init1, init2, x].
        let (_, st) = causal_conv1d(&[9.0], &[0, 1], 1, &[1.0; 4], None, Some(&[1.0, 2.0, 3.0]), false).unwrap();
        assert_eq!(st, vec![2.0, 3.0, 9.0]);
        let (_, st) = causal_conv1d(&[9.0], &[0, 1], 1, &[1.0; 4], None, None, false).unwrap();
        assert_eq!(st, vec![0.0, 0.0, 9.0]);
    }

    #[test]
    fn varlen_equals_each_sequence_alone_and_prefill_then_update() {
        let (dim, width) = (3, 4);
        let cu = [0, 5, 6, 13];
        let x = test_values(13 * dim, 1);
        let w = test_values(dim * width, 2);
        let b = test_values(dim, 3);
        let init: Vec<f64> = test_values(3 * dim * 3, 4).iter().map(|&v| v as f64).collect();
        let (y, st) = causal_conv1d(&x, &cu, dim, &w, Some(&b), Some(&init), true).unwrap();
        for s in 0..3 {
            let (t0, t1) = (cu[s], cu[s + 1]);
            let (ys, ss) = causal_conv1d(
                &x[t0 * dim..t1 * dim],
                &[0, t1 - t0],
                dim,
                &w,
                Some(&b),
                Some(&init[s * dim * 3..(s + 1) * dim * 3]),
                true,
            )
            .unwrap();
            assert_eq!(&y[t0 * dim..t1 * dim], &ys[..]);
            assert_eq!(&st[s * dim * 3..(s + 1) * dim * 3], &ss[..]);
        }
        // Prefill of the first 4 tokens of sequence 2, then 3 decode steps == whole prefill.
        let xs = &x[6 * dim..13 * dim];
        let i2 = &init[2 * dim * 3..];
        let (_, mut state) = causal_conv1d(&xs[..4 * dim], &[0, 4], dim, &w, Some(&b), Some(i2), true).unwrap();
        for t in 4..7 {
            let yt = causal_conv1d_update(&xs[t * dim..(t + 1) * dim], dim, &mut state, &w, Some(&b), true).unwrap();
            for c in 0..dim {
                assert!((yt[c] - y[(6 + t) * dim + c]).abs() < 1e-14);
            }
        }
        assert_eq!(state, &st[2 * dim * 3..]);
    }

    #[test]
    fn bad_shapes_are_errors() {
        assert!(causal_conv1d(&[1.0; 4], &[0, 3], 1, &[1.0, 1.0], None, None, false).is_err());
        assert!(causal_conv1d(&[1.0; 4], &[0, 4], 1, &[1.0; 5], None, None, false).is_err());
        assert!(causal_conv1d_update(&[1.0; 2], 1, &mut [0.0; 1], &[1.0, 1.0], None, false).is_err());
    }
}
