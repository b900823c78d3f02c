//! Mamba-1 selective scan: Dao-AILab `selective_scan_fn` / `selective_state_update` and HF
//! `MambaMixer.slow_forward`'s loop, for real negative A `[D, N]` and per-token B/C `[L, N]`
//! shared by all channels (one group). The state is f64 throughout.

use super::{check_cu_seqlens, check_len, rows_of, silu, softplus};
use fk_runtime::Result;

/// The scan's tensors; `L` (or the sequence count, for the decode step) is `u.len() / dim`.
#[derive(Clone, Copy, Debug)]
pub struct ScanInputs<'a> {
    /// `[L, D]`
    pub u: &'a [f32],
    /// `[L, D]`, before `delta_bias` and softplus.
    pub delta: &'a [f32],
    /// `[D, N]`
    pub a: &'a [f32],
    /// `[L, N]`
    pub b: &'a [f32],
    /// `[L, N]`
    pub c: &'a [f32],
    /// `[D]`: skip connection `y += D * u`.
    pub d: Option<&'a [f32]>,
    /// `[L, D]`: gate, `y *= silu(z)`.
    pub z: Option<&'a [f32]>,
    /// `[D]`, added to delta before the softplus.
    pub delta_bias: Option<&'a [f32]>,
    pub delta_softplus: bool,
    pub dim: usize,
    pub d_state: usize,
}

impl<'a> ScanInputs<'a> {
    fn validate(&self, op: &str) -> Result<usize> {
        let (dm, n) = (self.dim, self.d_state);
        let l = rows_of(op, "u", self.u.len(), dm)?;
        check_len(op, "delta", self.delta.len(), l * dm)?;
        check_len(op, "A", self.a.len(), dm * n)?;
        check_len(op, "B", self.b.len(), l * n)?;
        check_len(op, "C", self.c.len(), l * n)?;
        if let Some(d) = self.d {
            check_len(op, "D", d.len(), dm)?;
        }
        if let Some(z) = self.z {
            check_len(op, "z", z.len(), l * dm)?;
        }
        if let Some(db) = self.delta_bias {
            check_len(op, "delta_bias", db.len(), dm)?;
        }
        Ok(l)
    }

    /// Rows `t0..t1` of the per-token tensors (A, D, delta_bias are shared).
    fn rows(&self, t0: usize, t1: usize) -> ScanInputs<'a> {
        let (dm, n) = (self.dim, self.d_state);
        ScanInputs {
            u: &self.u[t0 * dm..t1 * dm],
            delta: &self.delta[t0 * dm..t1 * dm],
            b: &self.b[t0 * n..t1 * n],
            c: &self.c[t0 * n..t1 * n],
            z: self.z.map(|z| &z[t0 * dm..t1 * dm]),
            ..*self
        }
    }

    /// Advances `h` `[D, N]` by token `t` and returns its output row `[D]` appended to `y`.
    fn step(&self, t: usize, h: &mut [f64], y: &mut Vec<f64>) {
        let (dm, n) = (self.dim, self.d_state);
        let bt = &self.b[t * n..(t + 1) * n];
        let ct = &self.c[t * n..(t + 1) * n];
        for ch in 0..dm {
            let u = self.u[t * dm + ch] as f64;
            let mut dt = self.delta[t * dm + ch] as f64 + self.delta_bias.map_or(0.0, |b| b[ch] as f64);
            if self.delta_softplus {
                dt = softplus(dt);
            }
            let hc = &mut h[ch * n..(ch + 1) * n];
            let mut acc = 0.0;
            for k in 0..n {
                // Zero-order-hold discretisation of A, Euler for B (Mamba's simplification).
                let da = (dt * self.a[ch * n + k] as f64).exp();
                hc[k] = da * hc[k] + dt * bt[k] as f64 * u;
                acc += hc[k] * ct[k] as f64;
            }
            acc += self.d.map_or(0.0, |d| d[ch] as f64) * u;
            if let Some(z) = self.z {
                acc *= silu(z[t * dm + ch] as f64);
            }
            y.push(acc);
        }
    }
}

