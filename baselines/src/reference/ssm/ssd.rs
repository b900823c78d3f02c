//! Mamba-2 scan (SSD): the recurrence with a scalar A per head, B/C per group, dt per head.
//! [`ssd_sequential`] is the plain recurrence (the oracle), [`ssd_chunked`] the same map
//! computed as Dao-AILab `mamba_chunk_scan_combined` / HF `Mamba2Mixer.torch_forward` do, so
//! the GPU kernel has a reference of its algorithm; [`selective_state_update_mamba2`] is the
//! decode step (`selective_state_update` with per-head A, `dt_bias`, `dt_softplus`).

use super::{check_len, rows_of, silu, softplus};
use fk_runtime::{Error, Result};

/// The SSD tensors; `L` (the sequence count for the decode step) is `x.len() / (heads*head_dim)`.
#[derive(Clone, Copy, Debug)]
pub struct SsdInputs<'a> {
    /// `[L, heads, head_dim]`
    pub x: &'a [f32],
    /// `[L, heads]`, before `dt_bias` and softplus.
    pub dt: &'a [f32],
    /// `[heads]`, negative.
    pub a: &'a [f32],
    /// `[L, ngroups, N]`
    pub b: &'a [f32],
    /// `[L, ngroups, N]`
    pub c: &'a [f32],
    /// `[heads]`: `y += D * x`.
    pub d: Option<&'a [f32]>,
    /// `[L, heads, head_dim]`: `y *= silu(z)` (HF Mamba2 gates in the norm instead).
    pub z: Option<&'a [f32]>,
    /// `[heads]`
    pub dt_bias: Option<&'a [f32]>,
    pub dt_softplus: bool,
    pub heads: usize,
    pub head_dim: usize,
    pub ngroups: usize,
    pub d_state: usize,
}

impl<'a> SsdInputs<'a> {
    fn validate(&self, op: &str) -> Result<usize> {
        let (h, p, g, n) = (self.heads, self.head_dim, self.ngroups, self.d_state);
        if g == 0 || h % g != 0 {
            return Err(Error::shape(op, format!("{h} heads do not split evenly over {g} groups")));
        }
        let l = rows_of(op, "x", self.x.len(), h * p)?;
        check_len(op, "dt", self.dt.len(), l * h)?;
        check_len(op, "A", self.a.len(), h)?;
        check_len(op, "B", self.b.len(), l * g * n)?;
        check_len(op, "C", self.c.len(), l * g * n)?;
        if let Some(d) = self.d {
            check_len(op, "D", d.len(), h)?;
        }
        if let Some(z) = self.z {
            check_len(op, "z", z.len(), l * h * p)?;
        }
        if let Some(b) = self.dt_bias {
            check_len(op, "dt_bias", b.len(), h)?;
        }
        Ok(l)
    }

    fn state_len(&self) -> usize {
        self.heads * self.head_dim * self.d_state
    }

    /// The effective step of token `t`, head `h`: softplus(dt + dt_bias) when asked.
    fn dt_eff(&self, t: usize, h: usize) -> f64 {
        let v = self.dt[t * self.heads + h] as f64 + self.dt_bias.map_or(0.0, |b| b[h] as f64);
        if self.dt_softplus {
            softplus(v)
        } else {
            v
        }
    }

    fn group(&self, h: usize) -> usize {
        h / (self.heads / self.ngroups)
    }

