//! causal_conv1d (prefill, varlen) and causal_conv1d_update (decode): Mamba's depthwise causal
//! conv (Dao-AILab `causal_conv1d_fn` / `causal_conv1d_update`). Semantics: the contract
//! headers `include/fk/ops/causal_conv1d{,_update}.h`; CPU reference:
//! [`crate::reference::ssm::causal_conv1d`].

use super::{as_rows, launch, require_float, require_no_overlap, require_same_device, require_same_dtype, SeqLens, StateSlots};
use crate::ffi::{CausalConv1dParams, CausalConv1dUpdateParams, CAUSAL_CONV1D_MAX_WIDTH};
use crate::table::{OpId, OpTable};
use fk_runtime::{Error, Result, Tensor};

/// The conv module's parameters: weight `[dim, width]` (contiguous, the input dtype; HF's
/// Conv1d weight `[dim, 1, width]` reshaped), optional bias `[dim]`, and the SiLU that Mamba
/// applies after the conv.
#[derive(Clone, Copy, Debug)]
pub struct CausalConv1d<'a> {
    pub weight: &'a Tensor,
    pub bias: Option<&'a Tensor>,
    pub silu: bool,
}

/// Recurrent state of a prefill: each sequence's state before it (`None`: zeros) and where to
/// write the state after it (`None`: not needed). `final_state` may be the very same tensor as
/// `initial` (a state cache updated in place), but must not otherwise overlap it.
#[derive(Clone, Copy, Debug, Default)]
pub struct PrefillStates<'a> {
    pub initial: Option<&'a Tensor>,
    pub final_state: Option<&'a Tensor>,
}

/// The same tensor (same memory, shape and strides): what "in place" means for states.
pub(crate) fn same_tensor(a: &Tensor, b: &Tensor) -> bool {
    a.ptr() == b.ptr() && a.shape() == b.shape() && a.strides() == b.strides() && a.dtype() == b.dtype()
}

impl PrefillStates<'_> {
    /// Both given states must be contiguous `shape` of `dtype` on the input's device.
    pub(crate) fn check(&self, op: &str, input: &Tensor, shape: &[usize], dtype: fk_runtime::DType) -> Result<()> {
        for (what, t) in [("initial_state", self.initial), ("final_state", self.final_state)] {
            let Some(t) = t else { continue };
            require_same_device(op, &[("input", input), (what, t)])?;
            if t.dtype() != dtype {
                return Err(Error::dtype(op, format!("{what} is {}, expected {dtype}", t.dtype())));
            }
            if t.shape() != shape || !t.is_contiguous() {
                return Err(Error::shape(op, format!("{what} {t:?} must be contiguous {shape:?}")));
            }
        }
        if let (Some(i), Some(f)) = (self.initial, self.final_state) {
            if !same_tensor(i, f) {
                require_no_overlap(op, ("initial_state", i), ("final_state", f))?;
            }
        }
        Ok(())
    }

    /// What a prefill op writes, `out` and the final state, overlaps nothing it reads: `reads`
    /// and the initial state (which the final state may *be*: checked by [`Self::check`]).
    pub(crate) fn check_writes(&self, op: &str, reads: &[(&str, &Tensor)], out: &Tensor) -> Result<()> {
        for &(what, t) in reads {
            require_no_overlap(op, ("out", out), (what, t))?;
            if let Some(f) = self.final_state {
                require_no_overlap(op, ("final_state", f), (what, t))?;
            }
        }
        for (what, t) in [("initial_state", self.initial), ("final_state", self.final_state)] {
            if let Some(t) = t {
                require_no_overlap(op, ("out", out), (what, t))?;
            }
        }
        Ok(())
    }
}

