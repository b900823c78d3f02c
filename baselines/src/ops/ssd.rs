//! ssd_chunk_scan: Mamba-2's chunked state-space-duality prefill (varlen). Semantics: the
//! contract header `include/fk/ops/ssd_chunk_scan.h`; CPU references:
//! [`crate::reference::ssm::ssd_sequential`] (the recurrence) and
//! [`crate::reference::ssm::ssd_chunked`] (the same map, chunk-wise). The decode step of
//! Mamba-2 is [`super::selective_state_update`] with A `[heads]`.

use super::scan::{f32_param, rows_of};
use super::{launch, require_float, require_same_device, PrefillStates, SeqLens};
use crate::ffi::{ssd_chunk_scan_workspace_bytes, SsdChunkScanParams, SSD_CHUNK_SCAN_MAX_DSTATE, SSD_CHUNK_SCAN_MAX_HEADDIM};
use crate::table::{OpId, OpTable};
use fk_runtime::{DType, Error, Result, Tensor};

/// The mixer's SSM parameters (f32, as HF keeps them): A `[heads]` (negative: `-exp(A_log)`),
/// D and dt_bias `[heads]`; whether dt goes through softplus (Mamba-2 always asks for it) and
/// the clamp after it (HF's `time_step_limit`; `(0, inf)` clamps nothing).
#[derive(Clone, Copy, Debug)]
pub struct SsdScan<'a> {
    pub a: &'a Tensor,
    pub d: Option<&'a Tensor>,
    pub dt_bias: Option<&'a Tensor>,
    pub dt_softplus: bool,
    pub dt_limit: (f32, f32),
    /// B/C groups: head h reads group h / (heads / ngroups).
    pub ngroups: usize,
}

impl SsdScan<'_> {
    /// No clamp: HF's default `time_step_limit` of (0, inf).
    pub const NO_DT_LIMIT: (f32, f32) = (0.0, f32::INFINITY);
}

/// Per-token inputs, all of one float dtype, 2-D with contiguous rows (row-strided views
/// allowed, e.g. column blocks of the conv output): x `[tokens, heads·head_dim]`, dt
/// `[tokens, heads]`, B and C `[tokens, ngroups·d_state]`.
#[derive(Clone, Copy, Debug)]
pub struct SsdTokens<'a> {
    pub x: &'a Tensor,
    pub dt: &'a Tensor,
    pub b: &'a Tensor,
    pub c: &'a Tensor,
}

