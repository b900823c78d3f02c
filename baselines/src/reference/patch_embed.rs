//! Patch embedding: `nn.Conv2d(C, hidden, kernel_size=p, stride=p)` on NCHW pixels followed
//! by `flatten(2).transpose(1, 2)` (ViT, DINOv3, SigLIP v1), as im2col + one matmul. SigLIP-2
//! naflex takes the patches already flattened and uses an `nn.Linear` (only the matmul).

use fk_runtime::linear::linear_reference;
use fk_runtime::{Error, Result};

/// Image geometry of a patch embedding.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PatchGeometry {
    pub batch: usize,
    pub channels: usize,
    pub height: usize,
    pub width: usize,
    pub patch: usize,
}

impl PatchGeometry {
    /// Patches per image as (rows, columns). A size not divisible by the patch is an error:
    /// a strided conv would silently drop the last pixels, which is never what a caller wants.
    pub fn grid(&self) -> Result<(usize, usize)> {
        let p = self.patch;
        if p == 0 || self.height % p != 0 || self.width % p != 0 || self.height == 0 || self.width == 0 {
            return Err(Error::bad_input(
                "patch_embed",
                format!("image size {}×{} is not a positive multiple of patch_size {p}", self.height, self.width),
            ));
        }
        Ok((self.height / p, self.width / p))
    }
}

/// im2col: `pixels [B, C, H, W]` → `[B, (H/p)·(W/p), C·p·p]`, patches in row-major grid
/// order and each patch's values in the conv weight's `(c, ky, kx)` order.
pub fn im2col_patches(pixels: &[f32], g: &PatchGeometry) -> Result<Vec<f32>> {
    let (gh, gw) = g.grid()?;
    let (c, h, w, p) = (g.channels, g.height, g.width, g.patch);
    if pixels.len() != g.batch * c * h * w {
        return Err(Error::shape("patch_embed", format!("pixels have {} values, expected {}×{c}×{h}×{w}", pixels.len(), g.batch)));
    }
    let mut out = Vec::with_capacity(pixels.len());
    for b in 0..g.batch {
        for py in 0..gh {
            for px in 0..gw {
                for ch in 0..c {
                    for ky in 0..p {
                        let row = ((b * c + ch) * h + py * p + ky) * w + px * p;
                        out.extend_from_slice(&pixels[row..row + p]);
                    }
                }
            }
        }
    }
    Ok(out)
}

/// The conv2d patch embedding: `weight [hidden, C, p, p]`, optional `bias [hidden]`.
/// Returns `[B, (H/p)·(W/p), hidden]` (f64, unrounded).
pub fn patch_embed(pixels: &[f32], g: &PatchGeometry, weight: &[f32], bias: Option<&[f32]>) -> Result<Vec<f64>> {
    let cols = im2col_patches(pixels, g)?;
    let k = g.channels * g.patch * g.patch;
    if k == 0 || weight.len() % k != 0 {
        return Err(Error::shape("patch_embed", format!("weight has {} values, not a multiple of C·p·p = {k}", weight.len())));
    }
    let hidden = weight.len() / k;
    Ok(linear_reference(&cols, cols.len() / k, k, weight, hidden, bias))
}

#[cfg(test)]
mod tests {
    use super::*;
    use fk_runtime::rng::Rng;

    /// Direct convolution, written the naive way, equals im2col + matmul.
    #[test]
    fn equals_direct_strided_convolution() {
        let g = PatchGeometry { batch: 2, channels: 3, height: 8, width: 12, patch: 4 };
        let hidden = 5;
        let mut r = Rng::new(11);
        let x = r.normal_vec(2 * 3 * 8 * 12, 0.0, 1.0);
        let w = r.normal_vec(hidden * 3 * 16, 0.0, 1.0);
        let bias = r.normal_vec(hidden, 0.0, 1.0);
        let out = patch_embed(&x, &g, &w, Some(&bias)).unwrap();
        let (gh, gw) = g.grid().unwrap();
        assert_eq!(out.len(), 2 * gh * gw * hidden);
        for b in 0..2 {
            for oy in 0..gh {
                for ox in 0..gw {
                    for o in 0..hidden {
                        let mut acc = bias[o] as f64;
                        for c in 0..3 {
                            for ky in 0..4 {
                                for kx in 0..4 {
                                    let xv = x[((b * 3 + c) * 8 + oy * 4 + ky) * 12 + ox * 4 + kx] as f64;
                                    acc += xv * w[((o * 3 + c) * 4 + ky) * 4 + kx] as f64;
                                }
                            }
                        }
                        let got = out[((b * gh + oy) * gw + ox) * hidden + o];
                        assert!((got - acc).abs() < 1e-10, "{got} vs {acc}");
                    }
                }
            }
        }
    }

    #[test]
    fn indivisible_size_is_a_named_error() {
        let g = PatchGeometry { batch: 1, channels: 3, height: 30, width: 32, patch: 16 };
        let e = patch_embed(&vec![0.0; 3 * 30 * 32], &g, &[0.0; 3 * 256], None).unwrap_err().to_string();
        assert!(e.contains("30×32") && e.contains("patch_size 16"), "{e}");
    }
}