/// weight `[dim, width]`, width in 2..=4, bias `[dim]`, all of `x`'s dtype; returns width.
fn check_conv(op: &str, conv: &CausalConv1d, x: &Tensor, dim: usize) -> Result<usize> {
    require_same_dtype(op, "weight", conv.weight, x.dtype())?;
    require_same_device(op, &[("x", x), ("weight", conv.weight)])?;
    if conv.weight.rank() != 2 || conv.weight.dim(0) != dim || !conv.weight.is_contiguous() {
        return Err(Error::shape(op, format!("weight {:?} must be contiguous [{dim}, width] (dim of x {x:?})", conv.weight)));
    }
    let width = conv.weight.dim(1);
    if !(2..=CAUSAL_CONV1D_MAX_WIDTH).contains(&width) {
        return Err(Error::shape(op, format!("width {width} (weight {:?}) must be in 2..={CAUSAL_CONV1D_MAX_WIDTH}", conv.weight)));
    }
    if let Some(b) = conv.bias {
        require_same_dtype(op, "bias", b, x.dtype())?;
        require_same_device(op, &[("x", x), ("bias", b)])?;
        if b.shape() != [dim] || !b.is_contiguous() {
            return Err(Error::shape(op, format!("bias {b:?} must be contiguous [{dim}]")));
        }
    }
    Ok(width)
}

/// `[rows, cols]` of a 2-D `x` and `out` of equal shape (rows may be strided); returns
/// (rows, cols, x_stride, out_stride).
fn rows_pair(op: &str, x: &Tensor, out: &Tensor) -> Result<(usize, usize, usize, usize)> {
    if x.rank() != 2 || out.rank() != 2 {
        return Err(Error::shape(op, format!("x {x:?} and out {out:?} must be 2-D [tokens, dim]")));
    }
    let (rows, cols, xs) = as_rows(op, "x", x)?;
    let (orows, ocols, os) = as_rows(op, "out", out)?;
    if (orows, ocols) != (rows, cols) {
        return Err(Error::shape(op, format!("out {out:?} does not match x {x:?}")));
    }
    if cols == 0 {
        return Err(Error::shape(op, format!("x {x:?} has no channels")));
    }
    Ok((rows, cols, xs, os))
}

/// Prefill conv over the packed sequences of `seqlens`: x, out `[tokens, dim]` (f32/f16/bf16,
/// rows may be strided views, e.g. Mamba-2's xBC columns of the in_proj output), states
/// `[batch, dim, width-1]` of x's dtype.
pub fn causal_conv1d(table: &OpTable, conv: &CausalConv1d, x: &Tensor, seqlens: &SeqLens, states: PrefillStates, out: &Tensor) -> Result<()> {
    const OP: &str = "causal_conv1d";
    require_float(OP, "x", x)?;
    require_same_dtype(OP, "out", out, x.dtype())?;
    require_same_device(OP, &[("x", x), ("out", out), ("cu_seqlens", seqlens.tensor())])?;
    let (tokens, dim, xs, os) = rows_pair(OP, x, out)?;
    if seqlens.tokens() != tokens {
        return Err(Error::shape(OP, format!("cu_seqlens ends at {} but x {x:?} has {tokens} tokens", seqlens.tokens())));
    }
    let width = check_conv(OP, conv, x, dim)?;
    let batch = seqlens.batch();
    states.check(OP, x, &[batch, dim, width - 1], x.dtype())?;
    states.check_writes(OP, &[("x", x)], out)?;
    let p = CausalConv1dParams {
        out: out.ptr(),
        x: x.ptr(),
        weight: conv.weight.ptr(),
        bias: conv.bias.map_or(0, |b| b.ptr()),
        cu_seqlens: seqlens.tensor().ptr(),
        initial_state: states.initial.map_or(0, |t| t.ptr()),
        final_state: states.final_state.map_or(0, |t| t.ptr()),
        tokens: tokens as i64,
        dim: dim as i64,
        x_stride: xs as i64,
        out_stride: os as i64,
        batch: batch as i32,
        width: width as i32,
        silu: conv.silu as i32,
        dtype: x.dtype().code(),
    };
    launch(table, OpId::CausalConv1d, x.device(), &p, || format!("x {x:?}, weight {:?}, {batch} sequences, out {out:?}", conv.weight))
}