/// One sequence: returns y `[L, D]` and the final state `[D, N]`, starting from
/// `initial_state` `[D, N]` (zeros when absent).
pub fn selective_scan(inp: &ScanInputs, initial_state: Option<&[f64]>) -> Result<(Vec<f64>, Vec<f64>)> {
    const OP: &str = "selective_scan";
    let l = inp.validate(OP)?;
    let sz = inp.dim * inp.d_state;
    let mut h = match initial_state {
        Some(s) => {
            check_len(OP, "initial_state", s.len(), sz)?;
            s.to_vec()
        }
        None => vec![0.0; sz],
    };
    let mut y = Vec::with_capacity(l * inp.dim);
    for t in 0..l {
        inp.step(t, &mut h, &mut y);
    }
    Ok((y, h))
}

/// Sequences concatenated at `cu_seqlens`, each scanned from its own `initial_states` slice
/// `[seqs, D, N]`; returns y `[tokens, D]` and the final states `[seqs, D, N]`.
pub fn selective_scan_varlen(inp: &ScanInputs, cu_seqlens: &[usize], initial_states: Option<&[f64]>) -> Result<(Vec<f64>, Vec<f64>)> {
    const OP: &str = "selective_scan_varlen";
    let l = inp.validate(OP)?;
    let seqs = check_cu_seqlens(OP, cu_seqlens, l)?;
    let sz = inp.dim * inp.d_state;
    if let Some(s) = initial_states {
        check_len(OP, "initial_states", s.len(), seqs * sz)?;
    }
    let (mut y, mut states) = (Vec::with_capacity(l * inp.dim), Vec::with_capacity(seqs * sz));
    for s in 0..seqs {
        let part = inp.rows(cu_seqlens[s], cu_seqlens[s + 1]);
        let (ys, hs) = selective_scan(&part, initial_states.map(|st| &st[s * sz..(s + 1) * sz]))?;
        y.extend(ys);
        states.extend(hs);
    }
    Ok((y, states))
}

