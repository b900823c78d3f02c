//! selective_scan (Mamba-1 prefill, varlen) and selective_state_update (the decode step of
//! Mamba-1 and Mamba-2). Semantics: the contract headers
//! `include/fk/ops/{selective_scan,selective_state_update}.h`; CPU references:
//! [`crate::reference::ssm::selective_scan_varlen`], [`crate::reference::ssm::selective_state_update`]
//! and [`crate::reference::ssm::selective_state_update_mamba2`].

use super::{as_rows, launch, require_float, require_no_overlap, require_same_device, require_same_dtype, PrefillStates, SeqLens, StateSlots};
use crate::ffi::{SelectiveScanParams, SelectiveStateUpdateParams, SELECTIVE_SCAN_MAX_DSTATE, SELECTIVE_STATE_UPDATE_MAX_DSTATE, SELECTIVE_STATE_UPDATE_STATE_SETTLED};
use crate::table::{OpId, OpTable};
use fk_runtime::{DType, Error, Result, Tensor};

/// The mixer's SSM parameters for the prefill scan: A `[dim, d_state]` (f32, negative: HF's
/// `-exp(A_log)`), D `[dim]` and dt_proj's bias `[dim]` (f32), and whether dt goes through
/// softplus (Mamba always asks for it).
#[derive(Clone, Copy, Debug)]
pub struct SelectiveScan<'a> {
    pub a: &'a Tensor,
    pub d: Option<&'a Tensor>,
    pub delta_bias: Option<&'a Tensor>,
    pub delta_softplus: bool,
}

/// Per-token inputs of the scan, all of one float dtype, 2-D with contiguous rows (row-strided
/// views allowed): u, delta, z `[tokens, dim]`, B, C `[tokens, d_state]` (e.g. column blocks
/// of x_proj's `[tokens, dt_rank + 2·d_state]` output).
#[derive(Clone, Copy, Debug)]
pub struct ScanTokens<'a> {
    pub u: &'a Tensor,
    pub delta: &'a Tensor,
    pub b: &'a Tensor,
    pub c: &'a Tensor,
    pub z: Option<&'a Tensor>,
}

/// A 2-D tensor `[rows, cols]` with contiguous rows of `dtype`: returns its row stride.
pub(super) fn rows_of(op: &str, what: &str, t: &Tensor, rows: usize, cols: usize, dtype: DType) -> Result<usize> {
    require_same_dtype(op, what, t, dtype)?;
    if t.rank() != 2 {
        return Err(Error::shape(op, format!("{what} {t:?} must be 2-D [{rows}, {cols}]")));
    }
    let (r, c, stride) = as_rows(op, what, t)?;
    if (r, c) != (rows, cols) {
        return Err(Error::shape(op, format!("{what} {t:?} must be [{rows}, {cols}]")));
    }
    Ok(stride)
}

/// An f32 parameter of exactly `shape`, contiguous.
pub(super) fn f32_param(op: &str, what: &str, t: &Tensor, shape: &[usize]) -> Result<()> {
    if t.dtype() != DType::F32 {
        return Err(Error::dtype(op, format!("{what} is {}, expected f32 (SSM parameters are kept in f32)", t.dtype())));
    }
    if t.shape() != shape || !t.is_contiguous() {
        return Err(Error::shape(op, format!("{what} {t:?} must be contiguous {shape:?}")));
    }
    Ok(())
}