/// Decode conv: x, out `[batch, dim]` (rows may be strided), `conv_state` `[batch, dim, width-1]`
/// (contiguous, x's dtype) rolled in place.
pub fn causal_conv1d_update(table: &OpTable, conv: &CausalConv1d, x: &Tensor, conv_state: &Tensor, out: &Tensor) -> Result<()> {
    conv_update(table, conv, x, conv_state, None, out)
}

/// [`causal_conv1d_update`] over a state cache: `conv_state` `[slots, dim, width - 1]`, batch
/// row b using slot `slots.host()[b]` (padding rows skipped, their out rows left as they were).
pub fn causal_conv1d_update_slots(table: &OpTable, conv: &CausalConv1d, x: &Tensor, conv_state: &Tensor, slots: &StateSlots, out: &Tensor) -> Result<()> {
    conv_update(table, conv, x, conv_state, Some(slots), out)
}

pub(crate) fn conv_update(table: &OpTable, conv: &CausalConv1d, x: &Tensor, conv_state: &Tensor, slots: Option<&StateSlots>, out: &Tensor) -> Result<()> {
    let p = conv_update_params(conv, x, conv_state, slots, out)?;
    launch(table, OpId::CausalConv1dUpdate, x.device(), &p, || format!("x {x:?}, weight {:?}, conv_state {conv_state:?}", conv.weight))
}

/// The checked launch parameters of a causal_conv1d_update call.
pub(crate) fn conv_update_params(conv: &CausalConv1d, x: &Tensor, conv_state: &Tensor, slots: Option<&StateSlots>, out: &Tensor) -> Result<CausalConv1dUpdateParams> {
    const OP: &str = "causal_conv1d_update";
    require_float(OP, "x", x)?;
    require_same_dtype(OP, "out", out, x.dtype())?;
    require_same_device(OP, &[("x", x), ("out", out), ("conv_state", conv_state)])?;
    let (batch, dim, xs, os) = rows_pair(OP, x, out)?;
    let width = check_conv(OP, conv, x, dim)?;
    require_same_dtype(OP, "conv_state", conv_state, x.dtype())?;
    let rows = match slots {
        Some(s) if s.rows() != batch => return Err(Error::shape(OP, format!("x has {batch} rows but the state slots {}", s.rows()))),
        Some(s) => s.capacity(),
        None => batch,
    };
    if conv_state.shape() != [rows, dim, width - 1] || !conv_state.is_contiguous() {
        return Err(Error::shape(OP, format!("conv_state {conv_state:?} must be contiguous [{rows}, {dim}, {}]", width - 1)));
    }
    if let Some(s) = slots {
        require_same_device(OP, &[("x", x), ("state slots", s.tensor())])?;
    }
    if batch > 65535 {
        return Err(Error::shape(OP, format!("batch {batch} exceeds 65535")));
    }
    require_no_overlap(OP, ("out", out), ("x", x))?;
    require_no_overlap(OP, ("out", out), ("conv_state", conv_state))?;
    require_no_overlap(OP, ("conv_state", conv_state), ("x", x))?;
    Ok(CausalConv1dUpdateParams {
        out: out.ptr(),
        x: x.ptr(),
        weight: conv.weight.ptr(),
        bias: conv.bias.map_or(0, |b| b.ptr()),
        conv_state: conv_state.ptr(),
        state_indices: slots.map_or(0, |s| s.tensor().ptr()),
        state_rows: rows as i64,
        batch: batch as i64,
        dim: dim as i64,
        x_stride: xs as i64,
        out_stride: os as i64,
        width: width as i32,
        silu: conv.silu as i32,
        dtype: x.dtype().code(),
        pad_: 0,
    })
}