/// Chunked prefill of the packed sequences of `seqlens`: y (D skip included, no gate) into
/// `out` `[tokens, heads·head_dim]` (rows may be strided); states f32
/// `[batch, heads, head_dim, d_state]` (the initial one may be absent = zeros; the final one
/// may be the initial one, updated in place).
pub fn ssd_chunk_scan(table: &OpTable, scan: &SsdScan, inp: &SsdTokens, seqlens: &SeqLens, states: PrefillStates, out: &Tensor) -> Result<()> {
    const OP: &str = "ssd_chunk_scan";
    let x = inp.x;
    require_float(OP, "x", x)?;
    let dtype = x.dtype();
    if x.rank() != 2 {
        return Err(Error::shape(OP, format!("x {x:?} must be 2-D [tokens, heads * head_dim]")));
    }
    let tokens = x.dim(0);
    if seqlens.tokens() != tokens {
        return Err(Error::shape(OP, format!("cu_seqlens ends at {} but x {x:?} has {tokens} tokens", seqlens.tokens())));
    }
    if scan.a.rank() != 1 || scan.a.dim(0) == 0 {
        return Err(Error::shape(OP, format!("A {:?} must be [heads] (one scalar per head, Mamba-2)", scan.a)));
    }
    let heads = scan.a.dim(0);
    f32_param(OP, "A", scan.a, &[heads])?;
    for (what, t) in [("D", scan.d), ("dt_bias", scan.dt_bias)] {
        if let Some(t) = t {
            f32_param(OP, what, t, &[heads])?;
        }
    }
    if x.dim(1) == 0 || x.dim(1) % heads != 0 {
        return Err(Error::shape(OP, format!("x {x:?}: width is not a positive multiple of the {heads} heads of A")));
    }
    let head_dim = x.dim(1) / heads;
    if head_dim > SSD_CHUNK_SCAN_MAX_HEADDIM {
        return Err(Error::shape(OP, format!("head_dim {head_dim} exceeds {SSD_CHUNK_SCAN_MAX_HEADDIM}")));
    }
    let g = scan.ngroups;
    if g == 0 || heads % g != 0 {
        return Err(Error::shape(OP, format!("{heads} heads do not split evenly over {g} groups")));
    }
    if inp.b.rank() != 2 || inp.b.dim(1) % g != 0 || inp.b.dim(1) == 0 {
        return Err(Error::shape(OP, format!("B {:?} must be [tokens, ngroups * d_state] with {g} groups", inp.b)));
    }
    let n = inp.b.dim(1) / g;
    if n > SSD_CHUNK_SCAN_MAX_DSTATE {
        return Err(Error::shape(OP, format!("d_state {n} (B {:?}) exceeds {SSD_CHUNK_SCAN_MAX_DSTATE}", inp.b)));
    }
    let (lo, hi) = scan.dt_limit;
    if lo.is_nan() || hi.is_nan() || lo > hi {
        return Err(Error::bad_input(OP, format!("dt_limit ({lo}, {hi}) must be an ordered pair of numbers")));
    }
    if heads > 65535 || seqlens.batch() > 65535 {
        return Err(Error::shape(OP, format!("{heads} heads and {} sequences: at most 65535 each", seqlens.batch())));
    }
    let xs = rows_of(OP, "x", x, tokens, heads * head_dim, dtype)?;
    let dts = rows_of(OP, "dt", inp.dt, tokens, heads, dtype)?;
    let bs = rows_of(OP, "B", inp.b, tokens, g * n, dtype)?;
    let cs = rows_of(OP, "C", inp.c, tokens, g * n, dtype)?;
    let os = rows_of(OP, "out", out, tokens, heads * head_dim, dtype)?;
    let mut all: Vec<(&str, &Tensor)> = vec![("x", x), ("dt", inp.dt), ("B", inp.b), ("C", inp.c), ("A", scan.a), ("out", out), ("cu_seqlens", seqlens.tensor())];
    all.extend(scan.d.map(|t| ("D", t)));
    all.extend(scan.dt_bias.map(|t| ("dt_bias", t)));
    require_same_device(OP, &all)?;
    let batch = seqlens.batch();
    states.check(OP, x, &[batch, heads, head_dim, n], DType::F32)?;
    let reads: Vec<(&str, &Tensor)> = all.iter().copied().filter(|&(what, _)| what != "out").collect();
    states.check_writes(OP, &reads, out)?;
    // The 16-bit path hands chunk states from its first pass to its second through a
    // workspace; it comes from the stream-ordered pool (capturable, no synchronisation).
    let ws_bytes = ssd_chunk_scan_workspace_bytes(tokens, batch, heads, head_dim, n, dtype.code());
    let workspace = if ws_bytes > 0 { Some(Tensor::empty(x.device(), &[ws_bytes.div_ceil(4)], DType::F32)?) } else { None };
    let p = SsdChunkScanParams {
        out: out.ptr(),
        x: x.ptr(),
        dt: inp.dt.ptr(),
        a: scan.a.ptr(),
        b: inp.b.ptr(),
        c: inp.c.ptr(),
        d: scan.d.map_or(0, |t| t.ptr()),
        dt_bias: scan.dt_bias.map_or(0, |t| t.ptr()),
        cu_seqlens: seqlens.tensor().ptr(),
        initial_state: states.initial.map_or(0, |t| t.ptr()),
        final_state: states.final_state.map_or(0, |t| t.ptr()),
        workspace: workspace.as_ref().map_or(0, |t| t.ptr()),
        workspace_bytes: ws_bytes as i64,
        tokens: tokens as i64,
        x_stride: xs as i64,
        dt_stride: dts as i64,
        b_stride: bs as i64,
        c_stride: cs as i64,
        out_stride: os as i64,
        dt_min: lo,
        dt_max: hi,
        batch: batch as i32,
        heads: heads as i32,
        head_dim: head_dim as i32,
        ngroups: g as i32,
        d_state: n as i32,
        dt_softplus: scan.dt_softplus as i32,
        dtype: dtype.code(),
        pad_: 0,
    };
    launch(table, OpId::SsdChunkScan, x.device(), &p, || format!("x {x:?}, B {:?}, A {:?}, {batch} sequences, out {out:?}", inp.b, scan.a))
}