/// Prefill scan of the packed sequences of `seqlens` into `out` `[tokens, dim]` (rows may be
/// strided); states f32 `[batch, dim, d_state]`.
pub fn selective_scan(table: &OpTable, scan: &SelectiveScan, inp: &ScanTokens, seqlens: &SeqLens, states: PrefillStates, out: &Tensor) -> Result<()> {
    const OP: &str = "selective_scan";
    let u = inp.u;
    require_float(OP, "u", u)?;
    let dtype = u.dtype();
    if u.rank() != 2 {
        return Err(Error::shape(OP, format!("u {u:?} must be 2-D [tokens, dim]")));
    }
    let (tokens, dim) = (u.dim(0), u.dim(1));
    if dim == 0 {
        return Err(Error::shape(OP, format!("u {u:?} has no channels")));
    }
    if seqlens.tokens() != tokens {
        return Err(Error::shape(OP, format!("cu_seqlens ends at {} but u {u:?} has {tokens} tokens", seqlens.tokens())));
    }
    if scan.a.rank() != 2 || scan.a.dim(0) != dim {
        return Err(Error::shape(OP, format!("A {:?} must be [{dim}, d_state]", scan.a)));
    }
    let n = scan.a.dim(1);
    if !(1..=SELECTIVE_SCAN_MAX_DSTATE).contains(&n) {
        return Err(Error::shape(OP, format!("d_state {n} (A {:?}) must be in 1..={SELECTIVE_SCAN_MAX_DSTATE}", scan.a)));
    }
    f32_param(OP, "A", scan.a, &[dim, n])?;
    for (what, t) in [("D", scan.d), ("delta_bias", scan.delta_bias)] {
        if let Some(t) = t {
            f32_param(OP, what, t, &[dim])?;
        }
    }
    let us = rows_of(OP, "u", u, tokens, dim, dtype)?;
    let ds = rows_of(OP, "delta", inp.delta, tokens, dim, dtype)?;
    let bs = rows_of(OP, "B", inp.b, tokens, n, dtype)?;
    let cs = rows_of(OP, "C", inp.c, tokens, n, dtype)?;
    let zs = inp.z.map(|z| rows_of(OP, "z", z, tokens, dim, dtype)).transpose()?.unwrap_or(0);
    let os = rows_of(OP, "out", out, tokens, dim, dtype)?;
    let mut all: Vec<(&str, &Tensor)> = vec![("u", u), ("delta", inp.delta), ("B", inp.b), ("C", inp.c), ("A", scan.a), ("out", out), ("cu_seqlens", seqlens.tensor())];
    all.extend(inp.z.map(|t| ("z", t)));
    all.extend(scan.d.map(|t| ("D", t)));
    all.extend(scan.delta_bias.map(|t| ("delta_bias", t)));
    require_same_device(OP, &all)?;
    let batch = seqlens.batch();
    states.check(OP, u, &[batch, dim, n], DType::F32)?;
    let reads: Vec<(&str, &Tensor)> = all.iter().copied().filter(|&(what, _)| what != "out").collect();
    states.check_writes(OP, &reads, out)?;
    let p = SelectiveScanParams {
        out: out.ptr(),
        u: u.ptr(),
        delta: inp.delta.ptr(),
        a: scan.a.ptr(),
        b: inp.b.ptr(),
        c: inp.c.ptr(),
        d: scan.d.map_or(0, |t| t.ptr()),
        z: inp.z.map_or(0, |t| t.ptr()),
        delta_bias: scan.delta_bias.map_or(0, |t| t.ptr()),
        cu_seqlens: seqlens.tensor().ptr(),
        initial_state: states.initial.map_or(0, |t| t.ptr()),
        final_state: states.final_state.map_or(0, |t| t.ptr()),
        tokens: tokens as i64,
        dim: dim as i64,
        u_stride: us as i64,
        delta_stride: ds as i64,
        z_stride: zs as i64,
        out_stride: os as i64,
        b_stride: bs as i64,
        c_stride: cs as i64,
        batch: batch as i32,
        d_state: n as i32,
        delta_softplus: scan.delta_softplus as i32,
        dtype: dtype.code(),
    };
    launch(table, OpId::SelectiveScan, u.device(), &p, || format!("u {u:?}, B {:?}, A {:?}, {batch} sequences, out {out:?}", inp.b, scan.a))
}

/// The SSM parameters of a decode step. A f32: `[heads, d_state]` for Mamba-1 (heads = d_inner,
/// head_dim 1) or `[heads]` for Mamba-2 (one scalar per head); D and dt_bias f32 `[heads]`;
/// B and C carry `ngroups` groups of d_state values, head h reading group h / (heads/ngroups).
#[derive(Clone, Copy, Debug)]
pub struct StateUpdate<'a> {
    pub a: &'a Tensor,
    pub d: Option<&'a Tensor>,
    pub dt_bias: Option<&'a Tensor>,
    pub dt_softplus: bool,
    pub ngroups: usize,
    /// The caller's promise that the launch right before this op on the stream wrote neither
    /// the state nor the slot table (a decode step: in_proj or dt_proj precedes it). The kernel
    /// then reads the state while that launch finishes (`FK_SELECTIVE_STATE_UPDATE_STATE_SETTLED`).
    /// A wrong promise is a race: leave it false unless the previous launch is known.
    pub state_settled: bool,
    /// Mamba-1's dt_proj weight `[heads, dt_rank]` (model dtype, no bias: that is `dt_bias`),
    /// folded into the step: [`DecodeTokens::dt`] is then x_proj's dt columns
    /// `[batch, dt_rank]` and the kernel projects them (one launch fewer per layer).
    pub dt_proj: Option<&'a Tensor>,
}

