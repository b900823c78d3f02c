//! mamba_decode_layers: one decode token of one sequence through consecutive Mamba-1 blocks
//! (RMSNorm, `MambaMixer`, residual add) in one persistent kernel on sm_90, so that the
//! weights stream without waiting for the small dependent steps between them. Semantics:
//! `include/fk/ops/mamba_decode_layers.h`; the CPU reference is the per-op composition
//! ([`crate::reference::mamba_decode_layers`]).

use super::{launch, require_same_device, StateSlots};
use crate::ffi::{MambaDecodeLayer, MambaDecodeLayersParams, MAMBA_DECODE_MAX_LAYERS, MAMBA_DECODE_STAGE_BYTES};
use crate::table::{OpId, OpTable};
use fk_runtime::{DType, Device, Error, Result, Tensor};

const OP: &str = "mamba_decode_layers";

/// One block's weights (HF `MambaBlock` names in the comments) and its layer's state tensors.
/// Projections and the conv weight are in the activation dtype; the SSM parameters in f32.
#[derive(Clone, Copy, Debug)]
pub struct MambaDecodeBlock<'a> {
    /// `norm.weight` `[hidden]`
    pub norm: &'a Tensor,
    /// `mixer.in_proj.weight` `[2·inner, hidden]` (no bias)
    pub in_proj: &'a Tensor,
    /// `mixer.conv1d.weight` as `[inner, width]`
    pub conv_weight: &'a Tensor,
    /// `mixer.conv1d.bias` `[inner]`
    pub conv_bias: Option<&'a Tensor>,
    /// `mixer.x_proj.weight` transposed: `[inner, dt_rank + 2·d_state]` (each CTA streams its
    /// channels' rows of it; a model keeps this copy beside x_proj, +2.3 % of mamba-2.8b's bytes)
    pub x_proj_t: &'a Tensor,
    /// `mixer.dt_proj.weight` `[inner, dt_rank]`
    pub dt_proj: &'a Tensor,
    /// `mixer.dt_proj.bias` f32 `[inner]`
    pub dt_bias: &'a Tensor,
    /// `-exp(mixer.A_log)` f32 `[inner, d_state]`
    pub a: &'a Tensor,
    /// `mixer.D` f32 `[inner]`
    pub d: &'a Tensor,
    /// `mixer.out_proj.weight` `[hidden, inner]` (no bias)
    pub out_proj: &'a Tensor,
    /// The layer's conv states `[slots, inner, width - 1]` (activation dtype)
    pub conv_state: &'a Tensor,
    /// The layer's SSM states f32 `[slots, inner, d_state]`
    pub ssm_state: &'a Tensor,
}

/// Device scratch of the step: xc, y `[1, inner]` and dbc `[1, dt_rank + 2·d_state]` in the
/// activation dtype (left holding the last block's values), x_proj's fixed-point sums
/// ([`mamba_decode_acc_shape`], i64) and one i32 for the grid barrier.
#[derive(Clone, Copy, Debug)]
pub struct MambaDecodeScratch<'a> {
    pub xc: &'a Tensor,
    pub dbc: &'a Tensor,
    pub y: &'a Tensor,
    pub acc: &'a Tensor,
    pub barrier: &'a Tensor,
}

/// x_proj's weight `[out, in]` as the `[in, out]` copy [`MambaDecodeBlock::x_proj_t`] wants
/// (each CTA streams its channels' rows of it). A load-time copy through the host (exact: the
/// values only move).
pub fn x_proj_transposed(w: &Tensor) -> Result<Tensor> {
    if w.shape().len() != 2 {
        return Err(Error::shape(OP, format!("x_proj {w:?} must be [out, in]")));
    }
    let (out, inp) = (w.dim(0), w.dim(1));
    let v = w.to_f32()?;
    let t: Vec<f32> = (0..out * inp).map(|k| v[(k % out) * inp + k / out]).collect();
    Tensor::from_f32(w.device(), &t, &[inp, out], w.dtype())
}

/// The shape of [`MambaDecodeScratch::acc`] (i64): one row of x_proj sums per block of a launch.
pub fn mamba_decode_acc_shape(dt_rank: usize, d_state: usize) -> [usize; 2] {
    [MAMBA_DECODE_MAX_LAYERS, dt_rank + 2 * d_state]
}