    fn bc(&self, m: &'a [f32], t: usize, h: usize) -> &'a [f32] {
        let (g, n) = (self.group(h), self.d_state);
        &m[(t * self.ngroups + g) * n..(t * self.ngroups + g + 1) * n]
    }

    /// D skip and z gate on the scan output of (token t, head h, channel p).
    fn finish(&self, t: usize, h: usize, p: usize, y: f64) -> f64 {
        let i = (t * self.heads + h) * self.head_dim + p;
        let xv = self.x[i] as f64;
        let mut y = y + self.d.map_or(0.0, |d| d[h] as f64) * xv;
        if let Some(z) = self.z {
            y *= silu(z[i] as f64);
        }
        y
    }

    /// Advances `state` `[heads, head_dim, N]` by token `t`, writing y `[heads, head_dim]`.
    fn step(&self, t: usize, state: &mut [f64], y: &mut Vec<f64>) {
        let (pd, n) = (self.head_dim, self.d_state);
        for h in 0..self.heads {
            let dt = self.dt_eff(t, h);
            let da = (dt * self.a[h] as f64).exp();
            let (bt, ct) = (self.bc(self.b, t, h), self.bc(self.c, t, h));
            for p in 0..pd {
                let xv = self.x[(t * self.heads + h) * pd + p] as f64;
                let s = &mut state[(h * pd + p) * n..(h * pd + p + 1) * n];
                let mut acc = 0.0;
                for k in 0..n {
                    s[k] = da * s[k] + dt * bt[k] as f64 * xv;
                    acc += s[k] * ct[k] as f64;
                }
                y.push(self.finish(t, h, p, acc));
            }
        }
    }
}

fn initial(op: &str, inp: &SsdInputs, init: Option<&[f64]>) -> Result<Vec<f64>> {
    match init {
        Some(s) => {
            check_len(op, "initial_state", s.len(), inp.state_len())?;
            Ok(s.to_vec())
        }
        None => Ok(vec![0.0; inp.state_len()]),
    }
}

/// The plain recurrence over one sequence: h = exp(dt*A) h + dt * x Bᵀ, y = h C + D x, then
/// the gate. Returns y `[L, heads, head_dim]` and the final state `[heads, head_dim, N]`.
pub fn ssd_sequential(inp: &SsdInputs, initial_state: Option<&[f64]>) -> Result<(Vec<f64>, Vec<f64>)> {
    const OP: &str = "ssd_sequential";
    let l = inp.validate(OP)?;
    let mut st = initial(OP, inp, initial_state)?;
    let mut y = Vec::with_capacity(l * inp.heads * inp.head_dim);
    for t in 0..l {
        inp.step(t, &mut st, &mut y);
    }
    Ok((y, st))
}

/// Decode: row `s` is sequence `s`'s next token; `state` `[seqs, heads, head_dim, N]` is
/// advanced in place; returns y `[seqs, heads, head_dim]`.
pub fn selective_state_update_mamba2(inp: &SsdInputs, state: &mut [f64]) -> Result<Vec<f64>> {
    const OP: &str = "selective_state_update_mamba2";
    let seqs = inp.validate(OP)?;
    let sz = inp.state_len();
    check_len(OP, "state", state.len(), seqs * sz)?;
    let mut y = Vec::with_capacity(seqs * inp.heads * inp.head_dim);
    for s in 0..seqs {
        inp.step(s, &mut state[s * sz..(s + 1) * sz], &mut y);
    }
    Ok(y)
}

/// The same map as [`ssd_sequential`], computed chunk-wise (SSD). Per head, with
/// `cum[i]` the running sum of dt*A inside the chunk and `decay(i, j) = exp(cum[i] - cum[j])`:
/// 1. each chunk's own state, as if it started from zero: `Σ_j decay(last, j) dt_j x_j B_jᵀ`;
/// 2. state passing: the state entering chunk c+1 is `exp(cum[last]) * S_c + own_c`;
/// 3. output: the intra-chunk part `Σ_{j≤i} (C_i·B_j) decay(i, j) dt_j x_j` (the masked
///    `C Bᵀ ⊙ L` matrix times `dt x`) plus `exp(cum[i]) C_i · S_c` from the incoming state.
///
/// The last chunk may be short (L not a multiple of `chunk_size`); upstream pads it with
/// zeros, which changes nothing since padded tokens come after every real one.
pub fn ssd_chunked(inp: &SsdInputs, initial_state: Option<&[f64]>, chunk_size: usize) -> Result<(Vec<f64>, Vec<f64>)> {
    const OP: &str = "ssd_chunked";
    let l = inp.validate(OP)?;
    if chunk_size == 0 {
        return Err(Error::bad_input(OP, "chunk_size must be positive"));
    }
    let (hs, pd, n) = (inp.heads, inp.head_dim, inp.d_state);
    let mut state = initial(OP, inp, initial_state)?;
    let chunks = l.div_ceil(chunk_size);
    let mut y = vec![0.0; l * hs * pd];
    for h in 0..hs {
        let st = &mut state[h * pd * n..(h + 1) * pd * n];
        let a = inp.a[h] as f64;
        // Per chunk: cumulative dt*A, and the chunk's own (zero-start) state [P, N].
        let mut cums = Vec::with_capacity(chunks);
        let mut own = Vec::with_capacity(chunks);
        for ci in 0..chunks {
            let (t0, t1) = (ci * chunk_size, ((ci + 1) * chunk_size).min(l));
            let mut cum = Vec::with_capacity(t1 - t0);
            let mut run = 0.0;
            for t in t0..t1 {
                run += inp.dt_eff(t, h) * a;
                cum.push(run);
            }
            let last = run;
            let mut s = vec![0.0; pd * n];
            for (j, t) in (t0..t1).enumerate() {
                let w = (last - cum[j]).exp() * inp.dt_eff(t, h);
                let bt = inp.bc(inp.b, t, h);
                for p in 0..pd {
                    let xw = w * inp.x[(t * hs + h) * pd + p] as f64;
                    for k in 0..n {
                        s[p * n + k] += xw * bt[k] as f64;
                    }
                }
            }
            cums.push(cum);
            own.push(s);
        }
        // State passing: entering[c] is the state before chunk c; st ends as the final state.
        let mut entering = Vec::with_capacity(chunks);
        for ci in 0..chunks {
            entering.push(st.to_vec());
            let total = cums[ci].last().copied().unwrap_or(0.0).exp();
            for (sv, ov) in st.iter_mut().zip(&own[ci]) {
                *sv = total * *sv + ov;
            }
        }
        // Outputs.
        for ci in 0..chunks {
            let t0 = ci * chunk_size;
            let cum = &cums[ci];
            for i in 0..cum.len() {
                let ct = inp.bc(inp.c, t0 + i, h);
                // Row i of the masked (C Bᵀ ⊙ decay) matrix, scaled by dt_j.
                let row: Vec<f64> = (0..=i)
                    .map(|j| {
                        let bj = inp.bc(inp.b, t0 + j, h);
                        let cb: f64 = ct.iter().zip(bj).map(|(&c, &b)| c as f64 * b as f64).sum();
                        cb * (cum[i] - cum[j]).exp() * inp.dt_eff(t0 + j, h)
                    })
                    .collect();
                let inc = cum[i].exp();
                for p in 0..pd {
                    let intra: f64 = row.iter().enumerate().map(|(j, &m)| m * inp.x[((t0 + j) * hs + h) * pd + p] as f64).sum();
                    let sp = &entering[ci][p * n..(p + 1) * n];
                    let inter: f64 = inc * sp.iter().zip(ct).map(|(&s, &c)| s * c as f64).sum::<f64>();
                    y[((t0 + i) * hs + h) * pd + p] = inp.finish(t0 + i, h, p, intra + inter);
                }
            }
        }
    }
    Ok((y, state))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reference::ssm::test_values;

    const H: usize = 4;
    const P: usize = 3;
    const G: usize = 2;
    const N: usize = 5;

    struct Data {
        x: Vec<f32>,
        dt: Vec<f32>,
        a: Vec<f32>,
        b: Vec<f32>,
        c: Vec<f32>,
        d: Vec<f32>,
        z: Vec<f32>,
        dtb: Vec<f32>,
    }

    fn data(l: usize, seed: u64) -> Data {
        Data {
            x: test_values(l * H * P, seed),
            dt: test_values(l * H, seed + 1),
            a: test_values(H, seed + 2).iter().map(|v| -(v.abs() * 2.0 + 0.2)).collect(),
            b: test_values(l * G * N, seed + 3),
            c: test_values(l * G * N, seed + 4),
            d: test_values(H, seed + 5),
            z: test_values(l * H * P, seed + 6),
            dtb: test_values(H, seed + 7),
        }
    }

    fn inputs(x: &Data) -> SsdInputs<'_> {
        SsdInputs {
            x: &x.x,
            dt: &x.dt,
            a: &x.a,
            b: &x.b,
            c: &x.c,
            d: Some(&x.d),
            z: Some(&x.z),
            dt_bias: Some(&x.dtb),
            dt_softplus: true,
            heads: H,
            head_dim: P,
            ngroups: G,
            d_state: N,
        }
    }