/// One token per sequence, of one float dtype: x, z, out `[batch, heads·head_dim]`, dt
/// `[batch, heads]`, B, C `[batch, ngroups·d_state]` (2-D, rows may be strided; contiguous
/// higher-rank tensors are read as those rows).
#[derive(Clone, Copy, Debug)]
pub struct DecodeTokens<'a> {
    pub x: &'a Tensor,
    pub dt: &'a Tensor,
    pub b: &'a Tensor,
    pub c: &'a Tensor,
    pub z: Option<&'a Tensor>,
}

/// A tensor seen as `[rows, cols]` rows of `dtype` (any rank, via `as_rows`): its row stride.
fn decode_rows(op: &str, what: &str, t: &Tensor, rows: usize, cols: usize, dtype: DType) -> Result<usize> {
    require_same_dtype(op, what, t, dtype)?;
    let (r, c, stride) = as_rows(op, what, t)?;
    let (r, c) = if t.rank() > 2 { (t.dim(0), t.numel() / t.dim(0).max(1)) } else { (r, c) };
    if (r, c) != (rows, cols) {
        return Err(Error::shape(op, format!("{what} {t:?} must hold [{rows}, {cols}]")));
    }
    Ok(if t.rank() > 2 { cols } else { stride })
}

/// Advance `state` f32 `[batch, heads, head_dim, d_state]` (or `[batch, heads, d_state]`:
/// head_dim 1, Mamba-1) by one token in place, writing y into `out`.
pub fn selective_state_update(table: &OpTable, m: &StateUpdate, inp: &DecodeTokens, state: &Tensor, out: &Tensor) -> Result<()> {
    state_update(table, m, inp, state, None, out)
}

/// [`selective_state_update`] over a state cache: `state` `[slots, heads, (head_dim,) d_state]`,
/// batch row b using slot `slots.host()[b]` (padding rows skipped, their out rows left as they
/// were).
pub fn selective_state_update_slots(table: &OpTable, m: &StateUpdate, inp: &DecodeTokens, state: &Tensor, slots: &StateSlots, out: &Tensor) -> Result<()> {
    state_update(table, m, inp, state, Some(slots), out)
}