/// Decode: row `s` of the inputs is sequence `s`'s next token; `state` `[seqs, D, N]` is
/// advanced in place; returns y `[seqs, D]`.
pub fn selective_state_update(inp: &ScanInputs, state: &mut [f64]) -> Result<Vec<f64>> {
    const OP: &str = "selective_state_update";
    let seqs = inp.validate(OP)?;
    let sz = inp.dim * inp.d_state;
    check_len(OP, "state", state.len(), seqs * sz)?;
    let mut y = Vec::with_capacity(seqs * inp.dim);
    for s in 0..seqs {
        inp.step(s, &mut state[s * sz..(s + 1) * sz], &mut y);
    }
    Ok(y)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reference::ssm::test_values;

    #[test]
    fn one_channel_by_hand() {
        // D = N = 1, A = -ln 2 and delta = 1 -> dA = 1/2; B = 1, C = 2, D = 0.5.
        // h1 = 1*1 = 1, y1 = 2 + 0.5; h2 = 0.5 + 3 = 3.5, y2 = 7 + 1.5.
        let a = [-(2f32.ln())];
        let inp = ScanInputs {
            u: &[1.0, 3.0],
            delta: &[1.0, 1.0],
            a: &a,
            b: &[1.0, 1.0],
            c: &[2.0, 2.0],
            d: Some(&[0.5]),
            z: None,
            delta_bias: None,
            delta_softplus: false,
            dim: 1,
            d_state: 1,
        };
        let (y, h) = selective_scan(&inp, None).unwrap();
        let da = (a[0] as f64).exp();
        let h2 = da * 1.0 + 3.0;
        assert!((y[0] - 2.5).abs() < 1e-15 && (y[1] - (2.0 * h2 + 1.5)).abs() < 1e-12, "{y:?}");
        assert!((h[0] - h2).abs() < 1e-15);
    }

    struct Data {
        u: Vec<f32>,
        delta: Vec<f32>,
        a: Vec<f32>,
        b: Vec<f32>,
        c: Vec<f32>,
        d: Vec<f32>,
        z: Vec<f32>,
        db: Vec<f32>,
    }

    fn data(l: usize, dm: usize, n: usize) -> Data {
        Data {
            u: test_values(l * dm, 1),
            delta: test_values(l * dm, 2),
            a: test_values(dm * n, 3).iter().map(|v| -(v.abs() + 0.1)).collect(),
            b: test_values(l * n, 4),
            c: test_values(l * n, 5),
            d: test_values(dm, 6),
            z: test_values(l * dm, 7),
            db: test_values(dm, 8),
        }
    }

    fn inputs(x: &Data, dm: usize, n: usize) -> ScanInputs<'_> {
        ScanInputs {
            u: &x.u,
            delta: &x.delta,
            a: &x.a,
            b: &x.b,
            c: &x.c,
            d: Some(&x.d),
            z: Some(&x.z),
            delta_bias: Some(&x.db),
            delta_softplus: true,
            dim: dm,
            d_state: n,
        }
    }

    fn close(a: &[f64], b: &[f64]) {
        assert_eq!(a.len(), b.len());
        for (x, y) in a.iter().zip(b) {
            assert!((x - y).abs() <= 1e-12 * (1.0 + y.abs()), "{x} vs {y}");
        }
    }

    #[test]
    fn continuation_varlen_and_decode_agree_with_whole_prefill() {
        let (l, dm, n) = (11, 3, 4);
        let x = data(l, dm, n);
        let inp = inputs(&x, dm, n);
        let init: Vec<f64> = test_values(dm * n, 9).iter().map(|&v| v as f64).collect();
        let (y, h) = selective_scan(&inp, Some(&init)).unwrap();
        // scan(L1) then scan(L2, init = state) == scan(L1 + L2)
        let (y1, h1) = selective_scan(&inp.rows(0, 4), Some(&init)).unwrap();
        let (y2, h2) = selective_scan(&inp.rows(4, l), Some(&h1)).unwrap();
        close(&[y1, y2].concat(), &y);
        close(&h2, &h);
        // prefill(6) then decode steps (one sequence, one row at a time)
        let (_, mut st) = selective_scan(&inp.rows(0, 6), Some(&init)).unwrap();
        let mut yd = Vec::new();
        for t in 6..l {
            yd.extend(selective_state_update(&inp.rows(t, t + 1), &mut st).unwrap());
        }
        close(&yd, &y[6 * dm..]);
        close(&st, &h);
        // varlen: split [0,3,3,11] == each alone (an empty sequence keeps its initial state)
        let inits: Vec<f64> = test_values(3 * dm * n, 10).iter().map(|&v| v as f64).collect();
        let cu = [0, 3, 3, 11];
        let (yv, hv) = selective_scan_varlen(&inp, &cu, Some(&inits)).unwrap();
        for s in 0..3 {
            let (ys, hs) = selective_scan(&inp.rows(cu[s], cu[s + 1]), Some(&inits[s * dm * n..(s + 1) * dm * n])).unwrap();
            close(&yv[cu[s] * dm..cu[s + 1] * dm], &ys);
            close(&hv[s * dm * n..(s + 1) * dm * n], &hs);
        }
        close(&hv[dm * n..2 * dm * n], &inits[dm * n..2 * dm * n]);
    }

    #[test]
    fn bad_shapes_are_errors() {
        let x = data(3, 2, 2);
        let mut inp = inputs(&x, 2, 2);
        inp.a = &x.a[..3];
        assert!(selective_scan(&inp, None).is_err());
        let inp = inputs(&x, 2, 2);
        assert!(selective_scan(&inp, Some(&[0.0; 3])).is_err());
        assert!(selective_scan_varlen(&inp, &[0, 2], None).is_err());
        assert!(selective_state_update(&inp, &mut [0.0; 4]).is_err());
    }
}