/// The sizes the kernel handles: d_state 16, conv width 2-4, inner = 2·hidden with hidden / 256
/// in {1, 3, 4, 6, 8, 10} (every Mamba-1 checkpoint: each lane keeps its share of a phase's
/// input vector in registers, a compile-time count), dt_rank a multiple of 8 up to 192, 16-bit
/// activations, an sm_90 build on an sm_90 device whose SMs can each take their channels in
/// the state update's lanes and one stage of parameters. Callers take the per-op path otherwise.
pub fn mamba_decode_layers_supported(dev: &Device, dtype: DType, hidden: usize, inner: usize, dt_rank: usize, d_state: usize, conv_width: usize) -> bool {
    let info = dev.info();
    let sms = info.sm_count.max(1) as usize;
    let cmax = 8 * (inner / 8).div_ceil(sms);
    let param_bytes = hidden * 2 + cmax * (conv_width * 2 + 2 + 4 + 4 + 2 * d_state * 4 + conv_width.saturating_sub(1) * 2);
    crate::COMPUTE_CAP == "90a"
        && info.compute_capability.0 == 9
        && matches!(dtype, DType::BF16 | DType::F16)
        && d_state == 16
        && (2..=4).contains(&conv_width)
        && hidden % 256 == 0
        && matches!(hidden / 256, 1 | 3 | 4 | 6 | 8 | 10)
        && inner == 2 * hidden
        && dt_rank > 0
        && dt_rank % 8 == 0
        && dt_rank <= 192
        && cmax * 4 <= 224
        && param_bytes <= MAMBA_DECODE_STAGE_BYTES
}

/// How closely a stack of `layers` blocks run by this kernel should match another correct
/// evaluation (the CPU composition of the op references, or the per-op GPU step): both round
/// every intermediate to the 16-bit dtype, but sum in other orders, so single values round
/// the other way, and a flip in one block moves everything after it.
///
/// Per element: a flipped rounding of an O(1) intermediate (x, z, dt, the branch before the
/// residual add) moves an output by about one unit in the last place *at 1.0*, whatever the
/// output's own size (a residual that cancels to near zero keeps the units of its operands).
/// Over 160 fresh trials of one and a few blocks (run 104) the worst such elements were 2
/// units at 1.0 (bf16) and 3.5 (f16) past the reference, with rel_l2 always well inside the
/// dtype's bound; the plain dtype atol (1.3 and 1 units) failed 4 % of trials. So the
/// per-element floor is 6 units at 1.0 (bf16 0.047, f16 0.0059: activations here are O(1),
/// so a wrong element still shows), and rel_l2 keeps the dtype's bound. Deeper stacks get
/// both times 2·√layers (independent flips adding up; 70 random blocks drift to 3e-3 (f16)
/// and 3e-2 (bf16) rel_l2, run 96).
pub fn mamba_decode_tolerance(dtype: DType, layers: usize) -> fk_runtime::compare::Tolerance {
    let mut t = fk_runtime::compare::Tolerance::for_dtype(dtype);
    let unit_at_one = 2.0 * dtype.unit_roundoff();
    t.atol = t.atol.max(6.0 * unit_at_one);
    if layers <= 1 {
        t
    } else {
        t.scaled(2.0 * (layers as f64).sqrt())
    }
}

fn exactly(what: &str, t: &Tensor, shape: &[usize], dtype: DType) -> Result<()> {
    if t.dtype() != dtype {
        return Err(Error::dtype(OP, format!("{what} is {}, expected {dtype}", t.dtype())));
    }
    if t.shape() != shape || !t.is_contiguous() {
        return Err(Error::shape(OP, format!("{what} {t:?} must be contiguous {shape:?}")));
    }
    Ok(())
}