    fn rows<'a>(i: &SsdInputs<'a>, t0: usize, t1: usize) -> SsdInputs<'a> {
        let (hp, gn) = (H * P, G * N);
        SsdInputs {
            x: &i.x[t0 * hp..t1 * hp],
            dt: &i.dt[t0 * H..t1 * H],
            b: &i.b[t0 * gn..t1 * gn],
            c: &i.c[t0 * gn..t1 * gn],
            z: i.z.map(|z| &z[t0 * hp..t1 * hp]),
            ..*i
        }
    }

    fn max_rel(a: &[f64], b: &[f64]) -> f64 {
        assert_eq!(a.len(), b.len());
        a.iter().zip(b).map(|(x, y)| (x - y).abs() / (1.0 + y.abs())).fold(0.0, f64::max)
    }

    #[test]
    fn one_head_by_hand() {
        // H = P = N = G = 1, dt = 1 (no softplus), A = -ln 2 -> decay 1/2, B = C = 1, D = 0.
        let a = [-(2f32.ln())];
        let inp = SsdInputs {
            x: &[2.0, 4.0, 0.0],
            dt: &[1.0; 3],
            a: &a,
            b: &[1.0; 3],
            c: &[1.0; 3],
            d: None,
            z: None,
            dt_bias: None,
            dt_softplus: false,
            heads: 1,
            head_dim: 1,
            ngroups: 1,
            d_state: 1,
        };
        let da = (a[0] as f64).exp();
        let want = [2.0, 2.0 * da + 4.0, (2.0 * da + 4.0) * da];
        let (y, st) = ssd_sequential(&inp, None).unwrap();
        assert!(max_rel(&y, &want) < 1e-15, "{y:?}");
        let (yc, stc) = ssd_chunked(&inp, None, 2).unwrap();
        assert!(max_rel(&yc, &want) < 1e-15 && max_rel(&stc, &st) < 1e-15, "{yc:?}");
    }

    #[test]
    fn chunked_equals_sequential() {
        for (l, cs) in [(1, 4), (4, 4), (7, 4), (13, 5), (16, 16), (9, 1)] {
            let x = data(l, 10 + l as u64);
            let inp = inputs(&x);
            let init: Vec<f64> = test_values(H * P * N, 99).iter().map(|&v| v as f64).collect();
            for st0 in [None, Some(&init[..])] {
                let (ys, ss) = ssd_sequential(&inp, st0).unwrap();
                let (yc, sc) = ssd_chunked(&inp, st0, cs).unwrap();
                assert!(max_rel(&yc, &ys) < 1e-10 && max_rel(&sc, &ss) < 1e-10, "L={l} chunk={cs}");
            }
        }
    }

    #[test]
    fn prefill_then_decode_and_continuation() {
        let l = 10;
        let x = data(l, 3);
        let inp = inputs(&x);
        let (y, st) = ssd_sequential(&inp, None).unwrap();
        // prefill 6 (chunked), then 4 decode steps
        let (_, mut s) = ssd_chunked(&rows(&inp, 0, 6), None, 4).unwrap();
        let mut yd = Vec::new();
        for t in 6..l {
            yd.extend(selective_state_update_mamba2(&rows(&inp, t, t + 1), &mut s).unwrap());
        }
        assert!(max_rel(&yd, &y[6 * H * P..]) < 1e-12 && max_rel(&s, &st) < 1e-12);
        // chunked(L1) then chunked(L2, init) == whole
        let (y1, s1) = ssd_chunked(&rows(&inp, 0, 3), None, 2).unwrap();
        let (y2, s2) = ssd_chunked(&rows(&inp, 3, l), Some(&s1), 2).unwrap();
        assert!(max_rel(&[y1, y2].concat(), &y) < 1e-12 && max_rel(&s2, &st) < 1e-12);
        // two sequences decoded in one batched call
        let x2 = data(2, 50);
        let batch = inputs(&x2);
        let mut both = [st.clone(), st.clone()].concat();
        let yb = selective_state_update_mamba2(&batch, &mut both).unwrap();
        let mut one = st.clone();
        let y0 = selective_state_update_mamba2(&rows(&batch, 1, 2), &mut one).unwrap();
        assert_eq!(&yb[H * P..], &y0[..]);
        assert_eq!(&both[H * P * N..], &one[..]);
    }

    #[test]
    fn bad_shapes_are_errors() {
        let x = data(3, 1);
        let mut inp = inputs(&x);
        assert!(ssd_chunked(&inp, None, 0).is_err());
        assert!(ssd_sequential(&inp, Some(&[0.0; 2])).is_err());
        inp.ngroups = 3;
        assert!(ssd_sequential(&inp, None).is_err());
        let inp = inputs(&x);
        assert!(selective_state_update_mamba2(&inp, &mut [0.0; 5]).is_err());
    }
}
