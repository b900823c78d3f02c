//! interpolate_pos_embed: a learned position-embedding grid resized to a new patch grid.

use super::{launch, require_float, require_no_overlap, require_same_device, require_same_dtype};
use crate::ffi::InterpolatePosEmbedParams;
use crate::table::{OpId, OpTable};
use fk_runtime::{Error, Result, Tensor};

/// How upstream resizes: HF ViT/SigLIP `interpolate_pos_encoding` → `Bicubic`;
/// SigLIP-2 `resize_positional_embeddings` → `BilinearAntialias`. Values are `FK_INTERP_*`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PosEmbedResize {
    Bicubic = 0,
    BilinearAntialias = 1,
}

/// `out` `[out_h·out_w, channels]` = `input` `[in_h·in_w, channels]` (the position rows of the
/// patches, row-major grid; a leading 1 is accepted on both) resized with `mode`. Both contiguous.
pub fn interpolate_pos_embed(table: &OpTable, input: &Tensor, in_grid: (usize, usize), out: &Tensor, out_grid: (usize, usize), mode: PosEmbedResize) -> Result<()> {
    const OP: &str = "interpolate_pos_embed";
    require_float(OP, "input", input)?;
    require_same_dtype(OP, "out", out, input.dtype())?;
    require_same_device(OP, &[("input", input), ("out", out)])?;
    let ((ih, iw), (oh, ow)) = (in_grid, out_grid);
    let grid_of = |t: &Tensor, h: usize, w: usize| -> Result<usize> {
        let s = t.shape();
        let ok = t.is_contiguous() && t.rank() >= 2 && t.rank() <= 3 && (t.rank() == 2 || s[0] == 1) && s[t.rank() - 2] == h * w && s[t.rank() - 1] > 0;
        if !ok {
            return Err(Error::shape(OP, format!("{t:?} must be contiguous [{}, channels] for a {h}×{w} grid", h * w)));
        }
        Ok(s[t.rank() - 1])
    };
    if [ih, iw, oh, ow].iter().any(|&d| d == 0 || d > i32::MAX as usize) {
        return Err(Error::shape(OP, format!("grids {ih}×{iw} → {oh}×{ow} must be non-empty and below 2^31")));
    }
    let c = grid_of(input, ih, iw)?;
    let oc = grid_of(out, oh, ow)?;
    if oc != c {
        return Err(Error::shape(OP, format!("out {out:?} has {oc} channels, input {input:?} has {c}")));
    }
    require_no_overlap(OP, ("out", out), ("input", input))?;
    let p = InterpolatePosEmbedParams {
        out: out.ptr(),
        input: input.ptr(),
        channels: c as i64,
        in_h: ih as i32,
        in_w: iw as i32,
        out_h: oh as i32,
        out_w: ow as i32,
        mode: mode as i32,
        dtype: input.dtype().code(),
    };
    launch(table, OpId::InterpolatePosEmbed, input.device(), &p, || format!("input {input:?} {ih}×{iw} → out {out:?} {oh}×{ow}, {mode:?}"))
}