/// Runs every block of `blocks` in order on `residual` `[1, hidden]` (in: the stream entering
/// the first block's norm; out: the stream after the last block's residual add), advancing
/// state row `slots[0]` of each block's state tensors. Deeper stacks than one launch takes
/// run as consecutive launches.
pub fn mamba_decode_layers(table: &OpTable, blocks: &[MambaDecodeBlock], eps: f32, residual: &Tensor, slots: &StateSlots, scratch: &MambaDecodeScratch) -> Result<()> {
    let first = blocks.first().ok_or_else(|| Error::bad_input(OP, "no blocks"))?;
    let dtype = residual.dtype();
    let hidden = first.norm.numel();
    let inner = first.d.numel();
    let (width, d_state) = (first.conv_weight.shape().last().copied().unwrap_or(0), first.a.shape().last().copied().unwrap_or(0));
    let dt_rank = first.dt_proj.shape().last().copied().unwrap_or(0);
    let x_width = dt_rank + 2 * d_state;
    let dev = residual.device();
    if !mamba_decode_layers_supported(dev, dtype, hidden, inner, dt_rank, d_state, width) {
        return Err(Error::bad_input(
            OP,
            format!(
                "{dtype} hidden {hidden}, inner {inner}, dt_rank {dt_rank}, d_state {d_state}, conv width {width} on {} (sm {}.{}, build {}): outside the kernel's limits",
                dev.info().name,
                dev.info().compute_capability.0,
                dev.info().compute_capability.1,
                crate::COMPUTE_CAP
            ),
        ));
    }
    exactly("residual", residual, &[1, hidden], dtype)?;
    exactly("scratch xc", scratch.xc, &[1, inner], dtype)?;
    exactly("scratch y", scratch.y, &[1, inner], dtype)?;
    exactly("scratch dbc", scratch.dbc, &[1, x_width], dtype)?;
    exactly("scratch acc", scratch.acc, &mamba_decode_acc_shape(dt_rank, d_state), DType::I64)?;
    exactly("barrier", scratch.barrier, &[1], DType::I32)?;
    if slots.rows() != 1 {
        return Err(Error::bad_input(OP, format!("one sequence per step, got slots for {} rows", slots.rows())));
    }
    let state_rows = first.ssm_state.shape().first().copied().unwrap_or(0);
    let mut layers = Vec::with_capacity(blocks.len());
    for (l, b) in blocks.iter().enumerate() {
        let at = |what: &str| format!("block {l} {what}");
        exactly(&at("norm"), b.norm, &[hidden], dtype)?;
        exactly(&at("in_proj"), b.in_proj, &[2 * inner, hidden], dtype)?;
        exactly(&at("conv weight"), b.conv_weight, &[inner, width], dtype)?;
        if let Some(cb) = b.conv_bias {
            exactly(&at("conv bias"), cb, &[inner], dtype)?;
        }
        exactly(&at("x_proj_t"), b.x_proj_t, &[inner, x_width], dtype)?;
        exactly(&at("dt_proj"), b.dt_proj, &[inner, dt_rank], dtype)?;
        exactly(&at("dt_bias"), b.dt_bias, &[inner], DType::F32)?;
        exactly(&at("A"), b.a, &[inner, d_state], DType::F32)?;
        exactly(&at("D"), b.d, &[inner], DType::F32)?;
        exactly(&at("out_proj"), b.out_proj, &[hidden, inner], dtype)?;
        exactly(&at("conv state"), b.conv_state, &[state_rows, inner, width - 1], dtype)?;
        exactly(&at("ssm state"), b.ssm_state, &[state_rows, inner, d_state], DType::F32)?;
        if slots.capacity() > state_rows {
            return Err(Error::bad_input(OP, format!("{} state slots but {} state rows", slots.capacity(), state_rows)));
        }
        let all = [
            ("residual", residual),
            (&*at("norm"), b.norm),
            (&*at("in_proj"), b.in_proj),
            (&*at("x_proj_t"), b.x_proj_t),
            (&*at("dt_proj"), b.dt_proj),
            (&*at("out_proj"), b.out_proj),
            (&*at("conv state"), b.conv_state),
            (&*at("ssm state"), b.ssm_state),
            ("scratch xc", scratch.xc),
            ("scratch acc", scratch.acc),
        ];
        require_same_device(OP, &all)?;
        layers.push(MambaDecodeLayer {
            norm_weight: b.norm.ptr(),
            in_proj: b.in_proj.ptr(),
            conv_weight: b.conv_weight.ptr(),
            conv_bias: b.conv_bias.map_or(0, Tensor::ptr),
            x_proj_t: b.x_proj_t.ptr(),
            dt_proj: b.dt_proj.ptr(),
            dt_bias: b.dt_bias.ptr(),
            a: b.a.ptr(),
            d: b.d.ptr(),
            out_proj: b.out_proj.ptr(),
            conv_state: b.conv_state.ptr(),
            ssm_state: b.ssm_state.ptr(),
        });
    }
    for group in layers.chunks(MAMBA_DECODE_MAX_LAYERS) {
        let mut p = MambaDecodeLayersParams {
            residual: residual.ptr(),
            xc: scratch.xc.ptr(),
            dbc: scratch.dbc.ptr(),
            y: scratch.y.ptr(),
            acc: scratch.acc.ptr(),
            barrier: scratch.barrier.ptr(),
            state_index: slots.tensor().ptr(),
            state_rows: state_rows as i64,
            layers: group.len() as i32,
            hidden: hidden as i32,
            inner: inner as i32,
            dt_rank: dt_rank as i32,
            d_state: d_state as i32,
            conv_width: width as i32,
            eps,
            dtype: dtype.code(),
            layer: [MambaDecodeLayer::default(); MAMBA_DECODE_MAX_LAYERS],
        };
        p.layer[..group.len()].copy_from_slice(group);
        launch(table, OpId::MambaDecodeLayers, dev, &p, || format!("{} blocks, {dtype} hidden {hidden} inner {inner} dt_rank {dt_rank}", group.len()))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decode_tolerance_floor_and_depth() {
        // One block: the dtype's rtol and rel_l2, a per-element floor of 6 units at 1.0.
        let (bf, f16) = (mamba_decode_tolerance(DType::BF16, 1), mamba_decode_tolerance(DType::F16, 1));
        let (tb, th) = (fk_runtime::compare::Tolerance::for_dtype(DType::BF16), fk_runtime::compare::Tolerance::for_dtype(DType::F16));
        assert_eq!((bf.atol, bf.rtol, bf.max_rel_l2), (6.0 / 128.0, tb.rtol, tb.max_rel_l2));
        assert_eq!((f16.atol, f16.rtol, f16.max_rel_l2), (6.0 / 1024.0, th.rtol, th.max_rel_l2));
        // Four blocks: all of it times 2 * sqrt(4).
        let deep = mamba_decode_tolerance(DType::F16, 4);
        assert_eq!((deep.atol, deep.rtol, deep.max_rel_l2), (4.0 * f16.atol, 4.0 * f16.rtol, 4.0 * f16.max_rel_l2));
    }
}