fn state_update(table: &OpTable, m: &StateUpdate, inp: &DecodeTokens, state: &Tensor, slots: Option<&StateSlots>, out: &Tensor) -> Result<()> {
    const OP: &str = "selective_state_update";
    let x = inp.x;
    require_float(OP, "x", x)?;
    let dtype = x.dtype();
    if state.dtype() != DType::F32 {
        return Err(Error::dtype(OP, format!("state is {}, expected f32", state.dtype())));
    }
    let (rows, heads, head_dim, n) = match *state.shape() {
        [b, h, n] => (b, h, 1, n),
        [b, h, p, n] => (b, h, p, n),
        _ => return Err(Error::shape(OP, format!("state {state:?} must be [batch, heads, head_dim, d_state] or [batch, dim, d_state]"))),
    };
    // Without slots the state has one row per sequence; with them, one per cache slot.
    let batch = match slots {
        Some(s) if s.capacity() != rows => return Err(Error::shape(OP, format!("state {state:?} has {rows} rows but the state slots index a cache of {}", s.capacity()))),
        Some(s) => s.rows(),
        None => rows,
    };
    if !state.is_contiguous() {
        return Err(Error::shape(OP, format!("state {state:?} must be contiguous")));
    }
    if heads == 0 || head_dim == 0 || !(1..=SELECTIVE_STATE_UPDATE_MAX_DSTATE).contains(&n) {
        return Err(Error::shape(OP, format!("state {state:?}: heads, head_dim > 0 and d_state in 1..={SELECTIVE_STATE_UPDATE_MAX_DSTATE}")));
    }
    let g = m.ngroups;
    if g == 0 || heads % g != 0 {
        return Err(Error::shape(OP, format!("{heads} heads do not split evenly over {g} groups")));
    }
    if heads > i32::MAX as usize || head_dim > i32::MAX as usize {
        return Err(Error::shape(OP, format!("state {state:?} is too large")));
    }
    let a_per_state = match *m.a.shape() {
        [h, nn] if h == heads && nn == n => true,
        [h] if h == heads => false,
        _ => return Err(Error::shape(OP, format!("A {:?} must be [{heads}, {n}] (Mamba-1) or [{heads}] (Mamba-2)", m.a))),
    };
    f32_param(OP, "A", m.a, m.a.shape())?;
    for (what, t) in [("D", m.d), ("dt_bias", m.dt_bias)] {
        if let Some(t) = t {
            f32_param(OP, what, t, &[heads])?;
        }
    }
    let hp = heads * head_dim;
    let xs = decode_rows(OP, "x", x, batch, hp, dtype)?;
    let dt_rank = match m.dt_proj {
        Some(w) => {
            require_same_dtype(OP, "dt_proj", w, dtype)?;
            match *w.shape() {
                [h, r] if h == heads && (1..=4096).contains(&r) && w.is_contiguous() => r,
                _ => return Err(Error::shape(OP, format!("dt_proj {w:?} must be a contiguous [{heads}, dt_rank] weight, dt_rank in 1..=4096"))),
            }
        }
        None => 0,
    };
    let dts = decode_rows(OP, "dt", inp.dt, batch, if dt_rank > 0 { dt_rank } else { heads }, dtype)?;
    let bs = decode_rows(OP, "B", inp.b, batch, g * n, dtype)?;
    let cs = decode_rows(OP, "C", inp.c, batch, g * n, dtype)?;
    let zs = inp.z.map(|z| decode_rows(OP, "z", z, batch, hp, dtype)).transpose()?.unwrap_or(0);
    let os = decode_rows(OP, "out", out, batch, hp, dtype)?;
    let mut reads: Vec<(&str, &Tensor)> = vec![("x", x), ("dt", inp.dt), ("B", inp.b), ("C", inp.c), ("A", m.a)];
    reads.extend(inp.z.map(|t| ("z", t)));
    reads.extend(m.d.map(|t| ("D", t)));
    reads.extend(m.dt_bias.map(|t| ("dt_bias", t)));
    reads.extend(m.dt_proj.map(|t| ("dt_proj", t)));
    let mut all = reads.clone();
    all.extend([("state", state), ("out", out)]);
    all.extend(slots.map(|s| ("state slots", s.tensor())));
    require_same_device(OP, &all)?;
    for &(what, t) in &reads {
        require_no_overlap(OP, ("out", out), (what, t))?;
        require_no_overlap(OP, ("state", state), (what, t))?;
    }
    require_no_overlap(OP, ("out", out), ("state", state))?;
    let p = SelectiveStateUpdateParams {
        out: out.ptr(),
        state: state.ptr(),
        state_indices: slots.map_or(0, |s| s.tensor().ptr()),
        state_rows: rows as i64,
        x: x.ptr(),
        dt: inp.dt.ptr(),
        a: m.a.ptr(),
        b: inp.b.ptr(),
        c: inp.c.ptr(),
        d: m.d.map_or(0, |t| t.ptr()),
        z: inp.z.map_or(0, |t| t.ptr()),
        dt_bias: m.dt_bias.map_or(0, |t| t.ptr()),
        batch: batch as i64,
        x_stride: xs as i64,
        dt_stride: dts as i64,
        z_stride: zs as i64,
        out_stride: os as i64,
        b_stride: bs as i64,
        c_stride: cs as i64,
        heads: heads as i32,
        head_dim: head_dim as i32,
        ngroups: g as i32,
        d_state: n as i32,
        dt_softplus: m.dt_softplus as i32,
        a_per_state: a_per_state as i32,
        dtype: dtype.code(),
        flags: if m.state_settled { SELECTIVE_STATE_UPDATE_STATE_SETTLED } else { 0 },
        dt_proj: m.dt_proj.map_or(0, |t| t.ptr()),
        dt_rank: dt_rank as i64,
    };
    launch(table, OpId::SelectiveStateUpdate, x.device(), &p, || format!("x {x:?}, state {state:?}, A {:?}, out {out:?}", m.a))
}
