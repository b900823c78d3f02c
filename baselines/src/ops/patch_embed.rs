//! Patch embedding (`nn.Conv2d(C, hidden, kernel_size=p, stride=p)` + flatten/transpose, as
//! ViT, DINOv3 and SigLIP run it): the `patch_embed_im2col` op lays the patches out as GEMM
//! rows, then one cuBLASLt GEMM with the conv weight viewed as `[hidden, C·p·p]` does the
//! FLOPs on tensor cores. Two steps rather than one fused conv kernel: the im2col copy is
//! ~C·p·p/hidden of the GEMM's traffic and the GEMM is the library's best, so a fused
//! kernel would have to beat cuBLASLt at its own job to win.

use super::{as_rows, launch, linear, require_float, require_no_overlap, require_same_device, require_same_dtype};
use crate::context::Context;
use crate::ffi::PatchEmbedIm2colParams;
use crate::reference::PatchGeometry;
use crate::table::{OpId, OpTable};
use fk_runtime::linear::Linear;
use fk_runtime::{Error, Result, Tensor};

const OP: &str = "patch_embed";

/// The geometry of NCHW `pixels`, checked: 4-D, contiguous, sides multiples of `patch`.
fn geometry(pixels: &Tensor, patch: usize) -> Result<PatchGeometry> {
    if pixels.rank() != 4 || !pixels.is_contiguous() {
        return Err(Error::shape(OP, format!("pixels {pixels:?} must be contiguous [batch, channels, height, width]")));
    }
    let s = pixels.shape();
    let g = PatchGeometry { batch: s[0], channels: s[1], height: s[2], width: s[3], patch };
    g.grid()?; // names an image size that is not a multiple of the patch
    if g.channels == 0 {
        return Err(Error::shape(OP, format!("pixels {pixels:?} have no channels")));
    }
    Ok(g)
}

/// `out[(b·gh + py)·gw + px, (c·p + ky)·p + kx] = pixels[b, c, py·p + ky, px·p + kx]`:
/// `pixels` `[B, C, H, W]` contiguous, `out` `[B·gh·gw, C·p·p]` (rows may be strided). The two
/// may differ in float dtype: each value is rounded once to `out`'s (f32 pixels as the host
/// holds them → bf16 GEMM rows, with no host-side conversion).
pub fn patch_embed_im2col(table: &OpTable, pixels: &Tensor, patch: usize, out: &Tensor) -> Result<()> {
    require_float(OP, "pixels", pixels)?;
    require_float(OP, "out", out)?;
    require_same_device(OP, &[("pixels", pixels), ("out", out)])?;
    let g = geometry(pixels, patch)?;
    let (gh, gw) = g.grid()?;
    let k = g.channels * patch * patch;
    if out.rank() != 2 {
        return Err(Error::shape(OP, format!("out {out:?} must be 2-D [{}, {k}]", g.batch * gh * gw)));
    }
    let (rows, cols, stride) = as_rows(OP, "out", out)?;
    if (rows, cols) != (g.batch * gh * gw, k) {
        return Err(Error::shape(OP, format!("out {out:?} must be [{}, {k}] for pixels {pixels:?} and patch {patch}", g.batch * gh * gw)));
    }
    if g.channels * g.height * g.width >= 1 << 31 {
        return Err(Error::shape(OP, format!("pixels {pixels:?}: one image must have fewer than 2^31 values")));
    }
    require_no_overlap(OP, ("out", out), ("pixels", pixels))?;
    let p = PatchEmbedIm2colParams {
        out: out.ptr(),
        pixels: pixels.ptr(),
        batch: g.batch as i64,
        channels: g.channels as i64,
        height: g.height as i64,
        width: g.width as i64,
        patch: patch as i64,
        out_stride: stride as i64,
        dtype: out.dtype().code(),
        pixels_dtype: pixels.dtype().code(),
    };
    launch(table, OpId::PatchEmbedIm2col, pixels.device(), &p, || format!("pixels {pixels:?}, patch {patch}, out {out:?}"))
}

/// HF `*PatchEmbeddings.projection`: the conv weight `[hidden, C, p, p]` seen as a linear
/// layer over im2col rows.
pub struct PatchEmbed {
    pub proj: Linear,
    pub channels: usize,
    pub patch: usize,
}

impl PatchEmbed {
    /// `weight` `[hidden, C, p, p]` contiguous (the checkpoint layout), `bias` `[hidden]`.
    pub fn new(weight: &Tensor, bias: Option<Tensor>) -> Result<PatchEmbed> {
        let s = weight.shape();
        if weight.rank() != 4 || s[2] != s[3] || s[2] == 0 || !weight.is_contiguous() {
            return Err(Error::shape(OP, format!("conv weight {weight:?} must be contiguous [hidden, channels, p, p]")));
        }
        let (channels, patch) = (s[1], s[2]);
        let proj = Linear::new(weight.reshape(&[s[0], channels * patch * patch])?, bias)?;
        Ok(PatchEmbed { proj, channels, patch })
    }

    /// `[B·gh·gw, C·p·p]`: the im2col buffer [`Self::forward`] needs for `pixels`.
    pub fn cols_shape(&self, pixels: &Tensor) -> Result<[usize; 2]> {
        let g = geometry(pixels, self.patch)?;
        let (gh, gw) = g.grid()?;
        Ok([g.batch * gh * gw, self.channels * self.patch * self.patch])
    }

    /// `out` `[B·gh·gw, hidden]` = the patch embeddings of `pixels` `[B, C, H, W]` (any float
    /// dtype: f32 as uploaded, or the weight's), through the caller's `cols` buffer of
    /// [`Self::cols_shape`] in the weight's dtype.
    pub fn forward(&self, ctx: &Context, pixels: &Tensor, cols: &Tensor, out: &Tensor) -> Result<()> {
        if pixels.rank() == 4 && pixels.dim(1) != self.channels {
            return Err(Error::shape(OP, format!("pixels {pixels:?} have {} channels, the conv weight {}", pixels.dim(1), self.channels)));
        }
        require_same_dtype(OP, "cols", cols, self.proj.dtype())?;
        patch_embed_im2col(&ctx.ops, pixels, self.patch, cols)?;
        linear(ctx, cols, &self.proj, out)
    }
}
